import { startEmulator, type RunningEmulator } from '../../src/emulator/emulator';
import { eventually } from '../support/eventually';
import { EmulatorTestClient, request, seedIds } from './emulator-test.client';

/**
 * The control API of docs/emulator.md over real HTTP: each fault kind (latency, status with
 * Retry-After, drop before, drop after, rate, count, ordering, patterns), counters, token revocation,
 * reset, config (details wrapper) and the per-client rate limit.
 */

const problemJson = 'application/problem+json';
const backfill = { pipelineName: 'FOLDER/long_backfill.orch.yaml', environmentName: 'Dev' };

let emulator: RunningEmulator;
let maia: EmulatorTestClient;
let token: string;

beforeAll(async () => {
  emulator = await startEmulator({ timeScale: 0.02, quiet: true });
  maia = new EmulatorTestClient(emulator);
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(async () => {
  await maia.reset();
  token = await maia.token();
});

async function addFault(fault: Record<string, unknown>): Promise<string> {
  const res = await maia.control('POST', 'faults', fault);
  expect(res.status).toBe(201);
  expect(res.body.id).toEqual(expect.any(String));
  return res.body.id as string;
}

const executionCount = async () => (await maia.control('GET', 'executions')).body.results.length as number;

describe('faults', () => {
  it('latencyMs alone delays the answer, then handles the request normally', async () => {
    await addFault({ route: 'listProjects', latencyMs: 300 });
    const startedMs = Date.now();
    const res = await maia.api('GET', '/v1/projects', { token });
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(290);
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(5);
  });

  it('latencyMs on execute: a client that gives up during the delay still has its run created (acted, answered late)', async () => {
    await addFault({ route: 'executePipeline', latencyMs: 400, count: 1 });
    const before = await executionCount();
    const gaveUp = await fetch(
      `${maia.emulator.url}/dpc/v1/projects/${seedIds.analytics}/pipeline-executions`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(backfill),
        signal: AbortSignal.timeout(100),
      },
    ).catch((error: Error) => error.name);
    expect(gaveUp).toBe('TimeoutError');
    expect(await executionCount()).toBe(before); // not yet: Maia is slow
    await eventually(async () => expect(await executionCount()).toBe(before + 1));
  });

  it('status answers that status as problem+json with the given headers, without performing the action', async () => {
    await addFault({ route: 'executePipeline', status: 503, headers: { 'Retry-After': '2' }, count: 1 });
    const faulted = await maia.api('POST', `/v1/projects/${seedIds.analytics}/pipeline-executions`, {
      token,
      body: backfill,
    });
    expect(faulted.status).toBe(503);
    expect(faulted.headers.get('retry-after')).toBe('2');
    expect(faulted.contentType).toContain(problemJson);
    expect(faulted.body).toMatchObject({ status: 503, title: 'Service Unavailable' });
    expect(await executionCount()).toBe(4);
    const next = await maia.api('POST', `/v1/projects/${seedIds.analytics}/pipeline-executions`, {
      token,
      body: backfill,
    });
    expect(next.status).toBe(201);
    expect(await executionCount()).toBe(5);
  });

  it('status with a body answers that body; with latencyMs it waits first', async () => {
    await addFault({ route: 'token', status: 500, body: { error: 'server_error' }, latencyMs: 150 });
    const startedMs = Date.now();
    const res = await maia.tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'sandbox-client',
      client_secret: 'sandbox-secret',
    });
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(140);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'server_error' });
  });

  it('drop "before" destroys the socket without performing the action', async () => {
    await addFault({ route: 'executePipeline', drop: 'before', count: 1 });
    await expect(
      maia.api('POST', `/v1/projects/${seedIds.analytics}/pipeline-executions`, {
        token,
        body: { ...backfill, executionTag: 'dropped-before' },
      }),
    ).rejects.toThrow('fetch failed');
    expect(await executionCount()).toBe(4);
    const retry = await maia.api('POST', `/v1/projects/${seedIds.analytics}/pipeline-executions`, {
      token,
      body: { ...backfill, executionTag: 'dropped-before' },
    });
    expect(retry.status).toBe(201);
    const counters = (await maia.control('GET', 'counters')).body;
    expect(counters.routes.executePipeline).toEqual({ total: 2, byStatus: { dropped: 1, '201': 1 } });
  });

  it('drop "after" creates the execution, then destroys the socket without answering', async () => {
    await addFault({ route: 'executePipeline', drop: 'after', count: 1 });
    await expect(
      maia.api('POST', `/v1/projects/${seedIds.analytics}/pipeline-executions`, {
        token,
        body: { ...backfill, executionTag: 'dropped-after', scalarVariables: { batch: '7' } },
      }),
    ).rejects.toThrow('fetch failed');
    const executions = (await maia.control('GET', 'executions')).body.results;
    expect(executions).toHaveLength(5);
    const created = executions[4];
    expect(created).toMatchObject({
      pipelineName: backfill.pipelineName,
      environmentName: 'Dev',
      projectId: seedIds.analytics,
      status: 'RUNNING',
      executionTag: 'dropped-after',
      scalarVariables: { batch: '7' },
    });
    // The execution is real: it is listed, and the tag guard refuses a blind retry.
    const listed = await maia.api(
      'GET',
      `/v1/pipeline-executions?projectId=${seedIds.analytics}&status=RUNNING`,
      { token },
    );
    expect(listed.body.results.map((e: { pipelineExecutionId: string }) => e.pipelineExecutionId)).toEqual([
      created.pipelineExecutionId,
    ]);
    const retry = await maia.api('POST', `/v1/projects/${seedIds.analytics}/pipeline-executions`, {
      token,
      body: { ...backfill, executionTag: 'dropped-after' },
    });
    expect(retry.status).toBe(409);
    const counters = (await maia.control('GET', 'counters')).body;
    expect(counters.routes.executePipeline.byStatus).toEqual({ dropped: 1, '409': 1 });
  });

  it('count limits a fault to the next N matching requests, after which it disappears', async () => {
    const id = await addFault({ route: 'listProjects', status: 502, count: 2 });
    expect((await maia.api('GET', '/v1/projects', { token })).status).toBe(502);
    const listed = await maia.control('GET', 'faults');
    expect(listed.body.results).toEqual([{ id, route: 'listProjects', status: 502, rate: 1, remaining: 1 }]);
    expect((await maia.api('GET', '/v1/projects', { token })).status).toBe(502);
    expect((await maia.control('GET', 'faults')).body.results).toEqual([]);
    expect((await maia.api('GET', '/v1/projects', { token })).status).toBe(200);
  });

  it('rate applies a fault to that fraction of matching requests', async () => {
    await addFault({ route: 'getExecutionStatus', status: 500, rate: 0 });
    const path = `/v1/projects/${seedIds.analytics}/pipeline-executions/${seedIds.historyOrdersProd}/status`;
    for (let i = 0; i < 20; i++) expect((await maia.api('GET', path, { token })).status).toBe(200);
    await maia.control('DELETE', 'faults');
    await addFault({ route: 'getExecutionStatus', status: 500, rate: 0.5 });
    let failed = 0;
    for (let i = 0; i < 200; i++) if ((await maia.api('GET', path, { token })).status === 500) failed++;
    // Binomial(200, 0.5): 50..150 is more than 7 standard deviations either side.
    expect(failed).toBeGreaterThanOrEqual(50);
    expect(failed).toBeLessThanOrEqual(150);
    const counters = (await maia.control('GET', 'counters')).body;
    expect(counters.routes.getExecutionStatus.byStatus['500']).toBe(failed);
    expect(counters.routes.getExecutionStatus.total).toBe(220);
  });

  it('applies faults in the order added, matching "*" and wildcard patterns', async () => {
    await addFault({ route: 'list*', status: 504, count: 1 });
    await addFault({ route: '*', status: 500 });
    expect((await maia.api('GET', '/v1/projects', { token })).status).toBe(504);
    expect((await maia.api('GET', '/v1/projects', { token })).status).toBe(500);
    expect((await maia.api('GET', `/v1/agents/${seedIds.lockedAgent}/allowlist`, { token })).status).toBe(
      500,
    );
    const tokenRes = await maia.tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'sandbox-client',
      client_secret: 'sandbox-secret',
    });
    expect(tokenRes.status).toBe(500);
  });

  it('match narrows a fault to one execution, one project or a path pattern; other calls of the route pass', async () => {
    const executions = `/v1/projects/${seedIds.analytics}/pipeline-executions`;
    const target = `${executions}/${seedIds.historyOrdersProd}`;
    const other = (
      await maia.api('POST', `/v1/projects/${seedIds.analytics}/pipeline-executions`, {
        token,
        body: backfill,
      })
    ).body.pipelineExecutionId as string;
    const id = await addFault({
      route: 'getExecution',
      status: 503,
      count: 1,
      match: { executionId: seedIds.historyOrdersProd.toUpperCase() },
    });
    expect((await maia.control('GET', 'faults')).body.results).toEqual([
      {
        id,
        route: 'getExecution',
        status: 503,
        rate: 1,
        remaining: 1,
        match: { executionId: seedIds.historyOrdersProd.toUpperCase() },
      },
    ]);
    // Another run's details, and the target run's other routes, are untouched and do not use up the count.
    expect((await maia.api('GET', `${executions}/${other}`, { token })).status).toBe(200);
    expect((await maia.api('GET', `${target}/status`, { token })).status).toBe(200);
    expect((await maia.api('GET', target, { token })).status).toBe(503);
    expect((await maia.api('GET', target, { token })).status).toBe(200);

    await addFault({
      route: '*',
      status: 500,
      match: { path: `/dpc/v1/projects/*/pipeline-executions/*/status` },
    });
    expect((await maia.api('GET', `${target}/status`, { token })).status).toBe(500);
    expect((await maia.api('GET', `${target}/steps`, { token })).status).toBe(200);
    expect((await maia.api('GET', target, { token })).status).toBe(200);
    await maia.control('DELETE', 'faults');

    await addFault({ route: 'list*', status: 502, match: { projectId: seedIds.analytics } });
    expect((await maia.api('GET', `/v1/projects/${seedIds.analytics}/environments`, { token })).status).toBe(
      502,
    );
    expect(
      (await maia.api('GET', `/v1/projects/${seedIds.testProject}/environments`, { token })).status,
    ).toBe(200);
    // A listing whose path names no project is not that project's call.
    expect((await maia.api('GET', '/v1/projects', { token })).status).toBe(200);
  });

  it('deletes one fault by id, or all of them', async () => {
    const first = await addFault({ route: 'listProjects', status: 500 });
    const second = await addFault({ route: 'listEnvironments', status: 500 });
    expect((await maia.control('DELETE', `faults/${first}`)).status).toBe(204);
    expect((await maia.control('DELETE', `faults/${first}`)).status).toBe(404);
    expect((await maia.control('GET', 'faults')).body.results.map((f: { id: string }) => f.id)).toEqual([
      second,
    ]);
    expect((await maia.api('GET', '/v1/projects', { token })).status).toBe(200);
    expect((await maia.api('GET', `/v1/projects/${seedIds.analytics}/environments`, { token })).status).toBe(
      500,
    );
    expect((await maia.control('DELETE', 'faults')).status).toBe(204);
    expect((await maia.api('GET', `/v1/projects/${seedIds.analytics}/environments`, { token })).status).toBe(
      200,
    );
  });

  it.each([
    ['an unknown route', { route: 'listThings', status: 500 }],
    ['no effect', { route: 'listProjects' }],
    ['status and drop together', { route: 'listProjects', status: 500, drop: 'before' }],
    ['a bad drop', { route: 'listProjects', drop: 'sometimes' }],
    ['a rate above 1', { route: 'listProjects', status: 500, rate: 2 }],
    ['a zero count', { route: 'listProjects', status: 500, count: 0 }],
    ['a match that is not an object', { route: 'getExecution', status: 500, match: 'abc' }],
    ['an empty match', { route: 'getExecution', status: 500, match: {} }],
    ['an unknown match member', { route: 'getExecution', status: 500, match: { runId: 'abc' } }],
    [
      'an execution id on a route without one',
      { route: 'listProjects', status: 500, match: { executionId: 'a' } },
    ],
    ['a relative match path', { route: '*', status: 500, match: { path: 'dpc/v1/projects' } }],
  ])('rejects a fault with %s (400)', async (_case, fault) => {
    const res = await maia.control('POST', 'faults', fault);
    expect(res.status).toBe(400);
    expect((await maia.control('GET', 'faults')).body.results).toEqual([]);
  });
});

