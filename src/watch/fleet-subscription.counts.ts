import { Logger } from '@nestjs/common';
import { RedisScript, type RedisService } from '../redis';

/** How long a replica's count of a client stays valid without being written again (renewed every third). */
export const FLEET_COUNT_TTL_MS = 30_000;

/**
 * One client's hash, `field = replica id`, `value = <count>:<expiresAtMs>`, in one script: write (or, at
 * zero, delete) this replica's field with an expiry of now + TTL, drop the fields that expired (replicas
 * that died without saying goodbye), and return the sum of the live ones. Redis's own clock (`TIME`), so
 * replicas with skewed clocks agree. The key itself expires with its newest field.
 * KEYS[1] the client's hash; ARGV: replica id, count, TTL in ms.
 */
export const FLEET_COUNT_SCRIPT = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local count = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
if count > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], string.format('%d:%d', count, now + ttl))
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local n, expires = string.match(fields[i + 1], '^(%d+):(%d+)$')
  if n and tonumber(expires) > now then
    total = total + tonumber(n)
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if total > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return total
`);

/**
 * This replica's share of each client's open subscriptions, published in Redis so every replica can sum
 * the fleet's. Never throws or waits on a subscriber's path: without Redis `write()` answers null. A
 * heartbeat (a third of the TTL) rewrites the counts, so a live replica's never expire and a crashed one's
 * stop counting one TTL after its last write; `close()` deletes this replica's share.
 */
export class FleetSubscriptionCounts {
  private readonly logger = new Logger('SubscriptionLimiter');
  /** The count last handed to `write()` per client; zeros stay until Redis confirmed the delete. */
  private readonly latest = new Map<string, number>();
  private readonly heartbeat: NodeJS.Timeout;
  /** Clients whose count went down since the last flush (see `lower`). */
  private readonly lowered = new Set<string>();
  private flushScheduled = false;
  private closed = false;

  constructor(
    private readonly redis: RedisService,
    private readonly replicaId: string,
    private readonly ttlMs = FLEET_COUNT_TTL_MS,
  ) {
    this.heartbeat = setInterval(() => this.refresh(), Math.max(1, Math.floor(ttlMs / 3)));
    this.heartbeat.unref();
  }

  /** The client's hash: its own hash tag, so on a Redis Cluster each client's hash is one slot. */
  keyOf(clientKey: string): string {
    return this.redis.taggedKey('watch-subs', `{client:${clientKey}}`);
  }

  /**
   * Records that this replica now holds `count` subscriptions of the client; resolves with the fleet's
   * total (this replica's included), or null when Redis could not be asked. Never rejects.
   */
  async write(clientKey: string, count: number): Promise<number | null> {
    if (this.closed) return null;
    this.latest.set(clientKey, count);
    return this.send(clientKey, count);
  }

  /**
   * Records a lower count (subscriptions ended), written once for all the changes of the current turn of
   * the event loop: when an execution ends, every one of its subscribers is released in the same burst,
   * and a script per subscriber (thousands, for one client) was most of that burst's synchronous work,
   * ahead of the last frames. A lower count refuses nobody, so writing it a moment later is safe; what is
   * written is the client's count at that moment.
   */
  lower(clientKey: string, count: number): void {
    if (this.closed) return;
    this.latest.set(clientKey, count);
    this.lowered.add(clientKey);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const clients = [...this.lowered];
      this.lowered.clear();
      for (const client of clients) {
        const latest = this.latest.get(client);
        if (latest !== undefined && !this.closed) void this.send(client, latest);
      }
    });
  }

  /** Clients whose count is (or may still be) published by this replica (tests, leak checks). */
  get trackedClients(): number {
    return this.latest.size;
  }

  /** Stops the heartbeat and deletes this replica's fields. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    const clients = [...this.latest.keys()];
    this.latest.clear();
    if (!this.redis.enabled || !this.redis.available || clients.length === 0) return;
    await Promise.all(
      clients.map((clientKey) =>
        this.redis.hashDelete(this.keyOf(clientKey), this.replicaId).catch((error: Error) => {
          this.logger.debug(`releasing the subscription count of ${clientKey} failed: ${error.message}`);
        }),
      ),
    );
  }

  /** The heartbeat: every count again (renews the expiry; retries what failed while Redis was away). */
  private refresh(): void {
    if (this.closed || !this.redis.available) return;
    for (const [clientKey, count] of this.latest) void this.send(clientKey, count);
  }

  private async send(clientKey: string, count: number): Promise<number | null> {
    if (!this.redis.enabled || !this.redis.available) return null;
    try {
      const total = await this.redis.runScript(
        FLEET_COUNT_SCRIPT,
        [this.keyOf(clientKey)],
        [this.replicaId, count, this.ttlMs],
      );
      // The delete went through and nothing was counted since: forget the client.
      if (count === 0 && this.latest.get(clientKey) === 0) this.latest.delete(clientKey);
      return Number(total);
    } catch (error) {
      this.logger.debug(`fleet subscription count of ${clientKey} failed: ${(error as Error).message}`);
      return null;
    }
  }
}
