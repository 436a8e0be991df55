import { Logger } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import type { RedisService } from '../redis';
import { isEnvelope, type CacheEnvelope } from './cache.envelope';
import type { CacheGenerations } from './cache.generations';
import type { EntryRef } from './cache.keys';

/** How long the cache leaves Redis alone after a failed command (see `coordinated`). */
const REDIS_SUSPEND_MS = 1_000;

/**
 * L2: cache-manager over Redis (a Keyv store on the one connection), or over a bounded in-memory store
 * when no Redis is configured. Reads the entry and the current generation together. Never throws: a
 * Redis failure is a miss, and pauses the use of Redis for a moment.
 */
export class CacheSharedTier {
  private readonly logger = new Logger(CacheSharedTier.name);
  private suspendedUntilMs = 0;

  constructor(
    private readonly redis: RedisService,
    private readonly store: Cache,
    private readonly generations: CacheGenerations,
  ) {
    // A fresh connection ends any pause taken after failed commands.
    redis.onReady(() => (this.suspendedUntilMs = 0));
  }

  /**
   * Redis is configured, connected, and did not just fail a command. A dead Redis drops the connection at
   * once; a hung one only times commands out, so after a failure Redis is left alone for a moment instead
   * of making every request wait for its own timeout.
   */
  get coordinated(): boolean {
    return this.redis.available && Date.now() >= this.suspendedUntilMs;
  }

  /** Usable in memory mode, and with Redis only while it is coordinated (fail fast otherwise). */
  get usable(): boolean {
    return !this.redis.enabled || this.coordinated;
  }

  /** Pauses the use of Redis after a failed command. */
  failed(what: string, error: unknown): void {
    this.suspendedUntilMs = Date.now() + REDIS_SUSPEND_MS;
    this.logger.debug(`${what} failed: ${(error as Error).message}`);
  }

  /** The entry and the current generation; `generation` is undefined when Redis failed. */
  async read(ref: EntryRef): Promise<{ envelope?: CacheEnvelope; generation?: string }> {
    try {
      const [found, generation] = await Promise.all([
        this.store.get<unknown>(ref.entryKey),
        this.redis.enabled ? this.generations.current(ref.group) : this.generations.local(ref.group),
      ]);
      return { envelope: isEnvelope(found) ? found : undefined, generation };
    } catch (error) {
      this.failed('Shared cache read', error);
      return {};
    }
  }

  /** The entry if it is of the current generation. */
  async readCurrent(ref: EntryRef): Promise<CacheEnvelope | undefined> {
    const { envelope, generation } = await this.read(ref);
    return envelope && envelope.generation === generation ? envelope : undefined;
  }

  async write(ref: EntryRef, envelope: CacheEnvelope): Promise<void> {
    if (!this.usable) return;
    try {
      await this.store.set(ref.entryKey, envelope, envelope.staleUntilMs - Date.now());
    } catch (error) {
      this.failed('Shared cache write', error);
    }
  }

  async drop(ref: EntryRef): Promise<void> {
    if (!this.usable) return;
    await this.store.del(ref.entryKey).catch(() => undefined);
  }
}