describe('counters', () => {
  it('counts every decided answer by route and status (faults and 401s included), not control calls', async () => {
    await maia.control('DELETE', 'counters');
    expect((await maia.control('GET', 'counters')).body).toEqual({ total: 0, routes: {} });
    await maia.api('GET', '/v1/projects', { token });
    await maia.api('GET', '/v1/projects', { token });
    await maia.api('GET', '/v1/projects');
    await maia.api(
      'GET',
      `/v1/projects/${seedIds.analytics}/pipeline-executions/00000000-0000-4000-8000-000000000000`,
      { token },
    );
    await addFault({ route: 'getExecution', status: 429, headers: { 'Retry-After': '1' }, count: 1 });
    await maia.api(
      'GET',
      `/v1/projects/${seedIds.analytics}/pipeline-executions/${seedIds.historyOrdersProd}`,
      { token },
    );
    await maia.api(
      'GET',
      `/v1/projects/${seedIds.analytics}/pipeline-executions/${seedIds.historyOrdersProd}`,
      { token },
    );
    await maia.token();
    await maia.api('GET', '/v1/nothing-here', { token });
    expect((await maia.control('GET', 'counters')).body).toEqual({
      total: 8,
      routes: {
        listProjects: { total: 3, byStatus: { '200': 2, '401': 1 } },
        getExecution: { total: 3, byStatus: { '404': 1, '429': 1, '200': 1 } },
        token: { total: 1, byStatus: { '200': 1 } },
        unmatched: { total: 1, byStatus: { '404': 1 } },
      },
    });
    expect((await maia.control('DELETE', 'counters')).status).toBe(204);
    expect((await maia.control('GET', 'counters')).body).toEqual({ total: 0, routes: {} });
  });
});

