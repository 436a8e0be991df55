import { randomUUID } from 'node:crypto';
import { ErrorCode, GatewayError } from '../common/errors';
import { RedisService } from '../redis/redis.service';
import { canonicalJson, fingerprintOf } from './fingerprint.util';
import { IdempotencyModule } from './idempotency.module';
import { IdempotencyService, type IdempotencyAttempt } from './idempotency.service';
import { eventually } from '../../test/support/eventually';
import {
  latch,
  scriptedDoubles,
  startReplicaModule,
  TEST_REDIS_URL,
} from '../../test/support/replica-module';

const REDIS_URL = TEST_REDIS_URL;

interface Replica {
  idempotency: IdempotencyService;
  redis: RedisService;
  close(): Promise<void>;
}

const open: Replica[] = [];

/** One gateway replica: its own Nest module and Redis connections, sharing the test's key prefix. */
async function replica(
  prefix: string,
  env: Record<string, string> = {},
  redisUrl: string | null = REDIS_URL,
): Promise<Replica> {
  const moduleRef = await startReplicaModule(prefix, { env, redisUrl, imports: [IdempotencyModule] });
  const r: Replica = {
    idempotency: moduleRef.get(IdempotencyService),
    redis: moduleRef.get(RedisService),
    // A replica closed by its test leaves the list, so afterEach closes only the others.
    close: () => {
      open.splice(open.indexOf(r), 1);
      return moduleRef.close();
    },
  };
  open.push(r);
  return r;
}

/** Strict doubles of the side effect: scripted answers in order; any further call fails the test. */
const doubles = scriptedDoubles();
const unexpectedCalls = doubles.unexpected;
const work = doubles.script;

/** A step that says when it started, then holds until the test releases it. */
function heldStep<T>(answer: () => T): {
  step: () => Promise<T>;
  started: Promise<void>;
  release: () => void;
} {
  const started = latch();
  const held = latch();
  return {
    step: async () => {
      started.release();
      await held.gate;
      return answer();
    },
    started: started.gate,
    release: held.release,
  };
}

/** Resolves once `count` requests of these replicas wait for another request's answer. */
function waitingRequests(replicas: Replica[], count: number): Promise<void> {
  return eventually(() => {
    expect(replicas.reduce((sum, r) => sum + r.idempotency.waiting, 0)).toBe(count);
  });
}

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

const FP = fingerprintOf({ pipelineName: 'nightly', environmentName: 'prod' });
const OTHER_FP = fingerprintOf({ pipelineName: 'nightly', environmentName: 'dev' });
let prefix: string;

beforeEach(() => {
  prefix = `test:${randomUUID()}:`;
  unexpectedCalls.length = 0;
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
  expect(unexpectedCalls).toEqual([]);
});

afterAll(async () => {
  const cleaner = await replica(`test:cleanup:${randomUUID()}:`);
  const keys = (await cleaner.redis.scanKeys('test:*:v1:idem:*')).filter((k) =>
    /^test:[0-9a-f-]{36}:/.test(k),
  );
  await cleaner.redis.delete(...keys);
  await cleaner.close();
});

