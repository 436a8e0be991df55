/** Counters per resource, for metrics. Every answer counts once as hit, staleWhileRevalidate or miss. */
export interface CacheCounters {
  /** Answered from a fresh entry (in-process or Redis). */
  hits: number;
  /** Answered at once from an entry past its TTL while one background refresh ran. */
  staleWhileRevalidate: number;
  /** Had no usable entry and waited for a load (this caller's, a shared one, or another replica's). */
  misses: number;
  /** Misses answered with a stale entry because the load failed (the request is marked stale). */
  stale: number;
  /** Loader calls made by this process, background refreshes included. */
  loads: number;
  /** Loader calls that failed. */
  loadErrors: number;
  /** Misses answered by a load this caller did not start (single-flight in-process or across replicas). */
  loadsSaved: number;
}

export function emptyCounters(): CacheCounters {
  return { hits: 0, staleWhileRevalidate: 0, misses: 0, stale: 0, loads: 0, loadErrors: 0, loadsSaved: 0 };
}
