/**
 * The Maia client's observation port: what it reports as it works. Implemented by the metrics service;
 * the client imports nothing of metrics (data and dependencies point one way).
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
