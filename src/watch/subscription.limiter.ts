import { ErrorCode, GatewayError } from '../common/errors';
import { type FleetSubscriptionCounts } from './fleet-subscription.counts';
import { type SubscriberIdentity } from './watch.types';

/**
 * Caps open subscriptions per connection and per client with RATE_LIMITED, before any listener, timer or
 * lease exists; counters are deleted at zero. Per replica the check is exact and synchronous. Across the
 * fleet (with Redis) it follows one round trip later, off the subscriber's path: a subscription that took
 * the client over the limit is ended through `onRefused` (two replicas racing for the last slot may both
 * refuse, never both admit). Without Redis, or while it is away, the local limit alone applies.
 */
export class SubscriptionLimiter {
  private readonly perClient = new Map<string, number>();
  private readonly perConnection = new Map<object | string, number>();

  constructor(
    private readonly maxPerConnection: number,
    private readonly maxPerClient: number,
    private readonly fleet: FleetSubscriptionCounts | null = null,
  ) {}

  /**
   * Counts one subscription; returns its release (idempotent). `onRefused` is called (at most once, never
   * after the release) when the fleet turns out to be over the client's limit; the slot is released then.
   */
  acquire(identity: SubscriberIdentity, onRefused?: (error: GatewayError) => void): () => void {
    const { clientKey, connectionKey } = identity;
    if (
      connectionKey !== undefined &&
      (this.perConnection.get(connectionKey) ?? 0) >= this.maxPerConnection
    ) {
      throw new GatewayError(
        ErrorCode.RATE_LIMITED,
        `Too many subscriptions on this connection (at most ${this.maxPerConnection})`,
        { limit: this.maxPerConnection },
      );
    }
    if (clientKey !== undefined && (this.perClient.get(clientKey) ?? 0) >= this.maxPerClient) {
      throw this.clientLimitError();
    }
    if (connectionKey !== undefined) increment(this.perConnection, connectionKey, 1);
    if (clientKey !== undefined) increment(this.perClient, clientKey, 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (connectionKey !== undefined) increment(this.perConnection, connectionKey, -1);
      if (clientKey !== undefined) {
        increment(this.perClient, clientKey, -1);
        this.fleet?.lower(clientKey, this.perClient.get(clientKey) ?? 0);
      }
    };
    if (clientKey !== undefined && this.fleet) {
      void this.fleet.write(clientKey, this.perClient.get(clientKey) ?? 0).then((total) => {
        if (released || total === null || total <= this.maxPerClient) return;
        try {
          onRefused?.(this.clientLimitError());
        } finally {
          release();
        }
      });
    }
    return release;
  }

  /** Open subscriptions counted (for tests and metrics). */
  get size(): number {
    let total = 0;
    for (const n of this.perClient.values()) total += n;
    return total;
  }

  /** Keys with a non-zero count (for leak checks). */
  get trackedKeys(): number {
    return this.perClient.size + this.perConnection.size;
  }

  /** Stops publishing counts and deletes this replica's share from Redis (shutdown). */
  async close(): Promise<void> {
    await this.fleet?.close();
  }

  private clientLimitError(): GatewayError {
    return new GatewayError(
      ErrorCode.RATE_LIMITED,
      `Too many subscriptions for this client (at most ${this.maxPerClient})`,
      { limit: this.maxPerClient },
    );
  }
}

function increment<K>(map: Map<K, number>, key: K, by: number): void {
  const next = (map.get(key) ?? 0) + by;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
