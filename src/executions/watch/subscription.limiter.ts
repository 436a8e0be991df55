import { ErrorCode, GatewayError } from '../../common/errors';
import { type SubscriberIdentity } from './watch.types';

/**
 * Caps open subscriptions per connection and per client on this replica. A refused subscription fails
 * with RATE_LIMITED before any listener, timer or lease exists. Counters are deleted at zero, so nothing
 * outlives the subscriptions it counts.
 */
export class SubscriptionLimiter {
  private readonly perClient = new Map<string, number>();
  private readonly perConnection = new Map<object | string, number>();

  constructor(
    private readonly maxPerConnection: number,
    private readonly maxPerClient: number,
  ) {}

  /** Counts one subscription; returns its release (idempotent). */
  acquire(identity: SubscriberIdentity): () => void {
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
      throw new GatewayError(
        ErrorCode.RATE_LIMITED,
        `Too many subscriptions for this client (at most ${this.maxPerClient})`,
        { limit: this.maxPerClient },
      );
    }
    if (connectionKey !== undefined) increment(this.perConnection, connectionKey, 1);
    if (clientKey !== undefined) increment(this.perClient, clientKey, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (connectionKey !== undefined) increment(this.perConnection, connectionKey, -1);
      if (clientKey !== undefined) increment(this.perClient, clientKey, -1);
    };
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
}

function increment<K>(map: Map<K, number>, key: K, by: number): void {
  const next = (map.get(key) ?? 0) + by;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
}
