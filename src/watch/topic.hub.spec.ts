import { Logger } from '@nestjs/common';
import { loadConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { eventually } from '../../test/support/eventually';
import { MemoryWatchStore } from './memory-watch.store';
import { LeaseLostError, type LeaderContext, type TopicPoller } from './poll.loop';
import { TopicHub, TopicState } from './topic.hub';
import { TopicLease } from './topic.lease';
import { ErrorCode, GatewayError } from '../common/errors';

const originalClaim = TopicLease.prototype.claim;
import { type StoredEvent } from './watch.types';

/**
 * The hub's state machine on one memory store and the in-process pub/sub of a RedisService without Redis:
 * two hubs with their own owners are two replicas of the same topic.
 */

const LEASE_MS = 300;
const logger = new Logger('TopicHubSpec');
const hubs: TopicHub[] = [];

/** A poller that records one event per round until told the topic is done. */
class CountingPoller implements TopicPoller {
  rounds = 0;
  constructor(
    private readonly context: LeaderContext,
    private readonly done: () => boolean,
  ) {}
  async start(): Promise<void> {}
  async poll(): Promise<number | null> {
    this.rounds += 1;
    const kind = this.done() ? 'FINISHED' : 'CHANGED';
    const execution = { status: kind === 'FINISHED' ? 'SUCCESS' : 'RUNNING' } as StoredEvent['execution'];
    await this.context.record({ at: new Date().toISOString(), kind, execution });
    return kind === 'FINISHED' ? null : 20;
  }
  nudge(): number {
    return 1;
  }
}

/** A poller whose first round finds the run gone (Maia answered 404): it fails the topic. */
class NotFoundPoller extends CountingPoller {
  constructor(private readonly failing: LeaderContext) {
    super(failing, () => false);
  }
  override async poll(): Promise<number | null> {
    this.rounds += 1;
    await this.failing.fail(new GatewayError(ErrorCode.NOT_FOUND, 'Pipeline execution not found'));
    return null;
  }
}

/** A poller that, as the execution poller does, takes a refused write for a lost lease. */
class FencedPoller extends CountingPoller {
  constructor(private readonly fenced: LeaderContext) {
    super(fenced, () => false);
  }
  override async poll(): Promise<number | null> {
    this.rounds += 1;
    const execution = { status: 'RUNNING' } as StoredEvent['execution'];
    if (!(await this.fenced.record({ at: new Date().toISOString(), kind: 'CHANGED', execution })))
      throw new LeaseLostError();
    return 20;
  }
}

/** A SNAPSHOT recorded by another owner, which then let go of the lease: history, lease free. */
async function recordedBefore(store: MemoryWatchStore) {
  const options = { historySize: 50, ttlMs: 60_000, leaseMs: LEASE_MS };
  await store.acquireLease('exec:p:e', 'before', LEASE_MS);
  const execution = { status: 'RUNNING' } as StoredEvent['execution'];
  await store.append('exec:p:e', 'before', { at: '', kind: 'SNAPSHOT', execution }, options);
  await store.releaseLease('exec:p:e', 'before');
  return { options, execution };
}

function replicaHub(
  store: MemoryWatchStore,
  redis: RedisService,
  owner: string,
  {
    done = () => false,
    leaseMs = LEASE_MS,
    detached = (fn) => fn(),
    poller = 'counting',
  }: {
    done?: () => boolean;
    leaseMs?: number;
    detached?: <T>(fn: () => T) => T;
    poller?: 'counting' | 'notFound' | 'fenced';
  } = {},
) {
  const pollers: CountingPoller[] = [];
  const hub = new TopicHub(
    'exec:p:e',
    {
      store,
      redis,
      logger,
      leaseMs,
      maxIntervalMs: 100,
      historySize: 50,
      historyTtlMs: 60_000,
      errorTtlMs: 60_000,
      owner,
      detached,
    },
    {
      makePoller: (context) => {
        const made =
          poller === 'notFound'
            ? new NotFoundPoller(context)
            : poller === 'fenced'
              ? new FencedPoller(context)
              : new CountingPoller(context, done);
        pollers.push(made);
        return made;
      },
      isFinal: (event) => event.kind === 'FINISHED',
      onIdle: (idle) => void idle.close(),
    },
  );
  hubs.push(hub);
  const events: StoredEvent[] = [];
  const listener = { onEvent: (event: StoredEvent) => events.push(event), onError: () => undefined };
  return { hub, pollers, events, listener };
}

let redis: RedisService;
beforeAll(() => Logger.overrideLogger(false));
beforeEach(() => {
  redis = new RedisService(loadConfig({ LOG_LEVEL: 'silent' }));
});
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

describe('TopicHub', () => {
  it('listens until activated, then exactly one of two replicas leads', async () => {
    const store = new MemoryWatchStore();
    const a = replicaHub(store, redis, 'a');
    const b = replicaHub(store, redis, 'b');
    a.hub.add(a.listener);
    b.hub.add(b.listener);
    expect(a.hub.state).toBe(TopicState.Listening);

    a.hub.activate();
    await eventually(() => a.hub.state === TopicState.Leading);
    b.hub.activate();
    await eventually(() => b.events.length >= 2);
    expect(b.hub.state).toBe(TopicState.Campaigning);
    // Both replicas' listeners get the same events, in order, each once.
    expect(b.events.map((e) => e.sequence)).toEqual(
      a.events.slice(0, b.events.length).map((e) => e.sequence),
    );
  });

  it('hands over at once when the leader closes, and the successor continues the sequence', async () => {
    const store = new MemoryWatchStore();
    // A long lease: a takeover well inside it can only come from the release.
    const a = replicaHub(store, redis, 'a', { leaseMs: 10_000 });
    const b = replicaHub(store, redis, 'b', { leaseMs: 10_000 });
    for (const { hub, listener } of [a, b]) {
      hub.add(listener);
      hub.activate();
    }
    await eventually(() => a.hub.state === TopicState.Leading || b.hub.state === TopicState.Leading);
    const [leader, follower] = a.hub.state === TopicState.Leading ? [a, b] : [b, a];
    await eventually(() => follower.events.length >= 1);
    const closedAt = Date.now();
    await leader.hub.close();
    expect(leader.hub.state).toBe(TopicState.Closed);
    await eventually(() => follower.hub.state === TopicState.Leading);
    expect(Date.now() - closedAt).toBeLessThan(2_000); // released, not expired
    const seenBefore = follower.events.length;
    await eventually(() => follower.events.length > seenBefore);
    const sequences = follower.events.map((e) => e.sequence);
    expect(sequences).toEqual([...new Set(sequences)].sort((x, y) => x - y));
  });

  it('steps down without releasing when its lease was taken over, and campaigns again', async () => {
    const store = new MemoryWatchStore();
    const a = replicaHub(store, redis, 'a');
    a.hub.add(a.listener);
    a.hub.activate();
    await eventually(() => a.hub.state === TopicState.Leading);
    // Another owner holds the lease now (A paused past its lease): A's renewal or fenced write is refused.
    await store.releaseLease('exec:p:e', 'a');
    await store.acquireLease('exec:p:e', 'intruder', 10 * LEASE_MS);
    await eventually(() => a.hub.state === TopicState.Campaigning);
    expect(await store.releaseLease('exec:p:e', 'intruder')).toBe(true); // A released nothing
    await eventually(() => a.hub.state === TopicState.Leading);
  });

  it('a run launched here leads at once: its first event takes the lease, with no acquisition before it', async () => {
    const store = new MemoryWatchStore();
    const acquire = jest.spyOn(store, 'acquireLeaseReadingLatest');
    const a = replicaHub(store, redis, 'a');
    a.hub.pin(60_000, { launched: true });
    expect(a.hub.state).toBe(TopicState.Leading);
    await eventually(() => a.pollers[0]?.rounds >= 2);
    expect(acquire).not.toHaveBeenCalled();
    // The lease is a's now: another owner cannot take it.
    expect(await store.acquireLease('exec:p:e', 'other', LEASE_MS)).toBe(false);
    expect((await store.history('exec:p:e')).length).toBeGreaterThanOrEqual(2);
  });

  it('a launched pin arms its lease and starts its poller outside the caller context (detached)', async () => {
    let inside = false;
    const detached = <T>(fn: () => T): T => {
      inside = true;
      try {
        return fn();
      } finally {
        inside = false;
      }
    };
    const armed: boolean[] = [];
    const claim = jest.spyOn(TopicLease.prototype, 'claim').mockImplementation(function (this: TopicLease) {
      armed.push(inside);
      return originalClaim.call(this);
    });
    const a = replicaHub(new MemoryWatchStore(), redis, 'a', { detached });
    a.hub.pin(60_000, { launched: true });
    claim.mockRestore();
    expect(armed).toEqual([true]);
    await eventually(() => a.hub.state === TopicState.Leading && a.pollers.length === 1);
  });

  it('a launched run whose lease another owner holds: its write is refused, it campaigns and records nothing', async () => {
    const store = new MemoryWatchStore();
    await store.acquireLease('exec:p:e', 'intruder', 10 * LEASE_MS);
    const a = replicaHub(store, redis, 'a');
    a.hub.pin(60_000, { launched: true });
    // (This poller ignores refused writes: the claim no write made good ends after half a lease.)
    await eventually(() => a.pollers[0]?.rounds >= 1 && a.hub.state === TopicState.Campaigning);
    expect(await store.history('exec:p:e')).toEqual([]);
    // Once the holder lets go, the pinned hub leads as any campaigner does.
    await store.releaseLease('exec:p:e', 'intruder');
    await eventually(() => a.hub.state === TopicState.Leading);
    await eventually(async () => (await store.history('exec:p:e')).length >= 1);
  });

  it('a launched run with history already recorded (lease free): the claim is refused, nothing is written over it', async () => {
    const store = new MemoryWatchStore();
    const { options, execution } = await recordedBefore(store);
    expect(
      await store.append(
        'exec:p:e',
        'a',
        { at: '', kind: 'STARTED', execution },
        { ...options, claim: true },
      ),
    ).toBeNull();
    expect((await store.history('exec:p:e')).map((e) => e.kind)).toEqual(['SNAPSHOT']);
  });

  it("a launched run found gone while another owner holds the lease: no error marker, the holder's subscribers are not ended", async () => {
    const store = new MemoryWatchStore();
    await store.acquireLease('exec:p:e', 'intruder', 10 * LEASE_MS);
    const a = replicaHub(store, redis, 'a', { poller: 'notFound' });
    a.hub.pin(60_000, { launched: true });
    await eventually(() => a.pollers[0]?.rounds >= 1 && a.hub.state === TopicState.Campaigning);
    expect(await store.getState('exec:p:e', 'error')).toBeNull();
  });

  it('a launched run found gone with the lease free: the lease is taken, then the error is recorded', async () => {
    const store = new MemoryWatchStore();
    const a = replicaHub(store, redis, 'a', { poller: 'notFound' });
    a.hub.pin(60_000, { launched: true });
    await eventually(async () => (await store.getState('exec:p:e', 'error')) !== null);
    expect(JSON.parse((await store.getState('exec:p:e', 'error')) as string)).toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('a refused claim (history recorded, lease free) campaigns at once, not half a lease later', async () => {
    const store = new MemoryWatchStore();
    await recordedBefore(store);
    // Half of this lease is 60 s: only a campaign started on the refusal leads within the wait.
    const a = replicaHub(store, redis, 'a', { leaseMs: 120_000, poller: 'fenced' });
    a.hub.pin(60_000, { launched: true });
    await eventually(() => a.pollers.length === 2 && a.hub.state === TopicState.Leading);
    await eventually(async () => (await store.history('exec:p:e')).length >= 2);
  });

  it('finishes on the final event: releases the lease, stops polling, and goes when idle', async () => {
    const store = new MemoryWatchStore();
    let finished = false;
    const a = replicaHub(store, redis, 'a', { done: () => finished });
    a.hub.add(a.listener);
    a.hub.activate();
    await eventually(() => a.events.length >= 1);
    finished = true;
    await eventually(() => a.events.at(-1)?.kind === 'FINISHED');
    await eventually(() => a.hub.state === TopicState.Finished);
    expect(await store.acquireLease('exec:p:e', 'next', LEASE_MS)).toBe(true); // released
    const rounds = a.pollers[0].rounds;
    expect(a.hub.timerCount).toBe(0);
    a.hub.activate(); // no way back from Finished
    expect(a.hub.state).toBe(TopicState.Finished);
    a.hub.remove(a.listener);
    await eventually(() => a.hub.state === TopicState.Closed);
    expect(a.pollers[0].rounds).toBe(rounds);
  });
});
