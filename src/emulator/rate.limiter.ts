/**
 * Fixed one-minute windows per client id. Maia documents 1000 requests/minute per account and a 429 with
 * `Retry-After`; a fixed window is the simplest model that produces both.
 */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

const windowMs = 60_000;

export class RateLimiter {
  private readonly windows = new Map<string, { startMs: number; count: number }>();

  check(clientId: string, limitPerMinute: number, nowMs: number): RateDecision {
    let window = this.windows.get(clientId);
    if (!window || nowMs - window.startMs >= windowMs) {
      window = { startMs: nowMs, count: 0 };
      this.windows.set(clientId, window);
    }
    if (window.count >= limitPerMinute) {
      return {
        allowed: false,
        retryAfterSeconds: Math.max(1, Math.ceil((window.startMs + windowMs - nowMs) / 1000)),
      };
    }
    window.count++;
    return { allowed: true };
  }

  clear(): void {
    this.windows.clear();
  }
}