describe('fingerprintOf', () => {
  it('is the same for the same request in any key order, and differs when anything differs', () => {
    const a = { projectId: 'p', input: { b: 1, a: [1, { y: 2, x: 1 }] }, skipped: undefined };
    const b = { input: { a: [1, { x: 1, y: 2 }], b: 1 }, projectId: 'p' };
    expect(fingerprintOf(a)).toBe(fingerprintOf(b));
    expect(fingerprintOf(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprintOf({ ...b, projectId: 'q' })).not.toBe(fingerprintOf(b));
    expect(fingerprintOf({ list: [1, 2] })).not.toBe(fingerprintOf({ list: [2, 1] }));
    expect(canonicalJson({ b: [undefined, 'x'], a: null })).toBe('{"a":null,"b":[null,"x"]}');
  });
});

describe('IdempotencyService on a real Redis, two replicas', () => {
  it('runs the work once when both replicas get the same key at the same moment', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    const first = heldStep(() => ({ pipelineExecutionId: 'exec-1' }));
    const execute = work('execute', first.step);

    const both = Promise.all([
      a.idempotency.run('client-1', 'key-1', FP, execute),
      b.idempotency.run('client-1', 'key-1', FP, execute),
    ]);
    await first.started;
    await waitingRequests([a, b], 1); // the other one waits for the first one's answer
    first.release();
    const [fromA, fromB] = await both;

    expect(execute).toHaveBeenCalledTimes(1);
    expect(fromA.value).toEqual({ pipelineExecutionId: 'exec-1' });
    expect(fromB.value).toEqual({ pipelineExecutionId: 'exec-1' });
    expect([fromA.replayed, fromB.replayed].sort()).toEqual([false, true]);
  });

  it('runs the work once for 40 concurrent repeats spread over both replicas', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    const first = heldStep(() => 'exec-7');
    const execute = work('execute', first.step);
    const all = Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).idempotency.run('c', 'k', FP, execute)),
    );
    await first.started;
    await waitingRequests([a, b], 39);
    first.release();
    const results = await all;
    expect(execute).toHaveBeenCalledTimes(1);
    expect(results.map((r) => r.value)).toEqual(Array.from({ length: 40 }, () => 'exec-7'));
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  });

  it('replays a finished request on the other replica and keeps it for the configured TTL', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    await a.idempotency.run(
      'c',
      'k',
      FP,
      work('first', () => ({ id: 'exec-2' })),
    );
    const again = await b.idempotency.run('c', 'k', FP, work<{ id: string }>('repeat'));
    expect(again).toEqual({ value: { id: 'exec-2' }, replayed: true });

    const [recordKey] = await a.redis.scanKeys(`${prefix}v1:idem:*`);
    const ttlMs = await a.redis.remainingTtlMs(recordKey);
    expect(ttlMs).toBeGreaterThan(86_000_000);
    expect(ttlMs).toBeLessThanOrEqual(86_400_000);
  });

  it('refuses the same key for a different request, while running and after', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    const held = heldStep(() => 'exec-3');
    const first = a.idempotency.run('c', 'k', FP, work('first', held.step));
    await held.started; // the key is claimed before the work starts
    const whileRunning = await failure(b.idempotency.run('c', 'k', OTHER_FP, work('other')));
    expect(whileRunning.code).toBe(ErrorCode.IDEMPOTENCY_KEY_REUSED);
    held.release();
    expect((await first).value).toBe('exec-3');
    const after = await failure(a.idempotency.run('c', 'k', OTHER_FP, work('other')));
    expect(after.code).toBe(ErrorCode.IDEMPOTENCY_KEY_REUSED);
    expect(after.message).toBe('This idempotency key was already used for a different request');
  });

  it('keeps two callers apart even when they pick the same key', async () => {
    const a = await replica(prefix);
    const one = await a.idempotency.run(
      'client-1',
      'shared',
      FP,
      work('one', () => 'exec-a'),
    );
    const two = await a.idempotency.run(
      'client-2',
      'shared',
      OTHER_FP,
      work('two', () => 'exec-b'),
    );
    expect(one).toEqual({ value: 'exec-a', replayed: false });
    expect(two).toEqual({ value: 'exec-b', replayed: false });
  });

  it('releases the key when the work failed without doing anything, so a retry runs it', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    const rateLimited = new GatewayError(ErrorCode.RATE_LIMITED, 'Maia rate limit reached; try again later', {
      retryAfterSeconds: 2,
    });
    const error = await failure(
      a.idempotency.run(
        'c',
        'k',
        FP,
        work('first', () => Promise.reject(rateLimited)),
      ),
    );
    expect(error).toBe(rateLimited);
    const retry = await b.idempotency.run(
      'c',
      'k',
      FP,
      work('retry', () => 'exec-4'),
    );
    expect(retry).toEqual({ value: 'exec-4', replayed: false });
  });

  it('gives a waiting repeat the first request’s error when that error released the key', async () => {
    const a = await replica(prefix);
    // No fallback poll within the test: the waiter learns the outcome from the wake-up message alone
    // (a poll between the release and the message would find the key free and run the work itself).
    const b = await replica(prefix, { CACHE_LOCK_POLL_MS: '10000' });
    const held = heldStep<never>(() => {
      throw new GatewayError(ErrorCode.CONFLICT, 'An execution with this tag is running', {
        executionTag: 't1',
      });
    });
    const first = a.idempotency.run('c', 'k', FP, work('first', held.step));
    await held.started;
    const waiting = b.idempotency.run('c', 'k', FP, work('never'));
    await waitingRequests([b], 1);
    held.release();
    expect((await failure(first)).code).toBe(ErrorCode.CONFLICT);
    const waited = await failure(waiting);
    expect(waited.code).toBe(ErrorCode.CONFLICT);
    expect(waited.details).toEqual({ executionTag: 't1' });
  });

  it('remembers an unknown outcome, so no retry with that key can create a second run', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    const unknown = new GatewayError(
      ErrorCode.UPSTREAM_OUTCOME_UNKNOWN,
      'Maia may have started the run; check the execution list',
    );
    expect(
      (
        await failure(
          a.idempotency.run(
            'c',
            'k',
            FP,
            work('first', () => Promise.reject(unknown)),
          ),
        )
      ).code,
    ).toBe(ErrorCode.UPSTREAM_OUTCOME_UNKNOWN);
    for (const r of [a, b]) {
      const replayed = await failure(r.idempotency.run('c', 'k', FP, work('retry')));
      expect(replayed.code).toBe(ErrorCode.UPSTREAM_OUTCOME_UNKNOWN);
      expect(replayed.message).toBe('Maia may have started the run; check the execution list');
    }
    // An unexpected error is treated the same way: the outcome is unknown.
    const crash = await failure(
      a.idempotency
        .run(
          'c',
          'k2',
          FP,
          work('crash', () => Promise.reject(new TypeError('boom'))),
        )
        .catch((e: unknown) => {
          expect(e).toBeInstanceOf(TypeError);
          return b.idempotency.run('c', 'k2', FP, work('retry'));
        }),
    );
    expect(crash.code).toBe(ErrorCode.INTERNAL);
  });

  it('answers CONFLICT when the first request is still running after the wait', async () => {
    const env = { IDEMPOTENCY_WAIT_MS: '200' };
    const a = await replica(prefix, env);
    const b = await replica(prefix, env);
    const held = heldStep(() => 'exec-5');
    const first = a.idempotency.run('c', 'k', FP, work('slow', held.step));
    await held.started;
    for (const r of [a, b]) {
      const error = await failure(r.idempotency.run('c', 'k', FP, work('never')));
      expect(error.code).toBe(ErrorCode.CONFLICT);
      expect(error.message).toMatch(/still in progress/);
    }
    held.release();
    expect(await first).toEqual({ value: 'exec-5', replayed: false });
    expect(await b.idempotency.run('c', 'k', FP, work('never'))).toEqual({ value: 'exec-5', replayed: true });
  });

  it('hands the key of a replica that died mid-request to the next try, naming the dead try to resolve first', async () => {
    const env = { IDEMPOTENCY_PENDING_TTL_MS: '1000', IDEMPOTENCY_WAIT_MS: '5000' };
    const dying = await replica(prefix, env);
    const b = await replica(prefix, env);
    const held = heldStep(() => 'never-recorded');
    const attempts: IdempotencyAttempt[] = [];
    const orphan = dying.idempotency
      .run('c', 'k', FP, (attempt) => {
        attempts.push(attempt);
        return held.step();
      })
      .catch(() => undefined);
    await held.started;
    await dying.close(); // its connection is gone: the claim is no longer renewed
    const takeover = await b.idempotency.run('c', 'k', FP, async (attempt) => {
      attempts.push(attempt);
      return 'exec-6';
    });
    expect(takeover).toEqual({ value: 'exec-6', replayed: false });
    // The first try had nothing to resume; the takeover must resolve the first before doing anything.
    expect(attempts).toEqual([
      { id: expect.any(String) },
      { id: expect.any(String), resumes: attempts[0].id },
    ]);
    expect(attempts[1].id).not.toBe(attempts[0].id);
    held.release();
    await orphan;
  });

  it('a try that ended with a released key leaves nothing to resolve; one cut short stays to be resolved', async () => {
    const env = { IDEMPOTENCY_PENDING_TTL_MS: '1000', IDEMPOTENCY_WAIT_MS: '5000' };
    const a = await replica(prefix, env);
    const attempts: IdempotencyAttempt[] = [];
    const refused = new GatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, 'Maia is unavailable');
    const failing = async (attempt: IdempotencyAttempt): Promise<string> => {
      attempts.push(attempt);
      throw refused;
    };
    await failure(a.idempotency.run('c', 'k', FP, failing));
    // Released: created nothing, so the next try has nothing to resume.
    await failure(a.idempotency.run('c', 'k', FP, failing));
    expect(attempts[1].resumes).toBeUndefined();

    // A try cut short (its replica dies), then a try that resumes it but fails with a released error:
    // the one after must still resolve the cut-short try, not the one that failed.
    const dying = await replica(prefix, env);
    const held = heldStep(() => 'never-recorded');
    const orphan = dying.idempotency
      .run('c', 'k2', FP, (attempt) => {
        attempts.push(attempt);
        return held.step();
      })
      .catch(() => undefined);
    await held.started;
    await dying.close();
    const cutShort = attempts[attempts.length - 1].id;
    await failure(a.idempotency.run('c', 'k2', FP, failing));
    expect(attempts[attempts.length - 1].resumes).toBe(cutShort);
    const last = await a.idempotency.run('c', 'k2', FP, async (attempt) => {
      attempts.push(attempt);
      return 'exec-9';
    });
    expect(last).toEqual({ value: 'exec-9', replayed: false });
    expect(attempts[attempts.length - 1].resumes).toBe(cutShort);
    held.release();
    await orphan;
  });

  it('never replays from memory: once the shared record is gone (a Redis restart), the key runs again', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    expect(
      await a.idempotency.run(
        'c',
        'k',
        FP,
        work('first', () => 'exec-7'),
      ),
    ).toEqual({
      value: 'exec-7',
      replayed: false,
    });
    // The shared record is gone (as after a Redis restart without persistence): nobody replays from memory.
    await a.redis.delete(...(await a.redis.scanKeys(`${prefix}v1:idem:*`)));
    expect(
      await b.idempotency.run(
        'c',
        'k',
        FP,
        work('again on b', () => 'exec-8'),
      ),
    ).toEqual({
      value: 'exec-8',
      replayed: false,
    });
    expect(await a.idempotency.run('c', 'k', FP, work('never'))).toEqual({ value: 'exec-8', replayed: true });
  });

  it('validates the key before doing anything', async () => {
    const a = await replica(prefix);
    for (const key of ['', 'x'.repeat(256), 'tab\there', 'nul\u0000', 'del\u007f']) {
      const error = await failure(a.idempotency.run('c', key, FP, work('never')));
      expect(error.code).toBe(ErrorCode.BAD_USER_INPUT);
    }
    expect(
      await a.idempotency.run(
        'c',
        'x'.repeat(255),
        FP,
        work('ok', () => 1),
      ),
    ).toEqual({
      value: 1,
      replayed: false,
    });
  });
});

