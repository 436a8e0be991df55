import { CircuitBreaker, type BreakerState } from './maia-breaker';

function breaker(threshold = 3, openMs = 1000) {
  let now = 0;
  const transitions: string[] = [];
  const b = new CircuitBreaker(
    { failureThreshold: threshold, openMs },
    () => now,
    (from: BreakerState, to: BreakerState) => transitions.push(`${from}->${to}`),
  );
  return { b, transitions, advance: (ms: number) => (now += ms) };
}

function fail(b: CircuitBreaker, times: number): void {
  for (let i = 0; i < times; i++) {
    const permit = b.tryAcquire();
    if (!permit) throw new Error('refused');
    permit.report('failure');
  }
}

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive failures and then refuses at once', () => {
    const { b, transitions } = breaker(3);
    fail(b, 2);
    expect(b.state).toBe('closed');
    fail(b, 1);
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBeNull();
    expect(transitions).toEqual(['closed->open']);
  });

  it('counts consecutive failures only: a success in between resets the count', () => {
    const { b } = breaker(3);
    fail(b, 2);
    b.tryAcquire()?.report('success');
    fail(b, 2);
    expect(b.state).toBe('closed');
  });

  it('lets exactly one probe through after openMs; its success closes the breaker', () => {
    const { b, advance, transitions } = breaker(2, 1000);
    fail(b, 2);
    advance(999);
    expect(b.tryAcquire()).toBeNull();
    expect(b.retryInMs).toBe(1);
    advance(1);
    expect(b.state).toBe('half-open');
    const probe = b.tryAcquire();
    expect(probe).not.toBeNull();
    expect(b.tryAcquire()).toBeNull(); // a second caller during the probe fails fast
    probe?.report('success');
    expect(b.state).toBe('closed');
    expect(b.tryAcquire()).not.toBeNull();
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('reopens for another openMs when the probe fails', () => {
    const { b, advance } = breaker(2, 1000);
    fail(b, 2);
    advance(1000);
    b.tryAcquire()?.report('failure');
    expect(b.state).toBe('open');
    advance(500);
    expect(b.tryAcquire()).toBeNull();
    advance(500);
    expect(b.tryAcquire()).not.toBeNull();
  });

  it('frees the probe slot when the probe taught nothing (caller gave up)', () => {
    const { b, advance } = breaker(1, 1000);
    fail(b, 1);
    advance(1000);
    b.tryAcquire()?.report('neutral');
    const next = b.tryAcquire();
    expect(next).not.toBeNull();
    next?.report('success');
    expect(b.state).toBe('closed');
  });

  it('passThrough: a permit while open; a failure keeps the open period, a success does not close it', () => {
    const { b, transitions, advance } = breaker(3, 1000);
    fail(b, 3);
    advance(600);
    b.passThrough().report('failure');
    expect(b.state).toBe('open');
    expect(b.retryInMs).toBe(400);
    // A listing answered: the breaker stays open, and only its single probe may close it.
    b.passThrough().report('success');
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBeNull();
    advance(400);
    const probe = b.tryAcquire();
    expect(probe).not.toBeNull();
    expect(b.tryAcquire()).toBeNull();
    probe?.report('success');
    expect(b.state).toBe('closed');
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('passThrough while closed: its success resets the failure count as any success does', () => {
    const { b } = breaker(3, 1000);
    fail(b, 2);
    b.passThrough().report('success');
    fail(b, 2);
    expect(b.state).toBe('closed');
  });

  it('ignores a second report of the same permit', () => {
    const { b } = breaker(2);
    const permit = b.tryAcquire();
    permit?.report('failure');
    permit?.report('failure');
    expect(b.state).toBe('closed');
  });
});
