/**
 * The adaptive poll interval: a tenth of the time since the last thing that happened (a launch, a status
 * change, a cancel), kept between the configured minimum and maximum. A run watched from its start is
 * polled about every `minIntervalMs` during its first seconds and backs off towards `maxIntervalMs` for
 * long runs; consecutive upstream errors double it (capped at the maximum).
 */
export function pollIntervalMs(options: {
  sinceMs: number;
  minIntervalMs: number;
  maxIntervalMs: number;
  consecutiveErrors?: number;
}): number {
  const { sinceMs, minIntervalMs, maxIntervalMs, consecutiveErrors = 0 } = options;
  const base = Math.min(maxIntervalMs, Math.max(minIntervalMs, Math.max(0, sinceMs) / 10));
  const backoff = base * 2 ** Math.min(consecutiveErrors, 10);
  return Math.round(Math.min(maxIntervalMs, backoff));
}
