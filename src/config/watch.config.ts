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
  };
}
export type WatchConfig = ReturnType<typeof watchConfig>;
