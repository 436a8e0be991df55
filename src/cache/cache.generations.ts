import { Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import type { RedisService } from '../redis';
import { ALL_GENERATION, type CacheKeys } from './cache.keys';

type GenerationListener = (generations: Record<string, number>) => void;

/** The message every replica receives when generations change. */
interface InvalidationMessage {
  kind: 'invalidated';
  generations: Record<string, number>;
}

/**
 * Generation counters: an entry records the generations it was loaded under, and an invalidation bumps
 * them (INCR in Redis, the truth when configured; memory otherwise), so old entries become misses without
 * any SCAN. Every replica hears of a bump by pub/sub and tells its listeners (L1, the hot-read cache).
 */
export class CacheGenerations {
  private readonly logger = new Logger(CacheGenerations.name);
  /** Last known numbers; Redis holds the truth when configured. */
  private readonly numbers = new Map<string, number>();
  private readonly listeners: GenerationListener[] = [];
  private unsubscribe?: () => Promise<void>;

  constructor(
    private readonly redis: RedisService,
    private readonly keys: CacheKeys,
  ) {}

  async start(): Promise<void> {
    // The provider bounds the wait and re-subscribes after an outage, so an outage never holds up the start.
    this.unsubscribe = await this.redis.subscribe(this.keys.channel(), (message) => this.onMessage(message));
  }

  async stop(): Promise<void> {
    await this.unsubscribe?.().catch(() => undefined);
  }

  /** Called with the changed generations after every bump this replica applies (its own or another's). */
  onChange(listener: GenerationListener): void {
    this.listeners.push(listener);
  }

  /** The generation of `group` as this replica last knew it, without asking Redis. */
  local(group: string): string {
    return `${this.numbers.get(ALL_GENERATION) ?? 0}.${this.numbers.get(group) ?? 0}`;
  }

  /** The generation of `group` as Redis has it now, adopted here. Rejects when Redis fails. */
  async current(group: string): Promise<string> {
    const [all, own] = await this.redis.getMany([
      this.keys.generation(ALL_GENERATION),
      this.keys.generation(group),
    ]);
    // Redis is the truth (it may even have been flushed): adopt what it says.
    this.numbers.set(ALL_GENERATION, Number(all ?? 0));
    this.numbers.set(group, Number(own ?? 0));
    return this.local(group);
  }

  /**
   * Bumps the named generations on every replica. With Redis configured but failing, only this replica
   * is bumped and the call fails with UPSTREAM_UNAVAILABLE, so the caller knows the others were not reached.
   */
  async bump(names: string[]): Promise<void> {
    let generations: Record<string, number>;
    if (this.redis.enabled) {
      try {
        const numbers = await this.redis.incrementAll(names.map((name) => this.keys.generation(name)));
        if (numbers.some((n) => !Number.isFinite(n))) throw new Error('INCR failed');
        generations = Object.fromEntries(names.map((name, i) => [name, numbers[i]]));
      } catch {
        this.apply(this.bumpedLocally(names));
        throw new GatewayError(
          ErrorCode.UPSTREAM_UNAVAILABLE,
          "The shared cache is unavailable: only this replica's cache was cleared",
        );
      }
    } else {
      generations = this.bumpedLocally(names);
    }
    this.apply(generations);
    const message: InvalidationMessage = { kind: 'invalidated', generations };
    await this.redis.publish(this.keys.channel(), JSON.stringify(message)).catch((error: Error) => {
      this.logger.warn(`Invalidation not broadcast (${error.message}); other replicas converge by TTL`);
    });
  }

  private bumpedLocally(names: string[]): Record<string, number> {
    return Object.fromEntries(names.map((name) => [name, (this.numbers.get(name) ?? 0) + 1]));
  }

  /** Adopts newer numbers and tells the listeners. Idempotent: a replica's own messages come back. */
  private apply(generations: Record<string, number>): void {
    for (const [name, value] of Object.entries(generations)) {
      if (Number.isFinite(value) && value > (this.numbers.get(name) ?? 0)) this.numbers.set(name, value);
    }
    for (const listener of this.listeners) listener(generations);
  }

  private onMessage(text: string): void {
    let message: InvalidationMessage;
    try {
      message = JSON.parse(text) as InvalidationMessage;
    } catch {
      return;
    }
    if (message?.kind === 'invalidated' && typeof message.generations === 'object' && message.generations)
      this.apply(message.generations);
  }
}
