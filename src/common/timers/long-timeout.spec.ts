import { MAX_TIMER_DELAY_MS, setLongTimeout } from './long-timeout';

describe('setLongTimeout', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('fires a delay past the timer limit when it is due, not after 1 ms', () => {
    const fired = jest.fn();
    const thirtyDaysMs = 30 * 24 * 3_600_000;
    expect(thirtyDaysMs).toBeGreaterThan(MAX_TIMER_DELAY_MS);
    setLongTimeout(fired, thirtyDaysMs);
    jest.advanceTimersByTime(1);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(MAX_TIMER_DELAY_MS); // one full step: still not due
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(thirtyDaysMs - MAX_TIMER_DELAY_MS - 2);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('fires ordinary delays as setTimeout does, and negative or NaN ones at once', () => {
    const order: string[] = [];
    setLongTimeout(() => order.push('250'), 250);
    setLongTimeout(() => order.push('negative'), -5);
    setLongTimeout(() => order.push('nan'), Number.NaN);
    jest.advanceTimersByTime(0);
    expect(order).toEqual(['negative', 'nan']);
    jest.advanceTimersByTime(249);
    expect(order).toEqual(['negative', 'nan']);
    jest.advanceTimersByTime(1);
    expect(order).toEqual(['negative', 'nan', '250']);
  });

  it('is cleared in any step, and Infinity never fires', () => {
    const fired = jest.fn();
    const long = setLongTimeout(fired, 2 * MAX_TIMER_DELAY_MS + 10);
    jest.advanceTimersByTime(MAX_TIMER_DELAY_MS + 5); // into the second step
    long.clear();
    setLongTimeout(fired, Infinity);
    jest.advanceTimersByTime(3 * MAX_TIMER_DELAY_MS);
    expect(fired).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('keeps unref across steps', () => {
    const long = setLongTimeout(() => undefined, 2 * MAX_TIMER_DELAY_MS).unref();
    jest.advanceTimersByTime(MAX_TIMER_DELAY_MS);
    expect(jest.getTimerCount()).toBe(1);
    long.clear();
    expect(jest.getTimerCount()).toBe(0);
  });
});
