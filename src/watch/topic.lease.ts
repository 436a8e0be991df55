import { type Logger } from '@nestjs/common';
import { topicChannelName } from './topic.message';
import { type WatchStore } from './watch.store';
import { type StoredEvent } from './watch.types';

/** What the lease asks of its hub, and tells it. */
export interface LeaseHooks {
  /** Whether this replica should try to take the lease now (it wants the topic polled). */
  wanted(): boolean;
  /** Before trying: catch up with what the channel may have dropped (the topic may have finished). */
  beforeAcquire(): Promise<void>;
  /** The lease is ours, and this was the newest event when it was taken: start polling. */
  acquired(latest: StoredEvent | null): Promise<void>;
  /** A renewal was refused (another replica holds it now): stop polling, release nothing. */
  lost(): void;
  /** A tick failed while holding (Redis away, a poller that could not start): stop and release. */
  failed(): Promise<void>;
}

/**
 * This replica's side of one topic's lease. One timer: while holding, it renews when half the lease has
 * passed since the lease was last extended (taken, renewed, or by a fenced write: a leader that writes
 * at least every half lease never renews); while wanted, it tries to take the lease every third of it.
 * The store fences every write by the owner, so a holder whose lease lapsed (a long pause, a partition)
 * can neither renew, release nor append over its successor.
 */
export class TopicLease {
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private holding = false;
  private stopped = false;
  /** When the lease was last extended (taken, renewed, or by a fenced write), on this replica's clock. */
  private extendedAt = 0;
  /** Leading before the lease was taken: the first fenced write takes it (see `claim`). */
  private claimPending = false;

  constructor(
    private readonly topic: string,
    private readonly deps: { store: WatchStore; logger: Logger; owner: string; leaseMs: number },
    private readonly hooks: LeaseHooks,
  ) {}

  get held(): boolean {
    return this.holding;
  }

  get hasTimer(): boolean {
    return this.timer !== null;
  }

  /** True while leading on a claim that no write has made good yet: the next write must take the lease. */
  get claiming(): boolean {
    return this.holding && this.claimPending;
  }

  /**
   * Leads at once, without taking the lease first: for a run just launched through this replica, whose id
   * nobody else can know yet, the leader's first write takes the lease (`AppendOptions.claim`: only when
   * nobody holds it and the topic has no history) and is refused otherwise, like any fenced write. One
   * round trip less per launch. When no write has taken it within half a lease (the first poll failed),
   * the leader steps down and campaigns as any other. False (nothing done) unless idle.
   */
  claim(): boolean {
    if (this.stopped || this.timer || this.ticking || this.holding) return false;
    this.holding = true;
    this.claimPending = true;
    this.extendedAt = Date.now();
    this.timer = setTimeout(() => void this.tick(), Math.max(1, Math.ceil(this.deps.leaseMs / 2)));
    return true;
  }

  /** Starts ticking (a first tick now) unless it already does. */
  start(): void {
    if (this.stopped || this.timer || this.ticking) return;
    void this.tick();
  }

  /** The holder let go: try now instead of at the next tick. */
  tryNow(): void {
    if (this.stopped || this.holding || this.ticking) return;
    this.clearTimer();
    void this.tick();
  }

  /** Deletes the lease if this replica still holds it; true when it did. */
  async release(): Promise<boolean> {
    if (!this.holding) return false;
    this.holding = false;
    this.claimPending = false;
    return this.deps.store.releaseLease(this.topic, this.deps.owner);
  }

  /**
   * A fenced write just extended the lease (the store's append does): the next renewal is due half a lease
   * after it.
   */
  extended(atMs: number): void {
    if (!this.holding) return;
    this.extendedAt = atMs;
    this.claimPending = false;
  }

  /** Forgets the lease without deleting it (another replica fenced this one out). */
  forfeit(): void {
    this.holding = false;
    this.claimPending = false;
  }

  /** No more ticks; a held lease stays until `release()` or its expiry. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    this.timer = null;
    const { store, owner, leaseMs, logger } = this.deps;
    try {
      if (this.holding) {
        // Renewed when half the lease has passed since its last extension: half the lease is the margin a
        // stalled event loop gets. Extended by a write meanwhile: the renewal waits (see `finally`).
        const startedAt = Date.now();
        if (startedAt - this.extendedAt < leaseMs / 2) return;
        if (this.claimPending) {
          // No write took the lease within half a lease: step down (releasing what a write in flight may
          // have taken) and campaign as every other replica does, reading what is recorded.
          await this.hooks.failed();
          return;
        }
        const renewed = await store.renewLease(this.topic, owner, leaseMs);
        // Let go meanwhile (the final event's write deleted the lease): nothing was lost.
        if (!this.holding) return;
        if (renewed) this.extendedAt = startedAt;
        else {
          logger.warn(`${topicChannelName(this.topic)}: lease lost, stepping down`);
          this.holding = false;
          this.hooks.lost();
        }
      } else if (!this.stopped && this.hooks.wanted()) {
        await this.hooks.beforeAcquire();
        const startedAt = Date.now();
        const taken = this.hooks.wanted()
          ? await store.acquireLeaseReadingLatest(this.topic, owner, leaseMs)
          : null;
        if (taken) {
          this.holding = true;
          this.extendedAt = startedAt;
          if (this.stopped) await this.release();
          else await this.hooks.acquired(taken.latest);
        }
      }
    } catch (error) {
      logger.debug(`${topicChannelName(this.topic)}: lease tick failed: ${(error as Error).message}`);
      if (this.holding) await this.hooks.failed().catch(() => undefined);
    } finally {
      this.ticking = false;
      if (!this.stopped && !this.timer && (this.holding || this.hooks.wanted())) {
        const delayMs = this.holding
          ? this.extendedAt + Math.ceil(leaseMs / 2) - Date.now()
          : Math.floor(leaseMs / 3);
        this.timer = setTimeout(() => void this.tick(), Math.max(1, delayMs));
      }
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
