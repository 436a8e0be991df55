import { pollIntervalMs } from './poll-interval';

describe('pollIntervalMs', () => {
  const bounds = { minIntervalMs: 1_000, maxIntervalMs: 15_000 };

  it('polls at the minimum right after a launch, status change or cancel', () => {
    expect(pollIntervalMs({ ...bounds, sinceMs: 0 })).toBe(1_000);
    expect(pollIntervalMs({ ...bounds, sinceMs: 9_000 })).toBe(1_000);
    expect(pollIntervalMs({ ...bounds, sinceMs: -5_000 })).toBe(1_000); // clock skew: a start "in the future"
  });

  it('backs off with the age of the run, up to the maximum', () => {
    expect(pollIntervalMs({ ...bounds, sinceMs: 30_000 })).toBe(3_000);
    expect(pollIntervalMs({ ...bounds, sinceMs: 150_000 })).toBe(15_000);
    expect(pollIntervalMs({ ...bounds, sinceMs: 3_600_000 })).toBe(15_000);
  });

  it('doubles per consecutive upstream error, capped at the maximum', () => {
    expect(pollIntervalMs({ ...bounds, sinceMs: 0, consecutiveErrors: 1 })).toBe(2_000);
    expect(pollIntervalMs({ ...bounds, sinceMs: 0, consecutiveErrors: 3 })).toBe(8_000);
    expect(pollIntervalMs({ ...bounds, sinceMs: 0, consecutiveErrors: 50 })).toBe(15_000);
  });
});