describe('recorded requests', () => {
  it('records each Maia request with its route, path and every query parameter as sent (control calls not)', async () => {
    await maia.control('DELETE', 'requests');
    await maia.api('GET', `/v1/pipeline-executions?limit=5&status=RUNNING&status=FAILED&timeFrame=x`, {
      token,
    });
    await maia.api('GET', '/v1/nowhere', { token });
    await maia.control('GET', 'counters');
    expect((await maia.control('GET', 'requests')).body).toEqual({
      results: [
        {
          route: 'listExecutions',
          method: 'GET',
          path: '/dpc/v1/pipeline-executions',
          query: { limit: ['5'], status: ['RUNNING', 'FAILED'], timeFrame: ['x'] },
        },
        { route: 'unmatched', method: 'GET', path: '/dpc/v1/nowhere', query: {} },
      ],
    });
    expect((await maia.control('DELETE', 'requests')).status).toBe(204);
    expect((await maia.control('GET', 'requests')).body).toEqual({ results: [] });
  });
});

describe('tokens, reset and config', () => {
  it('revokes every issued token; a new one works', async () => {
    const other = await maia.token('second-client', 'second-secret');
    expect((await maia.control('POST', 'tokens/revoke')).status).toBe(204);
    expect((await maia.api('GET', '/v1/projects', { token })).status).toBe(401);
    expect((await maia.api('GET', '/v1/projects', { token: other })).status).toBe(401);
    const fresh = await maia.token();
    expect((await maia.api('GET', '/v1/projects', { token: fresh })).status).toBe(200);
  });

  it('resets state, faults, counters, tokens and config to the seed and start options', async () => {
    await maia.execute(token, seedIds.analytics, backfill);
    await maia.api('PUT', `/v1/agents/${seedIds.lockedAgent}/allowlist`, { token, body: { allowlist: [] } });
    await maia.control('PATCH', 'config', { detailsWrapped: true, timeScale: 3 });
    await addFault({ route: 'listEnvironments', status: 500 });
    expect(await executionCount()).toBe(5);

    expect((await maia.control('POST', 'reset')).status).toBe(204);
    expect(await executionCount()).toBe(4);
    expect((await maia.control('GET', 'faults')).body.results).toEqual([]);
    expect((await maia.control('GET', 'counters')).body.total).toBe(0);
    expect((await maia.control('GET', 'config')).body).toEqual({
      timeScale: 0.02,
      tokenLifetimeSeconds: 1800,
      rateLimitPerMinute: 1000,
      detailsWrapped: false,
    });
    expect((await maia.api('GET', '/v1/projects', { token })).status).toBe(401);
    const fresh = await maia.token();
    const allowlist = await maia.api('GET', `/v1/agents/${seedIds.lockedAgent}/allowlist`, { token: fresh });
    expect(allowlist.body.allowlist).toEqual([{ projectId: seedIds.marketing, environmentName: 'Staging' }]);
  });

  it('switches the details wrapper both ways and answers the whole config', async () => {
    const path = `/v1/projects/${seedIds.analytics}/pipeline-executions/${seedIds.historyOrdersProd}`;
    const on = await maia.control('PATCH', 'config', { detailsWrapped: true });
    expect(on.status).toBe(200);
    expect(on.body).toEqual({
      timeScale: 0.02,
      tokenLifetimeSeconds: 1800,
      rateLimitPerMinute: 1000,
      detailsWrapped: true,
    });
    const wrapped = await maia.api('GET', path, { token });
    expect(wrapped.body.result.pipelineExecutionId).toBe(seedIds.historyOrdersProd);
    expect(wrapped.body.result).not.toHaveProperty('projectId');
    await maia.control('PATCH', 'config', { detailsWrapped: false });
    const flat = await maia.api('GET', path, { token });
    expect(flat.body).toMatchObject({
      pipelineExecutionId: seedIds.historyOrdersProd,
      projectId: seedIds.analytics,
    });
  });

  it.each([
    [{ timeScale: 0 }],
    [{ detailsWrapped: 'yes' }],
    [{ rateLimitPerMinute: 1.5 }],
    [{ colour: 'blue' }],
  ])('rejects the config patch %j with 400', async (patch) => {
    const res = await maia.control('PATCH', 'config', patch);
    expect(res.status).toBe(400);
    expect(res.contentType).toContain(problemJson);
  });

  it('lists every execution oldest first with its tag and variables', async () => {
    const id = await maia.execute(token, seedIds.testProject, {
      pipelineName: 'Dev Pipeline',
      environmentName: 'Dev Environment',
      executionTag: 'ops-1',
      gridVariables: { g: [['1']] },
    });
    const res = await maia.control('GET', 'executions');
    expect(res.body.results.map((e: { pipelineExecutionId: string }) => e.pipelineExecutionId)).toEqual([
      seedIds.historyOrdersProd,
      seedIds.historyCustomersProd,
      seedIds.historyForbidden,
      seedIds.historyMyPipeline,
      id,
    ]);
    expect(res.body.results[4]).toMatchObject({
      executionTag: 'ops-1',
      versionName: '1.1.1',
      variables: { scalarVariables: {}, gridVariables: { g: [['1']] } },
    });
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After per client id once the per-minute budget is spent', async () => {
    const limited = await startEmulator({ rateLimitPerMinute: 3, quiet: true });
    try {
      const client = new EmulatorTestClient(limited);
      const sandbox = await client.token();
      const second = await client.token('second-client', 'second-secret');
      for (let i = 0; i < 3; i++)
        expect((await client.api('GET', '/v1/projects', { token: sandbox })).status).toBe(200);
      const over = await client.api('GET', '/v1/projects', { token: sandbox });
      expect(over.status).toBe(429);
      expect(over.contentType).toContain(problemJson);
      const retryAfter = Number(over.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // Another client id has its own budget.
      expect((await client.api('GET', '/v1/projects', { token: second })).status).toBe(200);
      const counters = (await client.control('GET', 'counters')).body;
      expect(counters.routes.listProjects.byStatus).toEqual({ '200': 4, '429': 1 });
      // Raising the limit at run time lets the spent client through again.
      await client.control('PATCH', 'config', { rateLimitPerMinute: 10 });
      expect((await client.api('GET', '/v1/projects', { token: sandbox })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('lifecycle', () => {
  it('close() stops answering and can be called twice', async () => {
    const extra = await startEmulator({ quiet: true });
    expect((await request(`${extra.url}/__emulator/config`)).status).toBe(200);
    await extra.close();
    await extra.close();
    await expect(request(`${extra.url}/__emulator/config`)).rejects.toThrow('fetch failed');
  });
});
