import { ErrorCode, GatewayError } from '../common/errors';
import { type FleetSubscriptionCounts } from './fleet-subscription.counts';
import { type SubscriberIdentity } from './watch.types';

/**
 * Caps open subscriptions per connection and per client. A refused subscription fails with RATE_LIMITED
 * before any listener, timer or lease exists. Counters are deleted at zero, so nothing outlives the
 * subscriptions it counts.
 *
 * - Per connection and per client on this replica: exact, checked synchronously by `acquire()`.
 * - Per client across the fleet (with Redis, `fleet`): after a local admission, this replica publishes its
 *   new count of the client and gets the fleet's total back in the same script (one Redis round trip,
 *   off the subscriber's path). Over the limit, the subscription just admitted is ended with the same
 *   RATE_LIMITED error (through `onRefused`) and its slot released. So the fleet-wide limit holds within
 *   one round trip: two replicas admitting the last slot at the same instant may both end their newest (at
 *   worst one refusal too many), but once the scripts ran no client holds more than the limit. A crashed
 *   replica's counts keep counting until they expire (`FLEET_COUNT_TTL_MS`).
 * - Without Redis, or while it is away, or when the script fails, the local limit alone applies (per
 *   replica, as without a fleet): a Redis outage never fails a subscription.
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
        void this.fleet?.write(clientKey, this.perClient.get(clientKey) ?? 0);
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
