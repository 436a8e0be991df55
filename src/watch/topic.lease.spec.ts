import { Logger } from '@nestjs/common';
import { MemoryWatchStore } from './memory-watch.store';
import { TopicLease } from './topic.lease';

/**
 * When a held lease is renewed: half a lease after it was last extended (taken, renewed or by a fenced
 * write), so a leader that writes at least every half lease sends no renewal at all. Fake clock; the
 * memory store counts the renewals.
 */

const LEASE_MS = 6_000;
const TOPIC = 'exec:p:e';

class CountingStore extends MemoryWatchStore {
  renewals: number[] = [];
  override renewLease(topic: string, owner: string, leaseMs: number): Promise<boolean> {
    this.renewals.push(Date.now());
    return super.renewLease(topic, owner, leaseMs);
  }
}

let lease: TopicLease | undefined;

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
});

afterEach(() => {
  lease?.stop();
  lease = undefined;
  jest.useRealTimers();
});

async function held(store: CountingStore): Promise<{ lease: TopicLease; takenAt: number }> {
  let takenAt = 0;
  const taken = new Promise<void>((resolve) => {
    lease = new TopicLease(
      TOPIC,
      { store, logger: new Logger('TopicLeaseSpec'), owner: 'a', leaseMs: LEASE_MS },
      {
        wanted: () => true,
        beforeAcquire: async () => undefined,
        acquired: async () => {
          takenAt = Date.now();
          resolve();
        },
        lost: () => undefined,
        failed: async () => undefined,
      },
    );
    lease.start();
  });
  await taken;
  return { lease: lease as TopicLease, takenAt };
}

describe('TopicLease renewals', () => {
  it('renews half a lease after it was taken, then every half lease', async () => {
    const store = new CountingStore();
    const { takenAt } = await held(store);
    await jest.advanceTimersByTimeAsync(LEASE_MS / 2 - 1);
    expect(store.renewals).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(store.renewals).toEqual([takenAt + LEASE_MS / 2]);
    await jest.advanceTimersByTimeAsync(LEASE_MS / 2);
    expect(store.renewals).toEqual([takenAt + LEASE_MS / 2, takenAt + LEASE_MS]);
  });

  it('sends no renewal while fenced writes extend the lease at least every half lease', async () => {
    const store = new CountingStore();
    const { lease: holder, takenAt } = await held(store);
    // A write at 2 s and one at 4.5 s (each extended the lease in the store's append).
    await jest.advanceTimersByTimeAsync(2_000);
    holder.extended(Date.now());
    await jest.advanceTimersByTimeAsync(2_500);
    holder.extended(Date.now());
    // The renewal is due half a lease after the last write, and not before.
    await jest.advanceTimersByTimeAsync(LEASE_MS / 2 - 1);
    expect(store.renewals).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(store.renewals).toEqual([takenAt + 4_500 + LEASE_MS / 2]);
  });
});
