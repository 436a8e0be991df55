import { randomUUID } from 'node:crypto';
import { eventually } from '../support/eventually';
import {
  apiRequests,
  failureOf,
  seed,
  type HarnessOptions,
  type MaiaHarness,
  useMaiaSuite,
} from './support/maia-harness';

/**
 * Calls under upstream trouble: Retry-After (honoured when it fits the deadline, RATE_LIMITED otherwise),
 * the 429 cooldown shared by replicas through Redis, retries bounded by the budget in a 503 storm, the
 * circuit breaker (opens, fails fast without calling, one probe, recovers), and which methods are retried.
 */

const suite = useMaiaSuite();
const { watch } = suite;
const harness = (options: HarnessOptions = {}): Promise<MaiaHarness> => suite.harness({ ...options });

/** A harness whose token is already there, so only the calls under test reach the emulator. */
async function warmHarness(options: HarnessOptions = {}): Promise<MaiaHarness> {
  const h = await harness(options);
  await h.api.listEnvironments(seed.analytics);
  await suite.maia.resetCounters();
  return h;
}

describe('Retry-After', () => {
  it('Retry-After: 2 on a GET: the retry goes no sooner than 2 s later, and the call succeeds', async () => {
    const h = await warmHarness({ env: { MAIA_DEADLINE_MS: '5000' } });
    await suite.maia.addFault({
      route: 'listProjects',
      status: 429,
      headers: { 'Retry-After': '2' },
      count: 1,
    });
    const page = await watch.observe(h.api.listProjects());
    expect(page.total).toBe(5);
    const attempts = apiRequests(h).filter((r) => r.url.includes('/v1/projects?'));
    expect(attempts).toHaveLength(2);
    expect(attempts[1].atMs - attempts[0].atMs).toBeGreaterThanOrEqual(2000);
    expect(await suite.maia.count('listProjects', 429)).toBe(1);
    expect(await suite.maia.count('listProjects', 200)).toBe(1);
  });

  it('Retry-After: 120: RATE_LIMITED at once with retryAfterSeconds; later calls fail fast during the cooldown, without calling', async () => {
    const h = await warmHarness();
    await suite.maia.addFault({
      route: 'listProjects',
      status: 429,
      headers: { 'Retry-After': '120' },
      count: 1,
    });
    const startedMs = Date.now();
    const failure = await failureOf(watch.observe(h.api.listProjects()));
    expect(Date.now() - startedMs).toBeLessThan(1000);
    expect(failure).toEqual({
      code: 'RATE_LIMITED',
      message: expect.any(String),
      details: { upstreamStatus: 429, retryAfterSeconds: 120 },
    });

    const next = await failureOf(watch.observe(h.api.getExecution(seed.analytics, seed.historyRun)));
    expect(next.code).toBe('RATE_LIMITED');
    expect(next.details.retryAfterSeconds).toBeGreaterThanOrEqual(118);
    expect(next.details.retryAfterSeconds).toBeLessThanOrEqual(120);
    expect((await suite.maia.counters()).total).toBe(1);
  });

  it('a 429 cooldown is respected by every replica sharing Redis, including one started later', async () => {
    const redisPrefix = `test:${randomUUID()}:`;
    const a = await warmHarness({ redisPrefix });
    const b = await harness({ redisPrefix });
    await b.api.listEnvironments(seed.analytics);
    await suite.maia.resetCounters();

    await suite.maia.addFault({
      route: 'listProjects',
      status: 429,
      headers: { 'Retry-After': '120' },
      count: 1,
    });
    expect((await failureOf(a.api.listProjects())).code).toBe('RATE_LIMITED');
    await eventually(() => expect(b.transport.cooldown.remainingMs()).toBeGreaterThan(100_000));
    const onB = await failureOf(watch.observe(b.api.listProjects()));
    expect(onB.code).toBe('RATE_LIMITED');
    expect(onB.details.retryAfterSeconds).toBeGreaterThan(100);

    const c = await harness({ redisPrefix });
    expect((await failureOf(watch.observe(c.api.listProjects()))).code).toBe('RATE_LIMITED');
    // Only replica A's one request reached Maia (C's token request aside).
    expect(await suite.maia.apiCount()).toBe(1);
  });

  it('without Retry-After, a 429 cools down for the configured default and is retried', async () => {
    const h = await warmHarness({ env: { MAIA_DEFAULT_RETRY_AFTER_MS: '300' } });
    await suite.maia.addFault({ route: 'listProjects', status: 429, count: 1 });
    await expect(h.api.listProjects()).resolves.toMatchObject({ total: 5 });
    const attempts = apiRequests(h).filter((r) => r.url.includes('/v1/projects?'));
    expect(attempts[1].atMs - attempts[0].atMs).toBeGreaterThanOrEqual(300);
  });
});

