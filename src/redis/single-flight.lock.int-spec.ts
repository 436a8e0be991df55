import { randomUUID } from 'node:crypto';
import { eventually, holdsFor } from '../../test/support/eventually';
import { loadConfig } from '../config';
import { RedisLease } from './redis.lease';
import { RedisService } from './redis.service';
import { SingleFlightLock, type FlightPlan } from './single-flight.lock';

/** A promise the test opens by hand. */
function latch(): { gate: Promise<void>; open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return { gate, open };
}

describe('SingleFlightLock across two replicas', () => {
  const prefix = `test:${randomUUID()}:`;
  const replica = () =>
    new RedisService(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: prefix }));
  let a: RedisService;
  let b: RedisService;
  let flightsA: SingleFlightLock;
  let flightsB: SingleFlightLock;
  let lockKey: string;
  let answerKey: string;

  beforeAll(async () => {
    [a, b] = [replica(), replica()];
    await Promise.all([a.onModuleInit(), b.onModuleInit()]);
    [flightsA, flightsB] = [new SingleFlightLock(a, 'flights'), new SingleFlightLock(b, 'flights')];
    await Promise.all([flightsA.start(), flightsB.start()]);
  });
  beforeEach(() => {
    const id = randomUUID();
    [lockKey, answerKey] = [a.key('flight', id, 'lock'), a.key('flight', id, 'answer')];
  });
  afterEach(() => a.delete(lockKey, answerKey));
  afterAll(async () => {
    await Promise.all([flightsA.stop(), flightsB.stop()]);
    await Promise.all([a.onApplicationShutdown(), b.onApplicationShutdown()]);
  });

  /** A plan whose answer lives at answerKey; `work` is the test's. */
  const plan = (
    redis: RedisService,
    work: () => Promise<string>,
    overrides: Partial<FlightPlan<string>> = {},
  ): FlightPlan<string> => ({
    lockKey,
    lockTtlMs: 10_000,
    waitMs: 30_000,
    pollMs: 30_000, // far beyond any wait here: an answer that arrives fast came by pub/sub
    lookup: async () => (await redis.get(answerKey)) ?? undefined,
    work,
    ...overrides,
  });

  it('does the work once for 20 concurrent callers on two replicas; the waiters are woken by pub/sub', async () => {
    let works = 0;
    const { gate, open } = latch();
    const work = (redis: RedisService) => async () => {
      works++;
      await gate;
      await redis.set(answerKey, 'the answer');
      return 'the answer';
    };
    const runs = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? flightsA.run(plan(a, work(a))) : flightsB.run(plan(b, work(b))),
    );
    await eventually(() => expect(flightsA.waiting + flightsB.waiting).toBe(19));
    const openedAtMs = Date.now();
    open();
    const outcomes = await Promise.all(runs);
    expect(Date.now() - openedAtMs).toBeLessThan(5_000); // not the 30 s poll
    expect(works).toBe(1);
    expect(outcomes.filter((o) => o.kind === 'worked')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'found')).toHaveLength(19);
    expect(new Set(outcomes.map((o) => ('value' in o ? o.value : o.kind)))).toEqual(new Set(['the answer']));
    expect(await a.exists(lockKey)).toBe(false);
  });

  it('finds the answer by its fallback poll when the wake-up message is lost', async () => {
    const deaf = new SingleFlightLock(a, 'another-channel'); // its wake-up reaches nobody
    const { gate, open } = latch();
    const holder = deaf.run(
      plan(a, async () => {
        await gate;
        await a.set(answerKey, 'late');
        return 'late';
      }),
    );
    await eventually(async () => expect(await a.exists(lockKey)).toBe(true));
    const waiter = flightsB.run(plan(b, () => Promise.reject(new Error('must not run')), { pollMs: 50 }));
    await eventually(() => expect(flightsB.waiting).toBe(1));
    open();
    expect(await holder).toEqual({ kind: 'worked', value: 'late' });
    expect(await waiter).toEqual({ kind: 'found', value: 'late' });
  });

  it('hands the work to a waiter when the holder fails without an answer', async () => {
    const { gate, open } = latch();
    const holder = flightsA.run(
      plan(a, async () => {
        await gate;
        throw new Error('upstream down');
      }),
    );
    await eventually(async () => expect(await a.exists(lockKey)).toBe(true));
    const waiter = flightsB.run(
      plan(b, async () => {
        await b.set(answerKey, 'second try');
        return 'second try';
      }),
    );
    await eventually(() => expect(flightsB.waiting).toBe(1));
    open();
    await expect(holder).rejects.toThrow('upstream down');
    expect(await waiter).toEqual({ kind: 'worked', value: 'second try' });
  });

  it("tells the waiters the holder's failure when the plan names it", async () => {
    const { gate, open } = latch();
    const failing = plan(
      a,
      async () => {
        await gate;
        throw new Error('refused');
      },
      { failureOf: (error) => (error as Error).message },
    );
    const holder = flightsA.run(failing);
    await eventually(async () => expect(await a.exists(lockKey)).toBe(true));
    const waiter = flightsB.run(plan(b, () => Promise.reject(new Error('must not run'))));
    await eventually(() => expect(flightsB.waiting).toBe(1));
    open();
    await expect(holder).rejects.toThrow('refused');
    expect(await waiter).toEqual({ kind: 'failed', failure: 'refused' });
  });

  it('answers busy while another holds the lock past the wait, at once for a wait of 0', async () => {
    await new RedisLease(a, lockKey, 'someone else').acquire(10_000);
    const never = () => Promise.reject(new Error('must not run'));
    expect(await flightsB.run(plan(b, never, { waitMs: 0 }))).toEqual({ kind: 'busy' });
    expect(await flightsB.run(plan(b, never, { waitMs: 100, pollMs: 20 }))).toEqual({ kind: 'busy' });
    expect(await a.get(lockKey)).toBe('someone else');
  });

  it('keeps the lock while the work outlasts its TTL when asked to renew it', async () => {
    let works = 0;
    const { gate, open } = latch();
    const long = (redis: RedisService) =>
      plan(
        redis,
        async () => {
          works++;
          await gate;
          await redis.set(answerKey, 'slow');
          return 'slow';
        },
        { lockTtlMs: 500, pollMs: 20, keepRenewed: true },
      );
    const holder = flightsA.run(long(a));
    await eventually(() => expect(works).toBe(1));
    const waiter = flightsB.run(long(b));
    await holdsFor(() => expect(works).toBe(1), 1_500); // three TTLs: the lock never lapsed
    open();
    expect(await holder).toEqual({ kind: 'worked', value: 'slow' });
    expect(await waiter).toEqual({ kind: 'found', value: 'slow' });
  });
});

describe('SingleFlightLock without Redis', () => {
  it('answers unavailable when Redis is not configured or away, and runs nothing', async () => {
    const none = new RedisService(loadConfig({ REDIS_KEY_PREFIX: 'test:' }));
    const away = new RedisService(
      loadConfig({
        REDIS_URL: 'redis://127.0.0.1:1',
        REDIS_KEY_PREFIX: 'test:',
        REDIS_CONNECT_TIMEOUT_MS: '100',
      }),
    );
    try {
      for (const redis of [none, away]) {
        const outcome = await new SingleFlightLock(redis, 'flights').run({
          lockKey: redis.key('lock'),
          lockTtlMs: 1_000,
          waitMs: 1_000,
          pollMs: 50,
          lookup: () => Promise.reject(new Error('must not look')),
          work: () => Promise.reject(new Error('must not run')),
        });
        expect(outcome.kind).toBe('unavailable');
      }
    } finally {
      await Promise.all([none.onApplicationShutdown(), away.onApplicationShutdown()]);
    }
  });
});
