import { Logger } from '@nestjs/common';
import { RedisScript } from '../redis/redis.script';
import { type RedisService } from '../redis/redis.service';

const channel = 'maia:rate-cooldown';
/** Sets the key only when that lengthens the current cooldown. */
const EXTEND_COOLDOWN = new RedisScript(
  "local t = redis.call('pttl', KEYS[1]) if t < tonumber(ARGV[1]) then redis.call('set', KEYS[1], '1', 'PX', ARGV[1]) return 1 end return 0",
);

/**
 * The pause after a 429. Maia's limit is per account, so one replica's 429 concerns every replica: with
 * Redis the cooldown is a key (for replicas that start later) and a pub/sub message (for the running
 * ones), so the check before each call reads memory only. Without Redis it lives in this process.
 */
export class RateCooldown {
  private readonly logger = new Logger(RateCooldown.name);
  private untilMs = 0;
  private unsubscribe: (() => Promise<void>) | null = null;
  private readonly key: string;

  constructor(private readonly redis: RedisService) {
    this.key = redis.key('maia', 'rate-cooldown');
  }

  async start(): Promise<void> {
    try {
      this.unsubscribe = await this.redis.subscribe(channel, (message) => {
        const ms = Number(message);
        if (Number.isFinite(ms) && ms > 0) this.extendLocal(ms);
      });
      if (this.redis.available) {
        const ttlMs = await this.redis.remainingTtlMs(this.key);
        if (ttlMs > 0) this.extendLocal(ttlMs);
      }
    } catch {
      this.logger.warn('Could not join the shared Maia rate-limit cooldown; using this replica’s only');
    }
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.().catch(() => undefined);
    this.unsubscribe = null;
  }

  /** Milliseconds left in the cooldown (0 when calls may go). */
  remainingMs(): number {
    return Math.max(0, this.untilMs - Date.now());
  }

  /** Starts (or lengthens) the cooldown here and on every replica. */
  async note(durationMs: number): Promise<void> {
    if (durationMs <= 0) return;
    const lengthened = this.extendLocal(durationMs);
    if (lengthened)
      this.logger.warn(`Maia rate limit reached: pausing calls for ${Math.ceil(durationMs / 1000)} s`);
    try {
      if (this.redis.available) {
        await this.redis.runScript(EXTEND_COOLDOWN, [this.key], [Math.ceil(durationMs)]);
      }
      if (this.redis.enabled) await this.redis.publish(channel, String(Math.ceil(durationMs)));
    } catch {
      // Best effort: this replica still honours it.
    }
  }

  private extendLocal(durationMs: number): boolean {
    const until = Date.now() + durationMs;
    if (until <= this.untilMs) return false;
    this.untilMs = until;
    return true;
  }
}