describe('retries', () => {
  it('a 503 storm: retries stay within the budget (a tenth of calls plus the reserve)', async () => {
    const h = await warmHarness({
      env: {
        MAIA_BREAKER_FAILURE_THRESHOLD: '1000', // the breaker is the next test's subject
        MAIA_MAX_ATTEMPTS: '3',
        MAIA_RETRY_BUDGET_RATIO: '0.1',
        MAIA_RETRY_BUDGET_MIN_RETRIES: '2',
        MAIA_RETRY_BUDGET_WINDOW_MS: '60000',
      },
    });
    await suite.maia.addFault({ route: 'listProjects', status: 503 });
    const calls = 100;
    const failures = [];
    for (let wave = 0; wave < 10; wave++) {
      const results = await Promise.all(
        Array.from({ length: calls / 10 }, () => failureOf(watch.observe(h.api.listProjects()))),
      );
      failures.push(...results);
    }
    expect(failures.map((f) => f.code)).toEqual(Array(calls).fill('UPSTREAM_UNAVAILABLE'));
    expect(failures[0].details).toEqual({ upstreamStatus: 503 });

    const upstream = await suite.maia.count('listProjects');
    const retries = upstream - calls;
    expect(retries).toBeGreaterThan(0); // retries did happen...
    expect(retries).toBeLessThanOrEqual(Math.floor(0.1 * calls) + 2); // ...within the budget (not 200)
    expect(h.transport.budget.totals()).toEqual({ calls: calls + 1, retries });
  });

  it('a GET survives one 503 and one dropped connection by retrying', async () => {
    const h = await warmHarness();
    await suite.maia.addFault({ route: 'getExecution', status: 503, count: 1 });
    await suite.maia.addFault({ route: 'getExecution', drop: 'before', count: 1 });
    await expect(h.api.getExecution(seed.analytics, seed.historyRun)).resolves.toMatchObject({
      status: 'SUCCESS',
    });
    expect(await suite.maia.count('getExecution')).toBe(3);
  });

  it('the cancel PATCH is retried once, and only once', async () => {
    const h = await warmHarness();
    const { pipelineExecutionId: id } = await h.api.executePipeline(seed.analytics, {
      pipelineName: seed.backfill,
      environmentName: 'Dev',
    });
    await suite.maia.addFault({ route: 'cancelExecution', status: 503, count: 1 });
    await expect(h.api.cancelExecution(seed.analytics, id, true)).resolves.toEqual({
      pipelineExecutionId: id,
    });
    expect(await suite.maia.count('cancelExecution')).toBe(2);

    const second = await h.api.executePipeline(seed.analytics, {
      pipelineName: seed.backfill,
      environmentName: 'Prod',
    });
    await suite.maia.resetCounters();
    await suite.maia.addFault({ route: 'cancelExecution', status: 503 });
    const failure = await failureOf(
      watch.observe(h.api.cancelExecution(seed.analytics, second.pipelineExecutionId, false)),
    );
    expect(failure.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(await suite.maia.count('cancelExecution')).toBe(2);
  });

  it('4xx answers are final: not retried', async () => {
    const h = await warmHarness();
    const failure = await failureOf(
      h.api.getExecution(seed.analytics, 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee'),
    );
    expect(failure.code).toBe('NOT_FOUND');
    expect(await suite.maia.count('getExecution')).toBe(1);
  });
});

describe('circuit breaker', () => {
  const env = {
    MAIA_BREAKER_FAILURE_THRESHOLD: '5',
    MAIA_BREAKER_OPEN_MS: '500',
    MAIA_MAX_ATTEMPTS: '1', // one attempt per call: upstream counts equal calls
  };

  it('opens after repeated 503s, fails fast without calling, lets one probe decide, and recovers', async () => {
    const h = await warmHarness({ env });
    await suite.maia.addFault({ route: 'getExecution', status: 503 });
    for (let i = 0; i < 5; i++) {
      expect(
        (await failureOf(h.api.getExecution(seed.analytics, seed.historyRun))).details.upstreamStatus,
      ).toBe(503);
    }
    expect(await suite.maia.count('getExecution')).toBe(5);
    expect(h.transport.breakerFor().state).toBe('open');

    // Open: fast failures, nothing reaches Maia (any route of that host).
    for (let i = 0; i < 10; i++) {
      const failure = await failureOf(watch.observe(h.api.getExecution(seed.analytics, seed.historyRun)));
      expect(failure.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(failure.details).toEqual({ retryAfterSeconds: 1 });
    }
    expect((await failureOf(h.api.listProjects())).code).toBe('UPSTREAM_UNAVAILABLE');
    expect((await suite.maia.counters()).total).toBe(5);

    // After openMs, still failing: one probe among concurrent callers, then open again.
    await eventually(() => expect(h.transport.breakerFor().state).toBe('half-open'));
    const probing = await Promise.all(
      Array.from({ length: 5 }, () => failureOf(h.api.getExecution(seed.analytics, seed.historyRun))),
    );
    expect(probing.filter((f) => f.details.upstreamStatus === 503)).toHaveLength(1);
    expect(probing.every((f) => f.code === 'UPSTREAM_UNAVAILABLE')).toBe(true);
    expect(await suite.maia.count('getExecution')).toBe(6);
    expect(h.transport.breakerFor().state).toBe('open');

    // Maia is back: after openMs the probe succeeds and the breaker closes.
    await suite.maia.clearFaults();
    await eventually(() => expect(h.transport.breakerFor().state).toBe('half-open'));
    await expect(h.api.getExecution(seed.analytics, seed.historyRun)).resolves.toMatchObject({
      status: 'SUCCESS',
    });
    expect(h.transport.breakerFor().state).toBe('closed');
    const after = await Promise.all(
      Array.from({ length: 5 }, () => h.api.getExecution(seed.analytics, seed.historyRun)),
    );
    expect(after).toHaveLength(5);
    expect(await suite.maia.count('getExecution', 200)).toBe(6);
  });

  it('timeouts and dropped connections count as failures; 4xx answers do not', async () => {
    const h = await warmHarness({ env: { ...env, MAIA_ATTEMPT_TIMEOUT_MS: '150' } });
    for (let i = 0; i < 8; i++)
      await failureOf(h.api.getExecution(seed.analytics, 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee'));
    expect(h.transport.breakerFor().state).toBe('closed');

    await suite.maia.addFault({ route: 'listProjects', latencyMs: 400, count: 3 });
    await suite.maia.addFault({ route: 'listProjects', drop: 'before', count: 2 });
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await failureOf(h.api.listProjects())).code);
    expect(codes).toEqual([
      'UPSTREAM_TIMEOUT',
      'UPSTREAM_TIMEOUT',
      'UPSTREAM_TIMEOUT',
      'UPSTREAM_UNAVAILABLE',
      'UPSTREAM_UNAVAILABLE',
    ]);
    expect(h.transport.breakerFor().state).toBe('open');
  });
});

describe('secrets', () => {
  it('no secret in any captured log line or error', () => {
    expect(watch.issuedTokens.size).toBeGreaterThan(0);
    expect(watch.lines.some((line) => line.startsWith('warn:'))).toBe(true);
    expect(watch.leaks()).toEqual([]);
  });
});
