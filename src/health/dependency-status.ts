/**
 * How a dependency looks to readiness. `ok`: answering. `degraded`: failing or slow right now, which is
 * reported but never fails readiness (a Redis or Maia blip must not take every replica out of rotation
 * at once; the gateway degrades to memory and stale answers instead). `disabled`: not configured.
 */
export type DependencyState = 'ok' | 'degraded' | 'disabled' | 'unknown';

/** The Maia client's view of Maia, with no call made for the probe. */
export interface MaiaStatusSample {
  breakerState: 'closed' | 'open' | 'half-open';
  /** Whether a valid access token is held right now (no token yet is normal before the first call). */
  tokenValid?: boolean;
  /** Whether the last token fetch failed. */
  tokenFailing?: boolean;
  cooldownActive?: boolean;
}
