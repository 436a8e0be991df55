import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { type MaiaStatusSample } from './dependency-status';

/**
 * Maia as readiness sees it: the client's circuit breaker and token state, no upstream call per probe
 * (probes every few seconds from every replica would eat Maia's rate limit). Always `up` for terminus:
 * an open breaker or a failing token endpoint is `state: degraded`, never a failed readiness.
 */
@Injectable()
export class MaiaHealthIndicator {
  private source: (() => MaiaStatusSample) | null = null;

  constructor(private readonly indicators: HealthIndicatorService) {}

  /** Set by the wiring once the Maia client exists. */
  setSource(source: () => MaiaStatusSample): void {
    this.source = source;
  }

  check() {
    const session = this.indicators.check('maia');
    let sample: MaiaStatusSample | null = null;
    try {
      sample = this.source?.() ?? null;
    } catch {
      sample = null;
    }
    if (!sample) return session.up({ state: 'unknown' });
    const degraded =
      sample.breakerState !== 'closed' || sample.tokenFailing === true || sample.cooldownActive === true;
    return session.up({
      state: degraded ? 'degraded' : 'ok',
      breaker: sample.breakerState,
      ...(sample.tokenValid === undefined ? {} : { tokenValid: sample.tokenValid }),
      ...(sample.cooldownActive === undefined ? {} : { rateLimitCooldown: sample.cooldownActive }),
    });
  }
}
