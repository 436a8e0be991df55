import { Module } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ErrorCode, GatewayError } from '../common/errors';
import { RedisService } from '../redis/redis.service';
import { eventually } from '../../test/support/eventually';
import { startReplicaModule, TEST_REDIS_URL } from '../../test/support/replica-module';
import { ExecuteReconciler, type ExecuteCall } from './maia-execute.reconciler';
import { type ParsedExecution, type ParsedExecutionListPage } from './maia-wire';
import { OutcomeUnknownError, type MaiaResponse } from './maia.transport';

@Module({ providers: [ExecuteReconciler], exports: [ExecuteReconciler] })
class ReconcilerModule {}

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const scope = { projectId: PROJECT, pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Dev' };
const FINGERPRINT = 'fp-orders';
// A POST may take 300 ms: a cut-short try is looked up once that has passed.
const env = { MAIA_DEADLINE_MS: '300', MAIA_RECONCILE_CLOCK_SKEW_MS: '1000' };

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/**
 * One replica's reconciler, on the test Redis (or an unreachable one) under `prefix`. An unreachable Redis
 * is given up on after 100 ms; the test Redis is waited for until its command connection is ready: a
 * replica that started on memory alone (a connect slower than its timeout, on a loaded machine) shares no
 * ledger with the others, and its tries fail closed (IDEMPOTENCY_UNAVAILABLE) or find no record.
 */
async function replica(prefix: string, redisUrl: string = TEST_REDIS_URL): Promise<ExecuteReconciler> {
  const unreachable = redisUrl !== TEST_REDIS_URL;
  const moduleRef = await startReplicaModule(prefix, {
    env: unreachable ? { ...env, REDIS_CONNECT_TIMEOUT_MS: '100' } : env,
    redisUrl,
    imports: [ReconcilerModule],
  });
  const redis = moduleRef.get(RedisService);
  closers.push(async () => {
    if (redis.available) await redis.delete(...(await redis.scanKeys(`${prefix}*`)));
    await moduleRef.close();
  });
  if (!unreachable) await eventually(() => redis.available, { timeoutMs: 15_000 });
  return moduleRef.get(ExecuteReconciler);
}

function run(id: string, startedAtMs: number): ParsedExecution {
  return {
    pipelineExecutionId: id,
    projectId: PROJECT,
    pipelineName: scope.pipelineName,
    pipelineType: 'ORCHESTRATION',
    environmentName: scope.environmentName,
    status: 'RUNNING',
    rawStatus: 'RUNNING',
    startedAt: new Date(startedAtMs).toISOString(),
    finishedAt: null,
    message: null,
    trigger: 'API',
    scheduleId: null,
    user: null,
    executionTag: null,
  };
}

/** A call whose POST and listing are strict doubles: each counts, and a POST not scripted fails. */
function call(
  attempt: ExecuteCall['attempt'],
  send: () => Promise<MaiaResponse> = () => Promise.reject(new Error('unexpected POST')),
  runs: () => ParsedExecution[] = () => [],
): ExecuteCall & { posts: number; listings: number } {
  const counted = {
    scope,
    fingerprint: FINGERPRINT,
    attempt,
    posts: 0,
    listings: 0,
    send: () => {
      counted.posts++;
      return send();
    },
    list: (): Promise<ParsedExecutionListPage> => {
      counted.listings++;
      const parsed = runs();
      return Promise.resolve({ parsed, results: parsed, more: null } as ParsedExecutionListPage);
    },
  };
  return counted;
}

/**
 * A POST that never answers (its replica "died" with it in flight), and a promise of the moment it was
 * sent: the try's ledger record is in Redis by then, as it is in a fleet before any retry can reach
 * another replica. (Two replicas in one process write on two connections: Redis does not order their
 * commands by the test's program order.)
 */
function postThatNeverAnswers(): { send: () => Promise<MaiaResponse>; sent: Promise<void> } {
  let markSent!: () => void;
  const sent = new Promise<void>((resolve) => (markSent = resolve));
  return {
    send: () => {
      markSent();
      return new Promise<MaiaResponse>(() => undefined);
    },
    sent,
  };
}

const created = (id: string) => () =>
  Promise.resolve({ status: 201, body: { pipelineExecutionId: id }, readable: true });

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

describe('ExecuteReconciler: an idempotency try cut short is resolved from the ledger before any POST', () => {
  let prefix: string;
  beforeEach(() => {
    prefix = `test:${randomUUID()}:`;
  });

  it('a try that learnt its run: the next try answers that run, sends nothing', async () => {
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const first = randomUUID();
    expect(await a.execute(call({ id: first }, created('run-1')))).toEqual({
      pipelineExecutionId: 'run-1',
      reconciled: false,
    });
    const retry = call({ id: randomUUID(), resumes: first });
    expect(await b.execute(retry)).toEqual({ pipelineExecutionId: 'run-1', reconciled: true });
    expect(retry.posts).toBe(0);
  });

  it('a run Maia started is answered even when what the caller adds to the settle throws', async () => {
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const first = randomUUID();
    const launched = call({ id: first }, created('run-9'));
    const answer = await a.execute({
      ...launched,
      recordWith: () => {
        throw new Error('a launch record that could not be built');
      },
    });
    expect(answer).toEqual({ pipelineExecutionId: 'run-9', reconciled: false });
    // The ledger settled on it all the same: a retry of the same try answers that run, sending nothing.
    const retry = call({ id: randomUUID(), resumes: first });
    expect(await b.execute(retry)).toEqual({ pipelineExecutionId: 'run-9', reconciled: true });
    expect(retry.posts).toBe(0);
  });

  it('a try that certainly created nothing (Maia refused it): the next try sends its POST', async () => {
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const first = randomUUID();
    const refused = new GatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, 'Maia failed', { upstreamStatus: 503 });
    await failure(a.execute(call({ id: first }, () => Promise.reject(refused))));
    const retry = call({ id: randomUUID(), resumes: first }, created('run-2'));
    expect(await b.execute(retry)).toEqual({ pipelineExecutionId: 'run-2', reconciled: false });
    expect(retry.posts).toBe(1);
  });

  it('a try whose replica died mid-POST: its run is found in the listing, nothing is sent again', async () => {
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const first = randomUUID();
    const startedAtMs = Date.now();
    // The POST never answers: its replica "died" with it in flight; Maia made the run.
    const post = postThatNeverAnswers();
    void a.execute(call({ id: first }, post.send));
    await post.sent;
    const retry = call({ id: randomUUID(), resumes: first }, undefined, () => [
      run('run-3', startedAtMs + 50),
    ]);
    expect(await b.execute(retry)).toEqual({ pipelineExecutionId: 'run-3', reconciled: true });
    expect(retry.posts).toBe(0);
    expect(retry.listings).toBeGreaterThan(0);
  });

  it('a try that died mid-POST and left no run to find: UPSTREAM_OUTCOME_UNKNOWN, nothing sent', async () => {
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const first = randomUUID();
    const post = postThatNeverAnswers();
    void a.execute(call({ id: first }, post.send));
    await post.sent;
    const retry = call({ id: randomUUID(), resumes: first });
    const error = await failure(b.execute(retry));
    expect(error.code).toBe(ErrorCode.UPSTREAM_OUTCOME_UNKNOWN);
    expect(error.details).toMatchObject({ candidates: 0, startedAfter: expect.any(String) });
    expect(retry.posts).toBe(0);
  });

  it('a try the ledger never recorded: UPSTREAM_OUTCOME_UNKNOWN, never a guess and never a POST', async () => {
    const b = await replica(prefix);
    const retry = call({ id: randomUUID(), resumes: randomUUID() });
    expect((await failure(b.execute(retry))).code).toBe(ErrorCode.UPSTREAM_OUTCOME_UNKNOWN);
    expect(retry.posts).toBe(0);
  });

  it('the ledger unreachable: IDEMPOTENCY_UNAVAILABLE (retryable), nothing sent', async () => {
    const b = await replica(prefix, 'redis://127.0.0.1:6390');
    const retry = call({ id: randomUUID(), resumes: randomUUID() });
    const error = await failure(b.execute(retry));
    expect(error.code).toBe(ErrorCode.IDEMPOTENCY_UNAVAILABLE);
    expect(error.details.retryAfterSeconds).toBeGreaterThan(0);
    expect(retry.posts).toBe(0);
  });
});

