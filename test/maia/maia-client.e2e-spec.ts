import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { type UpstreamCallObservation } from '../../src/maia/maia-observer';
import {
  apiRequests,
  createMaiaHarness,
  failureOf,
  SecretWatch,
  seed,
  type MaiaHarness,
} from './support/maia-harness';

/**
 * Every typed method of the client over real HTTP against the emulator: shapes, paging iterators,
 * encoding, headers, input validation before any call, error codes, tolerant parsing.
 */

const watch = new SecretWatch();
let maia: EmulatorFixture;
let h: MaiaHarness;

beforeAll(async () => {
  watch.install();
  maia = await startEmulatorFixture({ timeScale: 0.02 });
  h = await createMaiaHarness(maia, { watch, env: { MAIA_ACCOUNT_ID: 'acct-42' } });
});

afterAll(async () => {
  await h?.close();
  await maia?.close();
});

beforeEach(async () => {
  await maia.clearFaults();
  await maia.resetCounters();
});

describe('observation', () => {
  it('reports every attempt under the route the client names, which is the emulator’s name for it', async () => {
    const attempts: UpstreamCallObservation[] = [];
    const refreshes: string[] = [];
    const observed = await createMaiaHarness(maia, {
      watch,
      observer: {
        upstreamCall: (observation) => attempts.push(observation),
        tokenRefresh: (outcome) => refreshes.push(outcome),
        rateLimitCooldown: () => {
          throw new Error('no 429 is expected here');
        },
      },
    });
    try {
      const api = observed.api;
      await api.listProjects();
      await api.listEnvironments(seed.analytics);
      await api.listPublishedPipelines(seed.analytics, 'Dev');
      const { pipelineExecutionId: id } = await api.executePipeline(seed.analytics, {
        pipelineName: seed.backfill,
        environmentName: 'Dev',
      });
      await api.getExecution(seed.analytics, id);
      await api.getExecutionStatus(seed.analytics, id);
      await api.listSteps(seed.analytics, seed.historyRun);
      await api.listExecutions({ projectId: seed.analytics, limit: 5 });
      await api.cancelExecution(seed.analytics, id, true);
    } finally {
      await observed.close();
    }

    const counted = await maia.counters();
    const observedRoutes: Record<string, number> = {};
    for (const attempt of attempts)
      observedRoutes[attempt.endpoint] = (observedRoutes[attempt.endpoint] ?? 0) + 1;
    const countedRoutes = Object.fromEntries(
      Object.entries(counted.routes).map(([route, { total }]) => [route, total]),
    );
    expect(observedRoutes).toEqual(countedRoutes);
    expect(Object.keys(observedRoutes)).toEqual(
      expect.arrayContaining([
        'token',
        'listProjects',
        'executePipeline',
        'cancelExecution',
        'listExecutions',
      ]),
    );
    expect(attempts.every((attempt) => attempt.status === 200 || attempt.status === 201)).toBe(true);
    expect(refreshes).toEqual(['success']);
  });
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe('lists and iterators', () => {
  it('lists projects as typed pages and walks every page', async () => {
    const first = await h.api.listProjects({ page: 0, size: 2 });
    expect(first).toEqual({ page: 0, size: 2, total: 5, results: expect.any(Array) });
    expect(first.results).toHaveLength(2);
    expect(first.results[0]).toEqual({
      id: expect.any(String),
      name: expect.any(String),
      description: expect.anything(),
      asSent: expect.objectContaining({ id: first.results[0].id }),
    });

    const all = await collect(h.api.allProjects());
    expect(all.map((p) => p.id)).toEqual(
      expect.arrayContaining([seed.analytics, seed.marketing, seed.testProject]),
    );
    expect(all).toHaveLength(5);
    expect(new Set(all.map((p) => p.id)).size).toBe(5);
  });

  it('walks small pages until the total is reached, one call per page', async () => {
    await maia.resetCounters();
    const projects = [];
    for (let page = 0; ; page++) {
      const result = await h.api.listProjects({ page, size: 2 });
      projects.push(...result.results);
      if ((page + 1) * result.size >= result.total) break;
    }
    expect(projects).toHaveLength(5);
    expect(await maia.count('listProjects')).toBe(3);
  });

  it("keeps walking through the docs' size: 0, total: 0 slip until a short page", async () => {
    await maia.addFault({
      route: 'listEnvironments',
      status: 200,
      body: { page: 0, size: 0, total: 0, results: [{ name: 'Dev', defaultAgentId: null }] },
      count: 1,
    });
    const envs = await collect(h.api.allEnvironments(seed.analytics));
    expect(envs.map((e) => e.name)).toEqual(['Dev']);
    expect(await maia.count('listEnvironments')).toBe(1);
  });

  it('lists environments with their default agent', async () => {
    const envs = await collect(h.api.allEnvironments(seed.analytics));
    expect(envs.map((e) => e.name)).toEqual(['Dev', 'Prod']);
    expect(envs[0]).toEqual({
      name: 'Dev',
      defaultAgentId: '5f0c1a2b-0001-4000-8000-000000000001',
      defaultAgentName: 'Dev Agent',
      asSent: {
        name: 'Dev',
        defaultAgentId: '5f0c1a2b-0001-4000-8000-000000000001',
        defaultAgentName: 'Dev Agent',
      },
    });
  });

  it('lists published pipelines of an environment whose name needs encoding', async () => {
    const pipelines = await collect(h.api.allPublishedPipelines(seed.testProject, 'Dev Environment'));
    expect(pipelines.map((p) => p.name).sort()).toEqual(['Dev Pipeline', 'My pipeline', 'Pipeline 1']);
    const mine = pipelines.find((p) => p.name === 'My pipeline');
    expect(mine?.publishedTime).toBe('2023-11-24T10:39:02.182Z');
    const sent = apiRequests(h).at(-1);
    expect(sent?.url).toContain('environmentName=Dev+Environment');
  });

  it('lists executions with filters, token paging and normalised timestamps', async () => {
    const page = await h.api.listExecutions({ projectId: seed.analytics, limit: 1 });
    expect(page.results).toHaveLength(1);
    expect(page.more).toEqual(expect.any(String));
    const all = await collect(
      h.api.allExecutions({ projectId: seed.analytics, status: ['SUCCESS', 'FAILED'] }),
    );
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const run of all) {
      expect(['SUCCESS', 'FAILED']).toContain(run.status);
      expect(run.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const statusParams = apiRequests(h)
      .filter((r) => r.url.includes('/v1/pipeline-executions?'))
      .at(-1)
      ?.url.match(/status=/g);
    expect(statusParams).toHaveLength(2);
  });
});

describe('executions', () => {
  it('executes, reads details, the light status, steps, and cancels', async () => {
    const started = await h.api.executePipeline(seed.analytics, {
      pipelineName: seed.backfill,
      environmentName: 'Dev',
      scalarVariables: { day: '2026-11-28' },
    });
    expect(started).toEqual({ pipelineExecutionId: expect.any(String), reconciled: false });
    const id = started.pipelineExecutionId;

    const details = await h.api.getExecution(seed.analytics, id);
    expect(details).toMatchObject({
      pipelineExecutionId: id,
      projectId: seed.analytics,
      pipelineName: seed.backfill,
      environmentName: 'Dev',
      status: 'RUNNING',
      rawStatus: 'RUNNING',
      trigger: 'API',
      finishedAt: null,
    });
    expect(await h.api.getExecutionStatus(seed.analytics, id)).toEqual({
      status: 'RUNNING',
      rawStatus: 'RUNNING',
    });
    const steps = await collect(h.api.allSteps(seed.analytics, id));
    expect(steps.length).toBeGreaterThan(0);
    expect(steps[0]).toMatchObject({ id: expect.any(String), name: 'Start' });

    expect(await h.api.cancelExecution(seed.analytics, id, true)).toEqual({ pipelineExecutionId: id });
    expect((await h.api.getExecution(seed.analytics, id)).status).toBe('CANCELLED');
    const again = await failureOf(h.api.cancelExecution(seed.analytics, id, true));
    expect(again.code).toBe('CONFLICT');
  });

  it('accepts wrapped details without projectId, filling it from the path', async () => {
    await maia.patchConfig({ detailsWrapped: true });
    try {
      const details = await h.api.getExecution(seed.analytics, seed.historyRun);
      expect(details).toMatchObject({
        pipelineExecutionId: seed.historyRun,
        projectId: seed.analytics,
        status: 'SUCCESS',
        trigger: 'SCHEDULE',
      });
    } finally {
      await maia.patchConfig({ detailsWrapped: false });
    }
  });

  it('keeps an unknown status as UNKNOWN with the raw string', async () => {
    await maia.addFault({
      route: 'getExecution',
      status: 200,
      body: { pipelineExecutionId: seed.historyRun, status: 'QUEUED' },
      count: 1,
    });
    const details = await h.api.getExecution(seed.analytics, seed.historyRun);
    expect(details.status).toBe('UNKNOWN');
    expect(details.rawStatus).toBe('QUEUED');
  });

  it('falls back to the details call when the light status is not understood or its route 404s', async () => {
    await maia.addFault({ route: 'getExecutionStatus', status: 200, body: { state: 'weird' }, count: 1 });
    expect(await h.api.getExecutionStatus(seed.analytics, seed.historyRun)).toEqual({
      status: 'SUCCESS',
      rawStatus: 'SUCCESS',
    });
    await maia.addFault({ route: 'getExecutionStatus', status: 404, count: 1 });
    expect((await h.api.getExecutionStatus(seed.analytics, seed.historyRun)).status).toBe('SUCCESS');
    expect(await maia.count('getExecution', 200)).toBe(2);
  });

  it('reports NOT_FOUND when the run is unknown to both routes', async () => {
    const missing = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const failure = await failureOf(watch.observe(h.api.getExecutionStatus(seed.analytics, missing)));
    expect(failure.code).toBe('NOT_FOUND');
  });
});

describe('errors', () => {
  it('maps 404, 409 (with the executionTag), 410 and 400', async () => {
    const notFound = await failureOf(h.api.listEnvironments('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee'));
    expect(notFound).toMatchObject({ code: 'NOT_FOUND', details: { upstreamStatus: 404 } });

    const tag = `tag-${Date.now()}`;
    await h.api.executePipeline(seed.analytics, {
      pipelineName: seed.backfill,
      environmentName: 'Prod',
      executionTag: tag,
    });
    const conflict = await failureOf(
      h.api.executePipeline(seed.analytics, {
        pipelineName: seed.backfill,
        environmentName: 'Prod',
        executionTag: tag,
      }),
    );
    expect(conflict).toEqual({
      code: 'CONFLICT',
      message: 'A pipeline execution with this tag is already running.',
      details: { upstreamStatus: 409, executionTag: tag },
    });
    expect(await maia.count('executePipeline')).toBe(2);

    const disabled = await failureOf(
      h.api.executePipeline(seed.analytics, { pipelineName: seed.disabled, environmentName: 'Dev' }),
    );
    expect(disabled.code).toBe('PIPELINE_DISABLED');
    expect(disabled.message).toContain('disabled');

    const bad = await failureOf(
      h.api.executePipeline(seed.analytics, {
        pipelineName: seed.orders,
        environmentName: 'Dev',
        agentId: 'not-a-uuid',
      }),
    );
    expect(bad.code).toBe('BAD_USER_INPUT');
  });

  it('maps 403 for a credential without a role on that environment', async () => {
    const limited = await createMaiaHarness(maia, {
      watch,
      env: { MAIA_CLIENT_ID: 'second-client', MAIA_CLIENT_SECRET: 'second-secret' },
    });
    try {
      expect(
        (await limited.api.listPublishedPipelines(seed.analytics, 'Dev')).results.length,
      ).toBeGreaterThan(0);
      const forbidden = await failureOf(
        watch.observe(limited.api.listPublishedPipelines(seed.analytics, 'Prod')),
      );
      expect(forbidden.code).toBe('FORBIDDEN');
    } finally {
      await limited.close();
    }
  });

  it('validates ids and inputs before any call', async () => {
    await maia.resetCounters();
    const sentBefore = h.sent.length;
    for (const call of [
      h.api.getExecution('not-a-uuid', seed.historyRun),
      h.api.getExecution(seed.analytics, '../../admin'),
      h.api.listEnvironments('4a8a6162-702b-4efc-b2ec-c986e0bc95e4/../x'),
      h.api.cancelExecution(seed.analytics, 'x', false),
      h.api.executePipeline(seed.analytics, { pipelineName: '', environmentName: 'Dev' }),
      h.api.listProjects({ page: -1 }),
      h.api.listExecutions({ projectId: 'nope' }),
      h.api.listExecutions({ startedAfter: 'yesterday' }),
    ]) {
      const failure = await failureOf(call);
      expect(failure.code).toBe('BAD_USER_INPUT');
    }
    const iterator = h.api.allSteps('nope', seed.historyRun)[Symbol.asyncIterator]();
    expect((await failureOf(iterator.next())).code).toBe('BAD_USER_INPUT');
    expect(h.sent.length).toBe(sentBefore);
    expect((await maia.counters()).total).toBe(0);
  });

  it('clamps page sizes above 100', async () => {
    const page = await h.api.listProjects({ size: 500 });
    expect(page.size).toBe(100);
    expect(apiRequests(h).at(-1)?.url).toContain('size=100');
  });

  it('gives UPSTREAM_BAD_RESPONSE for malformed and oversized bodies', async () => {
    await maia.addFault({ route: 'listProjects', status: 200, body: '{"results": [', count: 1 });
    expect((await failureOf(h.api.listProjects())).code).toBe('UPSTREAM_BAD_RESPONSE');
    await maia.addFault({
      route: 'listProjects',
      status: 200,
      body: { page: 0, results: [{ name: 'no id' }] },
      count: 1,
    });
    expect((await failureOf(h.api.listProjects())).code).toBe('UPSTREAM_BAD_RESPONSE');

    const small = await createMaiaHarness(maia, { watch, env: { MAIA_MAX_RESPONSE_BYTES: '1024' } });
    try {
      const big = { page: 0, size: 25, total: 1, results: [{ id: seed.analytics, name: 'x'.repeat(5000) }] };
      await maia.addFault({ route: 'listProjects', status: 200, body: big, count: 1 });
      const failure = await failureOf(watch.observe(small.api.listProjects()));
      expect(failure.code).toBe('UPSTREAM_BAD_RESPONSE');
      expect(await maia.count('listProjects')).toBe(3); // not retried
    } finally {
      await small.close();
    }
  });

  it('sanitises upstream messages: no URL, no token', async () => {
    const token = h.issued.at(-1)?.token ?? 'missing';
    await maia.addFault({
      route: 'listProjects',
      status: 400,
      body: { detail: `bad request for ${maia.apiBaseUrl}/v1/projects with token ${token}` },
      count: 1,
    });
    const failure = await failureOf(watch.observe(h.api.listProjects()));
    expect(failure.code).toBe('BAD_USER_INPUT');
    expect(failure.message).toContain('bad request for');
    expect(failure.message).not.toContain('127.0.0.1');
    expect(failure.message).not.toContain(token);
  });

  it('gives UPSTREAM_TIMEOUT when attempts time out, within the overall deadline', async () => {
    const slow = await createMaiaHarness(maia, {
      watch,
      // Ten attempts of 300 ms would take 3 s and more; the 1 s deadline cuts them short.
      env: { MAIA_ATTEMPT_TIMEOUT_MS: '300', MAIA_DEADLINE_MS: '1000', MAIA_MAX_ATTEMPTS: '10' },
    });
    try {
      await slow.api.listProjects(); // token first, so only the API call is slow
      await maia.addFault({ route: 'listProjects', latencyMs: 2000 });
      const startedMs = Date.now();
      const failure = await failureOf(watch.observe(slow.api.listProjects()));
      expect(failure.code).toBe('UPSTREAM_TIMEOUT');
      expect(Date.now() - startedMs).toBeLessThan(2000);
      const attempts = apiRequests(slow).filter((r) => r.url.includes('/v1/projects?')).length - 1;
      expect(attempts).toBeGreaterThanOrEqual(2);
      expect(attempts).toBeLessThanOrEqual(4);
    } finally {
      await slow.close();
    }
  });
});

describe('headers', () => {
  it('sends the bearer token, account-id when configured, and x-request-id from the call options', async () => {
    await h.api.listProjects({}, { requestId: 'req-123' });
    const sent = apiRequests(h).at(-1);
    expect(sent?.headers['account-id']).toBe('acct-42');
    expect(sent?.headers['x-request-id']).toBe('req-123');
    expect(sent?.token).toEqual(expect.any(String));
  });

  it('sends no account-id header when none is configured', async () => {
    const plain = await createMaiaHarness(maia, { watch });
    try {
      await plain.api.listProjects();
      expect(apiRequests(plain).at(-1)?.headers).not.toHaveProperty('account-id');
    } finally {
      await plain.close();
    }
  });

  it('aborts a call when its caller goes away', async () => {
    await maia.addFault({ route: 'listProjects', latencyMs: 2000, count: 1 });
    const controller = new AbortController();
    const call = failureOf(h.api.listProjects({}, { signal: controller.signal }));
    await eventually(async () => expect(await maia.count('listProjects')).toBe(0));
    controller.abort();
    expect((await call).code).toBe('UPSTREAM_TIMEOUT');
  });
});

describe('secrets', () => {
  it('logged lines at every level and errors carry neither the client secret nor any token', () => {
    expect(watch.issuedTokens.size).toBeGreaterThan(0);
    expect(watch.secrets.has(maia.clientSecret)).toBe(true);
    expect(watch.errors.length).toBeGreaterThan(0);
    // Every level reaches the capture (debug included), so the check below covers them all.
    for (const level of ['debug', 'log']) {
      expect(watch.lines.some((line) => line.startsWith(`${level}:`))).toBe(true);
    }
    expect(watch.leaks()).toEqual([]);
  });
});