describe('IdempotencyService without Redis', () => {
  it('keeps the same rules in memory (one replica)', async () => {
    const a = await replica(prefix, {}, null);
    // Every repeat is made before the first one's work can start: all ten overlap.
    const execute = work('execute', () => 'exec-m');
    const results = await Promise.all(
      Array.from({ length: 10 }, () => a.idempotency.run('c', 'k', FP, execute)),
    );
    expect(execute).toHaveBeenCalledTimes(1);
    expect(results.filter((r) => r.replayed)).toHaveLength(9);
    expect((await failure(a.idempotency.run('c', 'k', OTHER_FP, work('other')))).code).toBe(
      ErrorCode.IDEMPOTENCY_KEY_REUSED,
    );
    const released = new GatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, 'Maia is unavailable');
    await failure(
      a.idempotency.run(
        'c',
        'k2',
        FP,
        work('fails', () => Promise.reject(released)),
      ),
    );
    expect(
      await a.idempotency.run(
        'c',
        'k2',
        FP,
        work('retry', () => 'ok'),
      ),
    ).toEqual({
      value: 'ok',
      replayed: false,
    });
  });

  it('refuses a keyed request with IDEMPOTENCY_UNAVAILABLE when the configured Redis is unreachable', async () => {
    const a = await replica(prefix, { REDIS_CONNECT_TIMEOUT_MS: '100' }, 'redis://127.0.0.1:6390');
    for (let i = 0; i < 2; i++) {
      const error = await failure(a.idempotency.run('c', 'k', FP, work('never')));
      expect(error.code).toBe(ErrorCode.IDEMPOTENCY_UNAVAILABLE);
      expect(error.httpStatus).toBe(503);
      expect(error.details.retryAfterSeconds).toBeGreaterThan(0);
      expect(error.message).not.toMatch(/redis:\/\/|6390/);
    }
  });
});