describe('ExecuteReconciler: overlapping dropped POSTs', () => {
  it('twins (same request) get different runs; a call that asked for something else does not guess', async () => {
    const prefix = `test:${randomUUID()}:`;
    const [a, b] = [await replica(prefix), await replica(prefix)];
    const startedAtMs = Date.now();
    const runs = [run('run-a', startedAtMs + 10), run('run-b', startedAtMs + 20)];
    const dropped = () => Promise.reject(new OutcomeUnknownError('connection-lost'));
    const twins = await Promise.all([
      a.execute({ ...call(undefined, dropped, () => runs) }),
      b.execute({ ...call(undefined, dropped, () => runs) }),
    ]);
    expect(new Set(twins.map((t) => t.pipelineExecutionId))).toEqual(new Set(['run-a', 'run-b']));
    expect(twins.every((t) => t.reconciled)).toBe(true);

    // Two calls asking for different things, dropped together: either run could be either's.
    const later = Date.now();
    const mixed = [run('run-c', later + 10), run('run-d', later + 20)];
    const outcomes = await Promise.allSettled([
      a.execute({ ...call(undefined, dropped, () => mixed) }),
      b.execute({ ...call(undefined, dropped, () => mixed), fingerprint: 'fp-other' }),
    ]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect(((outcome as PromiseRejectedResult).reason as GatewayError).code).toBe(
        ErrorCode.UPSTREAM_OUTCOME_UNKNOWN,
      );
    }
  });
});
