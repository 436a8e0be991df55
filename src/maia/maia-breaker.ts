import { type Clock } from './maia-retry';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before one probe may go. */
  openMs: number;
}

/** What an attempt learnt about the upstream. `neutral`: nothing (the caller gave up, a 4xx on input). */
export type BreakerOutcome = 'success' | 'failure' | 'neutral';

/** A permission to send one attempt; report its outcome exactly once. */
export interface BreakerPermit {
  report(outcome: BreakerOutcome): void;
}

/**
 * A circuit breaker for one upstream. Closed: attempts go. After `failureThreshold` consecutive failures
 * (5xx, timeouts, network errors) it opens: attempts are refused at once, without touching the upstream.
 * After `openMs` it lets exactly one probe through (half-open); the probe's success closes it, its failure
 * opens it again for another `openMs`.
 */
export class CircuitBreaker {
  private stateValue: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private openedAtMs = 0;
  private probeInFlight = false;

  constructor(
    private readonly options: BreakerOptions,
    private readonly clock: Clock = Date.now,
    private readonly onTransition: (from: BreakerState, to: BreakerState) => void = () => undefined,
  ) {}

  get state(): BreakerState {
    if (this.stateValue === 'open' && this.clock() - this.openedAtMs >= this.options.openMs) {
      return 'half-open';
    }
    return this.stateValue;
  }

  /** Milliseconds until a probe may go (0 unless open). */
  get retryInMs(): number {
    if (this.stateValue !== 'open') return 0;
    return Math.max(0, this.openedAtMs + this.options.openMs - this.clock());
  }

  /** A permit for one attempt, or null when the breaker refuses it. */
  tryAcquire(): BreakerPermit | null {
    const state = this.state;
    if (state === 'closed') return this.permit(false);
    if (state === 'open' || this.probeInFlight) return null;
    // Half-open: this attempt is the single probe.
    if (this.stateValue !== 'half-open') this.transition('half-open');
    this.probeInFlight = true;
    return this.permit(true);
  }

  /**
   * A permit whatever the state, for the few calls that must go even while the upstream looks down (see
   * `MaiaRequest.passOpenBreaker`). Not a probe: its failure counts without restarting the open period, and
   * its success leaves an open breaker to its single half-open probe (a listing that answers says nothing
   * of whether the calls the breaker guards would: closing on it would let every queued execute POST out
   * at once against a Maia that still times them out). While closed, its success resets the failure count
   * as any success does.
   */
  passThrough(): BreakerPermit {
    let reported = false;
    return {
      report: (outcome) => {
        if (reported) return;
        reported = true;
        if (outcome === 'success' && this.state !== 'closed') return;
        this.record(outcome, false);
      },
    };
  }

  private permit(isProbe: boolean): BreakerPermit {
    let reported = false;
    return {
      report: (outcome) => {
        if (reported) return;
        reported = true;
        this.record(outcome, isProbe);
      },
    };
  }

  private record(outcome: BreakerOutcome, isProbe: boolean): void {
    if (isProbe) this.probeInFlight = false;
    if (outcome === 'success') {
      this.consecutiveFailures = 0;
      if (this.stateValue !== 'closed') this.transition('closed');
      return;
    }
    if (outcome === 'neutral') {
      // A probe that taught nothing: back to open with its original timer, so the next caller probes.
      if (isProbe && this.stateValue === 'half-open') this.stateValue = 'open';
      return;
    }
    this.consecutiveFailures += 1;
    if (
      isProbe ||
      (this.stateValue === 'closed' && this.consecutiveFailures >= this.options.failureThreshold)
    ) {
      this.openedAtMs = this.clock();
      this.transition('open');
    }
  }

  private transition(to: BreakerState): void {
    const from = this.stateValue;
    this.stateValue = to;
    if (from !== to) this.onTransition(from, to);
  }
}
