/**
 * Retry policy primitives: full-jitter backoff and a retry budget. Both are pure (clock and randomness are
 * injected), so their specs need no timers.
 */

export type Clock = () => number;
export type Random = () => number;

/**
 * Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the wait before retry number
 * `retry` (0 for the first retry) is uniform in [0, min(maxMs, baseMs * 2^retry)). Spreads synchronised
 * clients apart better than equal or decorrelated jitter.
 */
export function fullJitterDelayMs(
  retry: number,
  baseMs: number,
  maxMs: number,
  random: Random = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * ceiling);
}

export interface RetryBudgetOptions {
  /** Retries may be at most this fraction of calls in the window. */
  ratio: number;
  /** Retries always allowed per window on top of the ratio, so a quiet client can still retry. */
  minRetries: number;
  windowMs: number;
}

/**
 * Bounds retries to `ratio * calls + minRetries` over a sliding window (ten buckets), like Finagle's
 * RetryBudget. During an outage every caller fails after at most one extra attempt per ten calls, instead
 * of multiplying the load on a struggling upstream by the attempt count.
 */
export class RetryBudget {
  private readonly bucketMs: number;
  private readonly buckets: { startMs: number; calls: number; retries: number }[] = [];

  constructor(
    private readonly options: RetryBudgetOptions,
    private readonly clock: Clock = Date.now,
  ) {
    this.bucketMs = Math.max(1, Math.floor(options.windowMs / 10));
  }

  /** Counts a call (its first attempt). */
  recordCall(): void {
    this.current().calls += 1;
  }

  /** Takes one retry from the budget; false when the budget is spent. */
  tryRetry(): boolean {
    const { calls, retries } = this.totals();
    if (retries + 1 > Math.floor(this.options.ratio * calls) + this.options.minRetries) return false;
    this.current().retries += 1;
    return true;
  }

  /** Calls and retries in the current window (for tests and metrics). */
  totals(): { calls: number; retries: number } {
    this.prune();
    let calls = 0;
    let retries = 0;
    for (const bucket of this.buckets) {
      calls += bucket.calls;
      retries += bucket.retries;
    }
    return { calls, retries };
  }

  private current(): { startMs: number; calls: number; retries: number } {
    this.prune();
    const startMs = Math.floor(this.clock() / this.bucketMs) * this.bucketMs;
    const last = this.buckets[this.buckets.length - 1];
    if (last && last.startMs === startMs) return last;
    const bucket = { startMs, calls: 0, retries: 0 };
    this.buckets.push(bucket);
    return bucket;
  }

  private prune(): void {
    const oldestMs = this.clock() - this.options.windowMs;
    while (this.buckets.length > 0 && this.buckets[0].startMs + this.bucketMs <= oldestMs)
      this.buckets.shift();
  }
}
