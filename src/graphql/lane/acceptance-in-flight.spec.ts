import { AcceptanceInFlight, type ParkOutcome } from './acceptance-in-flight';

const LIMITS = { perDocument: 3, total: 4, timeoutMs: 1_000 };

/** A parked request's outcomes, in the order they came (exactly one is expected). */
function waiter(): { outcomes: ParkOutcome[]; resume: (outcome: ParkOutcome) => void } {
  const outcomes: ParkOutcome[] = [];
  return { outcomes, resume: (outcome) => outcomes.push(outcome) };
}

describe('AcceptanceInFlight', () => {
  afterEach(() => jest.useRealTimers());

  it('parks nobody while no request of the document is inside Apollo; the first one leads', () => {
    const table = new AcceptanceInFlight(LIMITS);
    const w = waiter();
    expect(table.park('a', w.resume)).toBe(false);
    expect(table.lead('a')).toBeInstanceOf(Function);
    // One leader per document: a second request parks instead of leading.
    expect(table.lead('a')).toBeUndefined();
    expect(table.park('a', w.resume)).toBe(true);
    expect(table.parked).toBe(1);
    expect(w.outcomes).toEqual([]);
  });

  it('resumes the parked requests of that document only, once each, when Apollo registers it', () => {
    const table = new AcceptanceInFlight(LIMITS);
    table.lead('a');
    table.lead('b');
    const [a1, a2, b1] = [waiter(), waiter(), waiter()];
    table.park('a', a1.resume);
    table.park('a', a2.resume);
    table.park('b', b1.resume);
    table.accept('a');
    expect([a1.outcomes, a2.outcomes, b1.outcomes]).toEqual([['accepted'], ['accepted'], []]);
    expect(table.parked).toBe(1);
    expect(table.size).toBe(1);
    // Settled: accepting again, or the leader's end, resumes nobody twice.
    table.accept('a');
    table.release('a');
    expect(a1.outcomes).toEqual(['accepted']);
    expect(table.counts).toEqual({ accepted: 2, released: 0, timeout: 0, abandoned: 0, full: 0 });
  });

  it("releases the parked requests to Fastify when the leader's response ends without registering", () => {
    const table = new AcceptanceInFlight(LIMITS);
    const end = table.lead('a');
    const w = waiter();
    table.park('a', w.resume);
    end?.();
    end?.();
    expect(w.outcomes).toEqual(['released']);
    expect(table.size).toBe(0);
    // The next request of the document leads again.
    expect(table.lead('a')).toBeInstanceOf(Function);
  });

  it('releases them when Apollo lets the request run without registering it (not a query)', () => {
    const table = new AcceptanceInFlight(LIMITS);
    table.lead('a');
    const w = waiter();
    table.park('a', w.resume);
    table.release('a');
    expect(w.outcomes).toEqual(['released']);
    expect(table.counts.released).toBe(1);
    // The flight is over: the document's next request leads again.
    expect(table.lead('a')).toBeInstanceOf(Function);
    // A first request that ended without reaching execution (refused, aborted) teaches nothing.
    const end = table.lead('b');
    end?.();
    expect(table.lead('b')).toBeInstanceOf(Function);
  });

  it("an old leader's end does not settle the flight of a newer leader", () => {
    const table = new AcceptanceInFlight(LIMITS);
    const oldEnd = table.lead('a');
    table.accept('a');
    table.lead('a');
    const w = waiter();
    table.park('a', w.resume);
    oldEnd?.();
    expect(w.outcomes).toEqual([]);
    expect(table.parked).toBe(1);
  });

  it('parks at most perDocument requests behind one document and total overall; the rest are counted full', () => {
    const table = new AcceptanceInFlight(LIMITS);
    table.lead('a');
    table.lead('b');
    const parkedA = [waiter(), waiter(), waiter(), waiter()].map((w) => table.park('a', w.resume));
    expect(parkedA).toEqual([true, true, true, false]);
    const parkedB = [waiter(), waiter()].map((w) => table.park('b', w.resume));
    expect(parkedB).toEqual([true, false]);
    expect(table.parked).toBe(4);
    expect(table.counts.full).toBe(2);
    // Room again once a document settles.
    table.release('a');
    expect(table.park('b', waiter().resume)).toBe(true);
  });

  it('lets every parked request go on after the timeout, and parks none more behind that leader', () => {
    jest.useFakeTimers();
    const table = new AcceptanceInFlight(LIMITS);
    const end = table.lead('a');
    const [w1, w2] = [waiter(), waiter()];
    table.park('a', w1.resume);
    jest.advanceTimersByTime(600);
    table.park('a', w2.resume);
    // Counted from the first parked request.
    jest.advanceTimersByTime(399);
    expect(w1.outcomes).toEqual([]);
    jest.advanceTimersByTime(1);
    expect([w1.outcomes, w2.outcomes]).toEqual([['timeout'], ['timeout']]);
    expect(table.parked).toBe(0);
    expect(table.park('a', waiter().resume)).toBe(false);
    expect(table.lead('a')).toBeUndefined();
    // Its leader's end clears the document: the next request leads.
    end?.();
    expect(table.lead('a')).toBeInstanceOf(Function);
    expect(table.counts).toEqual({ accepted: 0, released: 0, timeout: 2, abandoned: 0, full: 0 });
  });

  it('with perDocument 0 nobody leads or parks, and nothing is counted', () => {
    const table = new AcceptanceInFlight({ ...LIMITS, perDocument: 0 });
    // No flight to lead: the caller adds no close listener.
    expect(table.lead('a')).toBeUndefined();
    expect(table.size).toBe(0);
    for (let i = 0; i < 3; i++) expect(table.park('a', waiter().resume)).toBe(false);
    expect(table.counts).toEqual({ accepted: 0, released: 0, timeout: 0, abandoned: 0, full: 0 });
  });

  it('resumes a request whose client has gone as abandoned, whatever the outcome, and counts it so', () => {
    jest.useFakeTimers();
    const table = new AcceptanceInFlight(LIMITS);
    for (const [key, settle] of [
      ['a', () => table.accept('a')],
      ['b', () => table.release('b')],
      ['c', () => jest.advanceTimersByTime(LIMITS.timeoutMs)],
    ] as const) {
      table.lead(key);
      const [stays, goes] = [waiter(), waiter()];
      let gone = false;
      table.park(key, stays.resume, () => false);
      table.park(key, goes.resume, () => gone);
      gone = true;
      settle();
      expect(goes.outcomes).toEqual(['abandoned']);
      expect(stays.outcomes).toHaveLength(1);
      expect(stays.outcomes[0]).not.toBe('abandoned');
    }
    expect(table.parked).toBe(0);
    expect(table.counts).toEqual({ accepted: 1, released: 1, timeout: 1, abandoned: 3, full: 0 });
  });
});
