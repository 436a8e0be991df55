import { z } from 'zod';
import { envInt, type Env } from './env';

const schema = z.object({
  CACHE_TTL_PROJECTS_SECONDS: envInt(60, 0, 86_400),
  CACHE_TTL_ENVIRONMENTS_SECONDS: envInt(60, 0, 86_400),
  CACHE_TTL_PIPELINES_SECONDS: envInt(30, 0, 86_400),
  CACHE_STALE_MAX_AGE_SECONDS: envInt(3_600, 0, 7 * 86_400),
  CACHE_L1_MAX_ENTRIES: envInt(5_000, 0, 1_000_000),
  CACHE_L1_TTL_SECONDS: envInt(5, 0, 3_600),
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
    /** The in-process level keeps entries at most this long, so replicas converge without pub/sub too. */
    l1TtlSeconds: v.CACHE_L1_TTL_SECONDS,
  };
}
export type CacheConfig = ReturnType<typeof cacheConfig>;
