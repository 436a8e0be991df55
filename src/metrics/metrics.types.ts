/**
 * The ports through which other parts feed metrics, so that none of them imports prom-client.
 */

// The Maia client's port (UpstreamObserver) lives beside the client: src/maia/maia-observer.ts.

/** The cache's cumulative counters for one resource (projects, environments, ...). */
export interface CacheStatsSample {
  resource: string;
  hits: number;
  misses: number;
  stale: number;
  /** Answered at once from an expired entry while a background refresh ran. */
  staleWhileRevalidate?: number;
  /** Callers that joined a load already in flight instead of starting their own. */
  loadsSaved: number;
}

/** The watcher's gauges on this replica. */
export interface WatchStatsSample {
  /** Open subscriptions by transport, e.g. `{ graphql: 3, sse: 1 }`. */
  subscriptions: Record<string, number>;
  pollers: number;
  leases: number;
}

export interface MaiaStateSample {
  breakerState: 'closed' | 'open' | 'half-open';
  cooldownActive: boolean;
}

/** The hot-read answer cache on this replica. */
export interface ConnectionLimitSample {
  refused: number;
  open(): Promise<number>;
}

export interface HotReadStatsSample {
  hits: number;
  misses: number;
  entries: number;
}

/** The GraphQL query lane on this replica (src/graphql/lane, ADR 0035 and ADR 0043). */
export interface GraphqlLaneStatsSample {
  /** Requests the lane answered itself (parked ones it served included). */
  served: number;
  /**
   * Requests that waited at the lane for their document's first request inside Apollo (ADR 0043), by how
   * the wait ended: `accepted` (Apollo registered the document: on to the lane, which serves it unless its
   * own checks send it to Fastify: a refused admission, variables that do not coerce, a declared read with
   * the whole-answer cache on), `released` (that request ended without registering it: on to Fastify),
   * `timeout` (on to Fastify), `abandoned` (its client went away while it waited: dropped, neither executed
   * nor charged), and `full`: not parked at all, a cap was reached (on to Fastify at once).
   */
  parked: Record<'accepted' | 'released' | 'timeout' | 'abandoned' | 'full', number>;
}
