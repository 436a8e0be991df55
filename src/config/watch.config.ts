import { z } from 'zod';
import { envInt, type Env } from './env';

const schema = z.object({
  WATCH_MIN_INTERVAL_MS: envInt(1_000, 50, 60_000),
  WATCH_MAX_INTERVAL_MS: envInt(15_000, 100, 300_000),
  WATCH_LEASE_MS: envInt(5_000, 200, 120_000),
  WATCH_HISTORY_SIZE: envInt(100, 1, 10_000),
  WATCH_MAX_SUBSCRIPTIONS_PER_CONNECTION: envInt(50, 1, 100_000),
  WATCH_MAX_SUBSCRIPTIONS_PER_CLIENT: envInt(500, 1, 1_000_000),
  WATCH_KEEPALIVE_MS: envInt(15_000, 100, 120_000),
  WATCH_HISTORY_TTL_SECONDS: envInt(3_600, 10, 7 * 24 * 3_600),
  WATCH_START_GRACE_MS: envInt(10_000, 0, 600_000),
  WATCH_DETAILS_EVERY_POLLS: envInt(5, 1, 1_000),
  WATCH_FEED_WINDOW_SECONDS: envInt(86_400, 60, 31 * 86_400),
  WATCH_SSE_RETRY_MS: envInt(3_000, 100, 120_000),
});

export function watchConfig(env: Env) {
  const v = schema.parse(env);
  return {
    minIntervalMs: v.WATCH_MIN_INTERVAL_MS,
    maxIntervalMs: Math.max(v.WATCH_MAX_INTERVAL_MS, v.WATCH_MIN_INTERVAL_MS),
    leaseMs: v.WATCH_LEASE_MS,
    historySize: v.WATCH_HISTORY_SIZE,
    maxSubscriptionsPerConnection: v.WATCH_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    maxSubscriptionsPerClient: v.WATCH_MAX_SUBSCRIPTIONS_PER_CLIENT,
    keepAliveMs: v.WATCH_KEEPALIVE_MS,
    /** How long the latest state and the history of a watched execution stay in Redis after the last write. */
    historyTtlSeconds: v.WATCH_HISTORY_TTL_SECONDS,
    /** An execution started through the gateway is polled this long even before anyone subscribes. */
    startGraceMs: v.WATCH_START_GRACE_MS,
    /** Every Nth poll reads the details instead of the light status, to catch message-only changes. */
    detailsEveryPolls: v.WATCH_DETAILS_EVERY_POLLS,
    /** The project feed polls executions started within this window. */
    feedWindowSeconds: v.WATCH_FEED_WINDOW_SECONDS,
    /** The `retry:` hint sent to SSE clients (how long they wait before reconnecting). */
    sseRetryMs: v.WATCH_SSE_RETRY_MS,
  };
}
export type WatchConfig = ReturnType<typeof watchConfig>;
