import { z } from 'zod';
import { envInt, type Env } from './env';

const schema = z.object({
  CACHE_TTL_PROJECTS_SECONDS: envInt(60, 0, 86_400),
  CACHE_TTL_ENVIRONMENTS_SECONDS: envInt(60, 0, 86_400),
  CACHE_TTL_PIPELINES_SECONDS: envInt(30, 0, 86_400),
  CACHE_STALE_MAX_AGE_SECONDS: envInt(3_600, 0, 7 * 86_400),
  CACHE_L1_MAX_ENTRIES: envInt(5_000, 0, 1_000_000),
  CACHE_L1_TTL_SECONDS: envInt(5, 0, 3_600),
  CACHE_LOCK_TTL_MS: envInt(10_000, 100, 300_000),
  CACHE_LOCK_WAIT_MS: envInt(5_000, 0, 300_000),
  CACHE_LOCK_POLL_MS: envInt(100, 5, 10_000),
  CACHE_HOT_READ_TTL_MS: envInt(1_000, 0, 60_000),
  IDEMPOTENCY_TTL_SECONDS: envInt(86_400, 60, 7 * 86_400),
  IDEMPOTENCY_WAIT_MS: envInt(20_000, 0, 300_000),
  IDEMPOTENCY_PENDING_TTL_MS: envInt(60_000, 1_000, 3_600_000),
  IDEMPOTENCY_L1_MAX_ENTRIES: envInt(10_000, 0, 1_000_000),
  EXECUTION_LAUNCH_TTL_MS: envInt(30 * 86_400_000, 1_000, 366 * 86_400_000),
});

export function cacheConfig(env: Env) {
  const v = schema.parse(env);
  return {
    ttlSeconds: {
      projects: v.CACHE_TTL_PROJECTS_SECONDS,
      environments: v.CACHE_TTL_ENVIRONMENTS_SECONDS,
      pipelines: v.CACHE_TTL_PIPELINES_SECONDS,
    },
    /** How old an entry may be and still be served when Maia fails. */
    staleMaxAgeSeconds: v.CACHE_STALE_MAX_AGE_SECONDS,
    l1MaxEntries: v.CACHE_L1_MAX_ENTRIES,
    /**
     * The in-process level answers from an entry at most this long before asking Redis again, so replicas
     * converge without pub/sub too. (It keeps the entry, within l1MaxEntries, as a last stale copy.)
     */
    l1TtlSeconds: v.CACHE_L1_TTL_SECONDS,
    /** Cross-replica single-flight: one replica loads a key while the others wait for its answer. */
    lock: {
      /** How long a loading replica holds the lock (it is released as soon as the load ends). */
      ttlMs: v.CACHE_LOCK_TTL_MS,
      /** How long another replica waits for that load before loading itself. */
      waitMs: v.CACHE_LOCK_WAIT_MS,
      /** How often a waiting replica looks again when no pub/sub notification arrives. */
      pollMs: v.CACHE_LOCK_POLL_MS,
    },
    /**
     * Whole answers of lookup reads (REST lists, GraphQL queries of projects, environments, pipelines),
     * per caller rights, served again for this long by the HTTP server before Fastify, Nest and Apollo run
     * (src/hot-read); 0 turns it off.
     */
    hotReadTtlMs: v.CACHE_HOT_READ_TTL_MS,
    idempotency: {
      /** How long a finished request is remembered and replayed. */
      ttlSeconds: v.IDEMPOTENCY_TTL_SECONDS,
      /** How long a repeat waits for the first request still in flight before answering CONFLICT. */
      waitMs: v.IDEMPOTENCY_WAIT_MS,
      /** Expiry of the in-flight marker, renewed while the first request runs; frees keys of crashed replicas. */
      pendingTtlMs: v.IDEMPOTENCY_PENDING_TTL_MS,
      /** Finished records also kept in process, so a replica still replays them while Redis is away. */
      l1MaxEntries: v.IDEMPOTENCY_L1_MAX_ENTRIES,
    },
    /**
     * How long the gateway keeps each launch's parameters (for `launch` and re-runs) and which project each
     * execution id it handed out belongs to (for `node(id:)`).
     */
    executionLaunchTtlMs: v.EXECUTION_LAUNCH_TTL_MS,
  };
}
export type CacheConfig = ReturnType<typeof cacheConfig>;
