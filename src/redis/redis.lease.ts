import { randomUUID } from 'node:crypto';
import type { RedisService } from './redis.service';

/**
 * A lease on one key, held by one owner at a time across the fleet: taken only when free (SET NX PX),
 * renewed and released only by its owner (compare-and-expire, compare-and-delete), so a replica whose
 * lease lapsed never renews or releases its successor's. Rejects like any Redis command.
 */
export class RedisLease {
  constructor(
    private readonly redis: RedisService,
    readonly key: string,
    /** What the key holds while this owner has it (any string unique to the owner). */
    readonly owner: string = randomUUID(),
  ) {}

  /** Takes the lease for `ttlMs` when nobody holds it. True when this owner now holds it. */
  acquire(ttlMs: number): Promise<boolean> {
    return this.redis.set(this.key, this.owner, { ttlMs, onlyIfAbsent: true });
  }

  /** Extends the lease to `ttlMs` from now. False when this owner no longer holds it. */
  renew(ttlMs: number): Promise<boolean> {
    return this.redis.expireIfEquals(this.key, this.owner, ttlMs);
  }

  /** Gives the lease up. False when this owner no longer held it (it lapsed, or another owner took it). */
  release(): Promise<boolean> {
    return this.redis.deleteIfEquals(this.key, this.owner);
  }

  /** Whoever holds the lease now, or null. */
  holder(): Promise<string | null> {
    return this.redis.get(this.key);
  }

  /** Renews every `everyMs` (a third of the TTL by default) until the returned function is called. */
  keepRenewed(ttlMs: number, everyMs = Math.max(10, Math.floor(ttlMs / 3))): () => void {
    const timer = setInterval(() => {
      this.renew(ttlMs).catch(() => undefined); // a missed renewal is retried; a lapsed lease is lost
    }, everyMs);
    return () => clearInterval(timer);
  }
}
