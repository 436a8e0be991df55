import { fullJitterDelayMs, RetryBudget } from './maia-retry';

describe('full-jitter backoff', () => {
  it('spans [0, base * 2^retry) capped at the maximum', () => {
    expect(fullJitterDelayMs(0, 100, 2000, () => 0)).toBe(0);
    expect(fullJitterDelayMs(0, 100, 2000, () => 0.999)).toBe(99);
    expect(fullJitterDelayMs(1, 100, 2000, () => 0.5)).toBe(100);
    expect(fullJitterDelayMs(3, 100, 2000, () => 0.999)).toBe(799);
    expect(fullJitterDelayMs(10, 100, 2000, () => 0.999)).toBe(1998);
    expect(fullJitterDelayMs(50, 100, 2000, () => 0.999)).toBe(1998);
  });

  it('draws different waits for different random values (jitter, not a fixed schedule)', () => {
    const values = [0.1, 0.4, 0.7].map((r) => fullJitterDelayMs(2, 100, 2000, () => r));
    expect(new Set(values).size).toBe(3);
    for (const v of values) expect(v).toBeLessThan(400);
  });
});

describe('RetryBudget', () => {
  function budget(ratio: number, minRetries: number) {
    let now = 1_000_000;
    const b = new RetryBudget({ ratio, minRetries, windowMs: 10_000 }, () => now);
    return { b, advance: (ms: number) => (now += ms) };
  }

  it('allows at most ratio * calls retries when no reserve is configured', () => {
    const { b } = budget(0.1, 0);
    expect(b.tryRetry()).toBe(false);
    for (let i = 0; i < 100; i++) b.recordCall();
    let granted = 0;
    for (let i = 0; i < 50; i++) if (b.tryRetry()) granted++;
    expect(granted).toBe(10);
  });

  it('adds the fixed reserve on top of the ratio', () => {
    const { b } = budget(0.1, 3);
    b.recordCall();
    let granted = 0;
    for (let i = 0; i < 10; i++) if (b.tryRetry()) granted++;
    expect(granted).toBe(3);
  });

  it('forgets calls and retries older than the window', () => {
    const { b, advance } = budget(0.1, 0);
    for (let i = 0; i < 20; i++) b.recordCall();
    expect(b.tryRetry()).toBe(true);
    expect(b.tryRetry()).toBe(true);
    expect(b.tryRetry()).toBe(false);
    advance(11_000);
    expect(b.totals()).toEqual({ calls: 0, retries: 0 });
    expect(b.tryRetry()).toBe(false);
    for (let i = 0; i < 10; i++) b.recordCall();
    expect(b.tryRetry()).toBe(true);
  });

  it('slides: half of the window still counts after half a window', () => {
    const { b, advance } = budget(0.1, 0);
    for (let i = 0; i < 10; i++) b.recordCall();
    advance(5_000);
    for (let i = 0; i < 10; i++) b.recordCall();
    expect(b.totals().calls).toBe(20);
    advance(6_000);
    expect(b.totals().calls).toBe(10);
  });
});
