/**
 * How a parked request's wait ended (docs/adr/0043-acceptance-in-flight.md). `abandoned`: its client went
 * away while it waited; it is dropped (neither executed nor charged), whatever the document's outcome.
 */
export type ParkOutcome = 'accepted' | 'released' | 'timeout' | 'abandoned';

/** A parked request: how to resume it, and whether its client has gone (its response destroyed). */
interface Waiter {
  resume: (outcome: ParkOutcome) => void;
  gone: () => boolean;
}

/** The bounds of the wait: requests parked per document and overall, and how long they may wait. */
export interface ParkLimits {
  /** Requests parked behind one document's first request at most (0: nobody parks, nobody leads). */
  perDocument: number;
  /** Requests parked overall at most. */
  total: number;
  /** Longest wait, counted from a document's first parked request: then every one of them goes on. */
  timeoutMs: number;
}

interface Flight {
  waiters: Waiter[];
  timer: NodeJS.Timeout | undefined;
  /** False once it timed out: later arrivals for the document go on at once until its leader ends. */
  open: boolean;
}

/**
 * Documents whose first request is inside Apollo now (the lane saw the document unknown and handed the
 * request on, ADR 0043), and the later requests for the same key parked behind it until Apollo registers
 * the document (`accept`: they go on through the lane), or says it will not, or the first request ends
 * without (`release`, `end`: they go to Fastify), or `timeoutMs` passes (they go to Fastify). Each parked
 * request's `resume` is called exactly once. Nothing here decides which documents the lane serves.
 */
export class AcceptanceInFlight {
  private readonly flights = new Map<string, Flight>();
  private parkedNow = 0;
  /** Cumulative outcomes of parked requests, and arrivals refused a place (`full`). */
  readonly counts: Record<ParkOutcome | 'full', number> = {
    accepted: 0,
    released: 0,
    timeout: 0,
    abandoned: 0,
    full: 0,
  };

  constructor(private readonly limits: ParkLimits) {}

  /** Requests parked now. */
  get parked(): number {
    return this.parkedNow;
  }

  /** Documents with a first request inside Apollo now. */
  get size(): number {
    return this.flights.size;
  }

  /**
   * The request leads its document into Apollo when no request of that key is there: the returned `end` is
   * to be called when its response is over (finished or closed), once. Undefined when one is there already,
   * or when nobody parks (`perDocument` 0: nothing to lead).
   */
  lead(key: string): (() => void) | undefined {
    if (this.limits.perDocument === 0 || this.flights.has(key)) return undefined;
    const flight: Flight = { waiters: [], timer: undefined, open: true };
    this.flights.set(key, flight);
    return () => {
      if (this.flights.get(key) === flight) this.settle(key, flight, 'released');
    };
  }

  /**
   * Parks a request behind its document's first request: false (nothing parked) when there is none, it
   * timed out, or a cap is reached (counted as `full`). `gone` is asked when the wait ends: a request whose
   * client has gone is resumed as `abandoned`, to be dropped.
   */
  park(key: string, resume: (outcome: ParkOutcome) => void, gone: () => boolean = () => false): boolean {
    const flight = this.flights.get(key);
    if (flight === undefined || !flight.open) return false;
    if (flight.waiters.length >= this.limits.perDocument || this.parkedNow >= this.limits.total) {
      this.counts.full++;
      return false;
    }
    flight.waiters.push({ resume, gone });
    this.parkedNow++;
    if (flight.timer === undefined) {
      flight.timer = setTimeout(() => this.expire(flight), this.limits.timeoutMs);
      flight.timer.unref();
    }
    return true;
  }

  /** Apollo registered the document: its parked requests go on through the lane. */
  accept(key: string): void {
    const flight = this.flights.get(key);
    if (flight !== undefined) this.settle(key, flight, 'accepted');
  }

  /**
   * Apollo let the document's request run without registering it (since ADR 0044 every POSTed query and
   * mutation it runs is registered, so this is for what the lane does not keep): its parked requests go to
   * Fastify.
   */
  release(key: string): void {
    const flight = this.flights.get(key);
    if (flight !== undefined) this.settle(key, flight, 'released');
  }

  private settle(key: string, flight: Flight, outcome: Exclude<ParkOutcome, 'abandoned'>): void {
    this.flights.delete(key);
    this.resumeAll(flight, outcome);
  }

  /** The wait is over for those parked; the flight stays (closed) until its leader ends. */
  private expire(flight: Flight): void {
    flight.open = false;
    this.resumeAll(flight, 'timeout');
  }

  private resumeAll(flight: Flight, outcome: Exclude<ParkOutcome, 'abandoned'>): void {
    if (flight.timer !== undefined) clearTimeout(flight.timer);
    flight.timer = undefined;
    const waiters = flight.waiters;
    flight.waiters = [];
    this.parkedNow -= waiters.length;
    for (const { resume, gone } of waiters) {
      const ended = gone() ? 'abandoned' : outcome;
      this.counts[ended]++;
      resume(ended);
    }
  }
}
