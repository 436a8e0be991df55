/**
 * The ports through which other parts feed metrics, so that none of them imports prom-client.
 */

/** One attempt sent to Maia. `status`: the HTTP status, or why there is none. */
export interface UpstreamCallObservation {
  /** A route name such as `listProjects`, `getExecution`, `token` (never a URL). */
  endpoint: string;
  status: number | 'timeout' | 'network_error' | 'aborted';
  durationMs: number;
}

/**
 * What the Maia client reports as it works. Injected with `@Optional() @Inject(UPSTREAM_OBSERVER)`:
 * without the metrics module nothing is recorded.
 */
export interface UpstreamObserver {
  upstreamCall(observation: UpstreamCallObservation): void;
  tokenRefresh(outcome: 'success' | 'failure'): void;
  rateLimitCooldown(): void;
}

export const UPSTREAM_OBSERVER = Symbol('UPSTREAM_OBSERVER');

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
