import { Logger } from '@nestjs/common';
import { RedisLease } from './redis.lease';
import type { RedisService } from './redis.service';
import { WakeUpRegistry } from './wake-up.registry';

/** What a flight needs: its lock, its bounds, where its answer is found, and the work that makes it. */
export interface FlightPlan<T> {
  /** The lock's key; it also names the flight in wake-up messages. */
  lockKey: string;
  /** How long the lock outlives a holder that died. */
  lockTtlMs: number;
  /** How long to wait for another holder before answering `busy` (0: do not wait). */
  waitMs: number;
  /** Longest pause between two looks when no wake-up arrives: what a lost message costs. */
  pollMs: number;
  /** What the lock holds while this caller has it (default: a random token). */
  lockValue?: string;
  /** Renew the lock while the work runs, for work that may outlast `lockTtlMs`. */
  keepRenewed?: boolean;
  /**
   * The answer another caller left, if any: asked after taking the lock and after each wake-up or poll.
   * It may throw to end the flight (e.g. a fingerprint mismatch); the error reaches the caller.
   */
  lookup(): Promise<T | undefined>;
  /** The work, done under the lock. It leaves its answer where `lookup` finds it before returning. */
  work(): Promise<T>;
  /** What to tell the waiters when the work fails (they get `failed`); by default they look again. */
  failureOf?(error: unknown): string | undefined;
}

export type FlightOutcome<T> =
  /** This caller held the lock and did the work. */
  | { kind: 'worked'; value: T }
  /** Another caller's work answered. */
  | { kind: 'found'; value: T }
  /** The holder's work failed and it told the waiters why (`failureOf`). */
  | { kind: 'failed'; failure: string }
  /** Another caller still holds the lock after `waitMs`. */
  | { kind: 'busy' }
  /** Redis could not be asked for the lock: nothing is coordinated, the caller decides alone. */
  | { kind: 'unavailable'; error: Error };

interface FlightNews {
  lockKey: string;
  failure?: string;
}

/**
 * "Do this once across the fleet": one caller takes the lock (a `RedisLease`) and does the work; the
 * others wait for its answer, woken by a message on this lock's channel when the holder finishes, and
 * looking again every `pollMs` in case the message is lost. A lock released without an answer is taken
 * by the next waiter. In-process sharing of one flight among concurrent callers stays with the caller.
 */
export class SingleFlightLock {
  private readonly logger = new Logger(SingleFlightLock.name);
  private readonly wakeUps = new WakeUpRegistry<FlightNews>();
  private unsubscribe?: () => Promise<void>;

  /** @param channel the wake-up channel, one per kind of flight (e.g. `v1:cache:flights`) */
  constructor(
    private readonly redis: RedisService,
    private readonly channel: string,
  ) {}

  /** Listens for wake-ups. Without it waiters only poll. */
  async start(): Promise<void> {
    this.unsubscribe ??= await this.redis.subscribe(this.channel, (message) => this.onMessage(message));
  }

  async stop(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.().catch(() => undefined);
  }

  /** Runs the plan: see `FlightOutcome` for what comes back. The work's own error is rethrown. */
  async run<T>(plan: FlightPlan<T>): Promise<FlightOutcome<T>> {
    const deadlineMs = Date.now() + plan.waitMs;
    const lease = new RedisLease(this.redis, plan.lockKey, plan.lockValue);
    for (;;) {
      let acquired: boolean;
      try {
        acquired = await lease.acquire(plan.lockTtlMs);
      } catch (error) {
        return { kind: 'unavailable', error: error as Error };
      }
      if (acquired) return this.workUnder(lease, plan);
      const found = await plan.lookup();
      if (found !== undefined) return { kind: 'found', value: found };
      const leftMs = deadlineMs - Date.now();
      if (leftMs <= 0) return { kind: 'busy' };
      const news = await this.wakeUps.next(plan.lockKey, Math.min(plan.pollMs, leftMs));
      if (news?.failure !== undefined) return { kind: 'failed', failure: news.failure };
    }
  }

  /** Wakes the waiters of `lockKey` on every replica, e.g. after work done without the lock. */
  async announce(lockKey: string, failure?: string): Promise<void> {
    const news: FlightNews = failure === undefined ? { lockKey } : { lockKey, failure };
    await this.redis.publish(this.channel, JSON.stringify(news)).catch((error: Error) => {
      this.logger.debug(`Wake-up of ${lockKey} not sent (${error.message}); waiters poll`);
    });
  }

  /** How many callers of this process wait for another holder (for tests). */
  get waiting(): number {
    return this.wakeUps.size;
  }

  private async workUnder<T>(lease: RedisLease, plan: FlightPlan<T>): Promise<FlightOutcome<T>> {
    const stopRenewing = plan.keepRenewed ? lease.keepRenewed(plan.lockTtlMs) : undefined;
    let worked = false;
    let failure: string | undefined;
    try {
      // Another holder may have left its answer between the caller's look and this lock.
      const found = await plan.lookup();
      if (found !== undefined) return { kind: 'found', value: found };
      worked = true;
      return { kind: 'worked', value: await plan.work() };
    } catch (error) {
      if (worked) failure = plan.failureOf?.(error);
      throw error;
    } finally {
      stopRenewing?.();
      await lease.release().catch(() => undefined); // otherwise it lapses after lockTtlMs
      if (worked) await this.announce(plan.lockKey, failure);
    }
  }

  private onMessage(message: string): void {
    let news: FlightNews;
    try {
      news = JSON.parse(message) as FlightNews;
    } catch {
      return;
    }
    if (typeof news?.lockKey === 'string') this.wakeUps.wake(news.lockKey, news);
  }
}
