import { startEmulator, type RunningEmulator } from '../../src/emulator/emulator';
import { eventually } from '../support/eventually';
import { EmulatorTestClient, request, seedIds, uuidPattern } from './emulator-test.client';

/**
 * Every row of docs/maia-api.md against the emulator over real HTTP: hosts and authentication,
 * page-based lists, each endpoint, statuses, runners and FORBIDDEN, and each error row.
 */

const timeScale = 0.02;
const problemJson = 'application/problem+json';
const noMillis = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const withMillis = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let emulator: RunningEmulator;
let maia: EmulatorTestClient;
let token: string;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, timeScale, quiet: true });
  maia = new EmulatorTestClient(emulator);
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(async () => {
  await maia.reset();
  token = await maia.token();
});

const executionsPath = (projectId: string) => `/v1/projects/${projectId}/pipeline-executions`;

describe('hosts and authentication', () => {
  it('issues a bearer token for form-encoded client credentials', async () => {
    const res = await maia.tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'sandbox-client',
      client_secret: 'sandbox-secret',
      audience: 'https://api.matillion.com',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      token_type: 'Bearer',
      expires_in: 1800,
      scope: 'pipeline-execution',
    });
    const projects = await maia.api('GET', '/v1/projects', { token: res.body.access_token });
    expect(projects.status).toBe(200);
  });

  it('answers bad credentials with the Auth0-style 401', async () => {
    const res = await maia.tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'sandbox-client',
      client_secret: 'wrong',
      audience: 'https://api.matillion.com',
    });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'access_denied', error_description: 'Unauthorized' });
    const unknown = await maia.tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'nobody',
      client_secret: 'x',
    });
    expect(unknown.status).toBe(401);
  });

  it('answers another grant type with 400 unsupported_grant_type', async () => {
    const res = await maia.tokenRequest({
      grant_type: 'password',
      client_id: 'sandbox-client',
      client_secret: 'sandbox-secret',
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unsupported_grant_type');
  });

  it('answers 401 problem+json on /dpc/v1 without, with an unknown, or with an expired bearer token', async () => {
    const missing = await maia.api('GET', '/v1/projects');
    expect(missing.status).toBe(401);
    expect(missing.contentType).toContain(problemJson);
    expect(missing.body).toMatchObject({ status: 401, title: 'Unauthorized' });
    expect(typeof missing.body.detail).toBe('string');

    const unknown = await maia.api('GET', '/v1/projects', { token: 'not-a-token' });
    expect(unknown.status).toBe(401);

    await maia.control('PATCH', 'config', { tokenLifetimeSeconds: 1 });
    const shortLived = await maia.tokenRequest({
      grant_type: 'client_credentials',
      client_id: 'sandbox-client',
      client_secret: 'sandbox-secret',
    });
    expect(shortLived.body.expires_in).toBe(1);
    const fresh = await maia.api('GET', '/v1/projects', { token: shortLived.body.access_token });
    expect(fresh.status).toBe(200);
    const expired = await eventually(async () => {
      const answer = await maia.api('GET', '/v1/projects', { token: shortLived.body.access_token });
      expect(answer.status).toBe(401);
      return answer;
    });
    expect(expired.contentType).toContain(problemJson);
  });

  it('ignores the optional account-id header', async () => {
    const res = await maia.api('GET', '/v1/projects', {
      token,
      headers: { 'account-id': 'whatever-account' },
    });
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(5);
  });
});

describe('page-based lists', () => {
  it('answers true page, size and total numbers and pages through projects', async () => {
    const all = await maia.api('GET', '/v1/projects', { token });
    expect(all.body).toMatchObject({ page: 0, size: 25, total: 5 });
    expect(all.body.results).toHaveLength(5);
    expect(all.body.results[0]).toEqual({
      id: seedIds.analytics,
      name: 'Analytics Warehouse',
      description: 'Orders and customers into the warehouse',
    });

    const seen: string[] = [];
    for (let page = 0; ; page++) {
      const res = await maia.api('GET', `/v1/projects?page=${page}&size=2`, { token });
      expect(res.body).toMatchObject({ page, size: 2, total: 5 });
      seen.push(...res.body.results.map((p: { id: string }) => p.id));
      if ((page + 1) * 2 >= res.body.total) break;
    }
    expect(seen).toEqual(all.body.results.map((p: { id: string }) => p.id));
    const beyond = await maia.api('GET', '/v1/projects?page=9&size=2', { token });
    expect(beyond.body).toMatchObject({ page: 9, size: 2, total: 5, results: [] });
  });

  it('clamps size to 1..100 and rejects malformed paging with 400', async () => {
    expect((await maia.api('GET', '/v1/projects?size=500', { token })).body.size).toBe(100);
    const tiny = await maia.api('GET', '/v1/projects?size=0', { token });
    expect(tiny.body.size).toBe(1);
    expect(tiny.body.results).toHaveLength(1);
    for (const query of ['page=-1', 'page=abc', 'size=ten', 'page=1.5']) {
      const res = await maia.api('GET', `/v1/projects?${query}`, { token });
      expect(res.status).toBe(400);
      expect(res.contentType).toContain(problemJson);
    }
  });
});

describe('projects and environments', () => {
  it('lists only the projects a restricted credential may see, and 403s the others', async () => {
    const second = await maia.token('second-client', 'second-secret');
    const projects = await maia.api('GET', '/v1/projects', { token: second });
    expect(projects.body.total).toBe(2);
    expect(projects.body.results.map((p: { id: string }) => p.id)).toEqual([
      seedIds.analytics,
      seedIds.testProject,
    ]);
    const forbidden = await maia.api('GET', `/v1/projects/${seedIds.marketing}/environments`, {
      token: second,
    });
    expect(forbidden.status).toBe(403);
    expect(forbidden.contentType).toContain(problemJson);
    const envs = await maia.api('GET', `/v1/projects/${seedIds.analytics}/environments`, { token: second });
    expect(envs.body.results.map((e: { name: string }) => e.name)).toEqual(['Dev']);
    const prodPipelines = await maia.api(
      'GET',
      `/v1/projects/${seedIds.analytics}/published-pipelines?environmentName=Prod`,
      { token: second },
    );
    expect(prodPipelines.status).toBe(403);
  });

  it('lists environments with their default runner', async () => {
    const res = await maia.api('GET', `/v1/projects/${seedIds.marketing}/environments`, { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      page: 0,
      size: 25,
      total: 2,
      results: [
        { name: 'Staging', defaultAgentId: seedIds.lockedAgent, defaultAgentName: 'Locked-down Agent' },
        { name: 'Restricted', defaultAgentId: seedIds.lockedAgent, defaultAgentName: 'Locked-down Agent' },
      ],
    });
  });

  it('answers 404 for an unknown project and 400 for a malformed project id', async () => {
    const unknown = await maia.api('GET', '/v1/projects/00000000-0000-4000-8000-000000000000/environments', {
      token,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.contentType).toContain(problemJson);
    expect(unknown.body).toMatchObject({ status: 404, title: 'Not Found' });
    const malformed = await maia.api('GET', '/v1/projects/not-a-uuid/environments', { token });
    expect(malformed.status).toBe(400);
  });
});

describe('published pipelines', () => {
  it('lists the pipelines published to an environment, names URL-decoded and matched exactly', async () => {
    const res = await maia.api(
      'GET',
      `/v1/projects/${seedIds.testProject}/published-pipelines?environmentName=${encodeURIComponent('Dev Environment')}`,
      { token },
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      page: 0,
      size: 25,
      total: 3,
      results: [
        { name: 'My pipeline', publishedTime: '2023-11-24T10:39:02.182Z' },
        { name: 'Pipeline 1', publishedTime: '2023-11-24T10:40:00Z' },
        { name: 'Dev Pipeline', publishedTime: '2023-11-24T10:41:00Z' },
      ],
    });
    const wrongCase = await maia.api(
      'GET',
      `/v1/projects/${seedIds.testProject}/published-pipelines?environmentName=${encodeURIComponent('dev environment')}`,
      { token },
    );
    expect(wrongCase.status).toBe(404);
  });

  it('answers without environmentName with what is published to any environment (each once), 404 for an unknown environment', async () => {
    const everywhere = await maia.api('GET', `/v1/projects/${seedIds.analytics}/published-pipelines`, {
      token,
    });
    expect(everywhere.status).toBe(200);
    const names = (everywhere.body.results as { name: string }[]).map((p) => p.name);
    expect(names).toEqual([...new Set(names)]);
    expect(names).toEqual(
      expect.arrayContaining(['FOLDER/load_orders.orch.yaml', 'transform/daily_revenue.tran.yaml']),
    );
    expect(everywhere.body.total).toBe(names.length);
    const unknown = await maia.api(
      'GET',
      `/v1/projects/${seedIds.analytics}/published-pipelines?environmentName=QA`,
      {
        token,
      },
    );
    expect(unknown.status).toBe(404);
  });
});

describe('artifacts (published versions) and runners', () => {
  const analyticsArtifacts = `/v1/projects/${seedIds.analytics}/artifacts`;

  it('lists the versions published to an environment, newest version first, paged', async () => {
    const res = await maia.api('GET', `${analyticsArtifacts}?environmentName=Dev`, { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      page: 0,
      size: 25,
      total: 4,
      results: [
        { versionName: '2.0.0', environmentName: 'Dev', enabled: true },
        { versionName: '1.1.0', environmentName: 'Dev', enabled: true },
        { versionName: '1.0.0', environmentName: 'Dev', enabled: true },
        { versionName: '0.9.0', environmentName: 'Dev', enabled: true },
      ],
    });
    const second = await maia.api('GET', `${analyticsArtifacts}?environmentName=Dev&page=1&size=3`, {
      token,
    });
    expect(second.body).toMatchObject({ page: 1, size: 3, total: 4 });
    expect(second.body.results.map((a: { versionName: string }) => a.versionName)).toEqual(['0.9.0']);
    const everywhere = await maia.api('GET', analyticsArtifacts, { token });
    expect(everywhere.body.total).toBe(4 + 3); // Dev's four and Prod's 1.1.0, 1.0.0, 0.9.0
    const unknown = await maia.api('GET', `${analyticsArtifacts}?environmentName=QA`, { token });
    expect(unknown.status).toBe(404);
  });

  it('answers one version with the pipelines it holds; 400 without a name, 404 for one not published there', async () => {
    const res = await maia.api(
      'GET',
      `${analyticsArtifacts}/details?environmentName=Prod&versionName=1.0.0`,
      {
        token,
      },
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      artifactDetails: { versionName: '1.0.0', environmentName: 'Prod', enabled: true },
      pipelines: [
        { name: 'FOLDER/load_orders.orch.yaml' },
        { name: 'FOLDER/load_customers.orch.yaml' },
        { name: 'FOLDER/long_backfill.orch.yaml' },
      ],
    });
    const notThere = await maia.api(
      'GET',
      `${analyticsArtifacts}/details?environmentName=Prod&versionName=2.0.0`,
      { token },
    );
    expect(notThere.status).toBe(404);
    expect(notThere.contentType).toContain(problemJson);
    const noVersion = await maia.api('GET', `${analyticsArtifacts}/details?environmentName=Prod`, { token });
    expect(noVersion.status).toBe(400);
    const noEnvironment = await maia.api('GET', `${analyticsArtifacts}/details?versionName=1.0.0`, { token });
    expect(noEnvironment.status).toBe(400);
  });

  it('refuses artifacts of a project or environment the credential has no role on', async () => {
    const second = await maia.token('second-client', 'second-secret');
    const prod = await maia.api('GET', `${analyticsArtifacts}?environmentName=Prod`, { token: second });
    expect(prod.status).toBe(403);
    const visible = await maia.api('GET', analyticsArtifacts, { token: second });
    expect(visible.status).toBe(200);
    expect(new Set(visible.body.results.map((a: { environmentName: string }) => a.environmentName))).toEqual(
      new Set(['Dev']),
    );
    const marketing = await maia.api('GET', `/v1/projects/${seedIds.marketing}/artifacts`, { token: second });
    expect(marketing.status).toBe(403);
  });

  it('executes a version the artifacts list names, and 404s one it does not', async () => {
    const listed = await maia.api('GET', `${analyticsArtifacts}?environmentName=Prod`, { token });
    const versionName = listed.body.results[0].versionName as string;
    const ok = await maia.api('POST', executionsPath(seedIds.analytics), {
      token,
      body: { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Prod', versionName },
    });
    expect(ok.status).toBe(201);
    const unknown = await maia.api('POST', executionsPath(seedIds.analytics), {
      token,
      body: { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Prod', versionName: '2.0.0' },
    });
    expect(unknown.status).toBe(404);
  });

  it('lists every runner of the account, paged, to any credential', async () => {
    const res = await maia.api('GET', '/v1/agents', { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      page: 0,
      size: 25,
      total: 3,
      results: [
        { agentId: seedIds.devAgent, name: 'Dev Agent', restricted: false },
        { agentId: seedIds.prodAgent, name: 'Prod Agent', restricted: false },
        { agentId: seedIds.lockedAgent, name: 'Locked-down Agent', restricted: true },
      ],
    });
    const paged = await maia.api('GET', '/v1/agents?page=1&size=2', { token });
    expect(paged.body.results).toEqual([
      { agentId: seedIds.lockedAgent, name: 'Locked-down Agent', restricted: true },
    ]);
    const second = await maia.token('second-client', 'second-secret');
    expect((await maia.api('GET', '/v1/agents', { token: second })).body.total).toBe(3);
    expect((await maia.api('GET', '/v1/agents')).status).toBe(401);
    expect((await maia.api('POST', '/v1/agents', { token, body: {} })).status).toBe(405);
  });
});

describe('execute', () => {
  it('returns 201 with a pipelineExecutionId at once and runs the latest or the named version', async () => {
    const res = await maia.api('POST', executionsPath(seedIds.analytics), {
      token,
      body: { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Dev' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ pipelineExecutionId: expect.stringMatching(uuidPattern) });
    const pinned = await maia.execute(token, seedIds.analytics, {
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      environmentName: 'Dev',
      versionName: '1.0.0',
    });
    const recorded = (await maia.control('GET', 'executions')).body.results;
    expect(
      recorded.find(
        (e: { pipelineExecutionId: string }) => e.pipelineExecutionId === res.body.pipelineExecutionId,
      ),
    ).toMatchObject({ versionName: '1.1.0', agentId: seedIds.devAgent });
    expect(
      recorded.find((e: { pipelineExecutionId: string }) => e.pipelineExecutionId === pinned),
    ).toMatchObject({
      versionName: '1.0.0',
    });
  });

  it('accepts scalar and grid variables and never echoes them back', async () => {
    const id = await maia.execute(token, seedIds.analytics, {
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      environmentName: 'Dev',
      scalarVariables: { region: 'eu' },
      gridVariables: {
        ranges: [
          ['a', 'b'],
          ['c', 'd'],
        ],
      },
    });
    const details = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}`, { token });
    expect(JSON.stringify(details.body)).not.toContain('region');
    const recorded = (await maia.control('GET', 'executions')).body.results.find(
      (e: { pipelineExecutionId: string }) => e.pipelineExecutionId === id,
    );
    expect(recorded.scalarVariables).toEqual({ region: 'eu' });
    expect(recorded.gridVariables).toEqual({
      ranges: [
        ['a', 'b'],
        ['c', 'd'],
      ],
    });
  });

  it.each([
    ['no body', undefined],
    ['an array', []],
    ['no pipelineName', { environmentName: 'Dev' }],
    ['no environmentName', { pipelineName: 'FOLDER/load_orders.orch.yaml' }],
    ['a numeric pipelineName', { pipelineName: 7, environmentName: 'Dev' }],
    [
      'a non-string scalar',
      { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Dev', scalarVariables: { n: 1 } },
    ],
    [
      'a flat grid',
      { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Dev', gridVariables: { g: ['a'] } },
    ],
    [
      'a malformed agentId',
      { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Dev', agentId: 'agent-1' },
    ],
  ])('answers 400 problem+json for %s', async (_case, body) => {
    const res = await maia.api('POST', executionsPath(seedIds.analytics), { token, body });
    expect(res.status).toBe(400);
    expect(res.contentType).toContain(problemJson);
    expect(res.body.status).toBe(400);
    expect((await maia.control('GET', 'executions')).body.results).toHaveLength(4);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const res = await maia.api('POST', executionsPath(seedIds.analytics), {
      token,
      body: '{"pipelineName": ',
    });
    expect(res.status).toBe(400);
  });

  it.each([
    [
      'an unknown project',
      '00000000-0000-4000-8000-000000000000',
      { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Dev' },
    ],
    [
      'an unknown environment',
      seedIds.analytics,
      { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'QA' },
    ],
    [
      'an unknown pipeline',
      seedIds.analytics,
      { pipelineName: 'FOLDER/nope.orch.yaml', environmentName: 'Dev' },
    ],
    [
      'a pipeline not published there',
      seedIds.analytics,
      { pipelineName: 'transform/daily_revenue.tran.yaml', environmentName: 'Prod' },
    ],
    [
      'an unknown version',
      seedIds.analytics,
      { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Dev', versionName: '9.9.9' },
    ],
    [
      'an unknown agent',
      seedIds.analytics,
      {
        pipelineName: 'FOLDER/load_orders.orch.yaml',
        environmentName: 'Dev',
        agentId: '5f0c1a2b-0009-4000-8000-000000000009',
      },
    ],
  ])('answers 404 for %s and creates nothing', async (_case, projectId, body) => {
    const res = await maia.api('POST', executionsPath(projectId), { token, body });
    expect(res.status).toBe(404);
    expect(res.contentType).toContain(problemJson);
    expect((await maia.control('GET', 'executions')).body.results).toHaveLength(4);
  });

  it('answers 410 for the disabled pipeline', async () => {
    const res = await maia.api('POST', executionsPath(seedIds.analytics), {
      token,
      body: { pipelineName: 'legacy/old_export.orch.yaml', environmentName: 'Dev' },
    });
    expect(res.status).toBe(410);
    expect(res.contentType).toContain(problemJson);
    expect(res.body.detail).toContain('disabled');
  });

  it('answers 403 when the credential has no role on the environment', async () => {
    const second = await maia.token('second-client', 'second-secret');
    const res = await maia.api('POST', executionsPath(seedIds.analytics), {
      token: second,
      body: { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Prod' },
    });
    expect(res.status).toBe(403);
    const allowed = await maia.api('POST', executionsPath(seedIds.analytics), {
      token: second,
      body: { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Dev' },
    });
    expect(allowed.status).toBe(201);
  });

  it('answers 409 with the guide body while a run with the same executionTag is unfinished, then accepts it again', async () => {
    // load_orders takes 1 s at this scale: ample time for the duplicate to meet the first run still going.
    await maia.control('PATCH', 'config', { timeScale: 0.25 });
    const body = {
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      environmentName: 'Dev',
      executionTag: 'nightly-run',
    };
    const first = await maia.execute(token, seedIds.analytics, body);
    const dup = await maia.api('POST', executionsPath(seedIds.analytics), { token, body });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({
      error: 'A pipeline execution with this tag is already running.',
      status: 409,
    });
    // The tag is per project/environment: the same tag in Prod is fine.
    await maia.execute(token, seedIds.analytics, { ...body, environmentName: 'Prod' });
    await maia.waitForStatus(token, seedIds.analytics, first, (s) => s === 'SUCCESS');
    await maia.execute(token, seedIds.analytics, body);
    const tagged = (await maia.control('GET', 'executions')).body.results.filter(
      (e: { executionTag: string | null }) => e.executionTag === 'nightly-run',
    );
    expect(tagged).toHaveLength(3);
  });
});

describe('execution details, status and steps', () => {
  it('answers the flat execution with projectId and progresses to SUCCESS', async () => {
    const scale = 0.25; // load_orders takes 1 s: the first read surely sees it RUNNING.
    await maia.control('PATCH', 'config', { timeScale: scale });
    const id = await maia.execute(token, seedIds.analytics, {
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      environmentName: 'Dev',
    });
    const running = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}`, { token });
    expect(running.status).toBe(200);
    expect(running.body).toEqual({
      pipelineExecutionId: id,
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      pipelineType: 'ORCHESTRATION',
      projectId: seedIds.analytics,
      environmentName: 'Dev',
      status: 'RUNNING',
      startedAt: expect.stringMatching(withMillis),
      finishedAt: null,
      message: null,
      trigger: 'API',
      scheduleId: null,
      user: null,
    });
    await maia.waitForStatus(token, seedIds.analytics, id, (s) => s !== 'RUNNING');
    const done = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}`, { token });
    expect(done.body).toMatchObject({ status: 'SUCCESS', message: '"Rewrite Table": Success' });
    expect(done.body.finishedAt).toMatch(withMillis);
    expect(Date.parse(done.body.finishedAt) - Date.parse(done.body.startedAt)).toBe(4000 * scale);
  });

  it('ends a failing pipeline FAILED with the error message', async () => {
    const id = await maia.execute(token, seedIds.analytics, {
      pipelineName: 'FOLDER/load_customers.orch.yaml',
      environmentName: 'Dev',
    });
    expect(await maia.waitForStatus(token, seedIds.analytics, id, (s) => s !== 'RUNNING')).toBe('FAILED');
    const details = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}`, { token });
    expect(details.body.message).toBe('"Rewrite Table": Table CUSTOMERS_STAGE not found');
  });

  it('answers the wrapped shape without projectId when switched', async () => {
    await maia.control('PATCH', 'config', { detailsWrapped: true });
    const res = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${seedIds.historyOrdersProd}`, {
      token,
    });
    expect(Object.keys(res.body)).toEqual(['result']);
    expect(res.body.result).toMatchObject({
      pipelineExecutionId: seedIds.historyOrdersProd,
      status: 'SUCCESS',
    });
    expect(res.body.result).not.toHaveProperty('projectId');
  });

  it('serves history with second-precision timestamps and live runs with milliseconds', async () => {
    const res = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${seedIds.historyOrdersProd}`, {
      token,
    });
    expect(res.body).toMatchObject({
      status: 'SUCCESS',
      trigger: 'SCHEDULE',
      scheduleId: seedIds.nightlySchedule,
      startedAt: expect.stringMatching(noMillis),
      finishedAt: expect.stringMatching(noMillis),
    });
    expect(Date.now() - Date.parse(res.body.startedAt)).toBeGreaterThanOrEqual(86_400_000);
  });

  it('answers the light status', async () => {
    const res = await maia.api(
      'GET',
      `${executionsPath(seedIds.analytics)}/${seedIds.historyCustomersProd}/status`,
      {
        token,
      },
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'FAILED' });
  });

  it('answers 404 for an unknown execution or one of another project, 400 for a malformed id', async () => {
    const unknown = await maia.api(
      'GET',
      `${executionsPath(seedIds.analytics)}/00000000-0000-4000-8000-000000000000`,
      {
        token,
      },
    );
    expect(unknown.status).toBe(404);
    expect(unknown.contentType).toContain(problemJson);
    const otherProject = await maia.api(
      'GET',
      `${executionsPath(seedIds.marketing)}/${seedIds.historyOrdersProd}/status`,
      {
        token,
      },
    );
    expect(otherProject.status).toBe(404);
    const malformed = await maia.api('GET', `${executionsPath(seedIds.analytics)}/12345/steps`, { token });
    expect(malformed.status).toBe(400);
  });

  it('lists only the steps that have started, each with its result', async () => {
    await maia.control('PATCH', 'config', { timeScale: 1 });
    const id = await maia.execute(token, seedIds.analytics, {
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      environmentName: 'Dev',
    });
    // Start (200 ms) is done, Extract Orders (1800 ms) runs, Rewrite Table has not begun.
    const midway = await eventually(async () => {
      const answer = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}/steps`, { token });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ page: 0, size: 25, total: 2 });
      return answer;
    });
    expect(midway.body.results).toEqual([
      {
        id: expect.any(String),
        name: 'Start',
        result: {
          status: 'SUCCESS',
          startedAt: expect.stringMatching(withMillis),
          finishedAt: expect.stringMatching(withMillis),
        },
      },
      {
        id: expect.any(String),
        name: 'Extract Orders',
        result: { status: 'RUNNING', startedAt: expect.stringMatching(withMillis) },
        childPipeline: { pipelineName: 'FOLDER/extract_orders.orch.yaml' },
      },
    ]);
    const cancel = await maia.api('PATCH', `${executionsPath(seedIds.analytics)}/${id}`, {
      token,
      body: { status: 'CANCELLED', forceUpdate: true },
    });
    expect(cancel.status).toBe(200);
  });

  it('pages steps, and a terminal step may lack timestamps', async () => {
    const id = await maia.execute(token, seedIds.analytics, {
      pipelineName: 'FOLDER/load_customers.orch.yaml',
      environmentName: 'Dev',
    });
    await maia.waitForStatus(token, seedIds.analytics, id, (s) => s === 'FAILED');
    const all = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}/steps`, { token });
    expect(all.body.total).toBe(4);
    expect(
      all.body.results.map((s: { name: string; result: { status: string } }) => [s.name, s.result.status]),
    ).toEqual([
      ['Start', 'SUCCESS'],
      ['Extract Customers', 'SUCCESS'],
      ['Rewrite Table', 'FAILED'],
      ['Notify', 'SKIPPED'],
    ]);
    expect(all.body.results[2].result.message).toBe('"Rewrite Table": Table CUSTOMERS_STAGE not found');
    expect(all.body.results[3].result).toEqual({ status: 'SKIPPED' });
    const second = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}/steps?page=1&size=3`, {
      token,
    });
    expect(second.body).toMatchObject({ page: 1, size: 3, total: 4 });
    expect(second.body.results.map((s: { name: string }) => s.name)).toEqual(['Notify']);
  });
});

describe('cancel', () => {
  const backfill = { pipelineName: 'FOLDER/long_backfill.orch.yaml', environmentName: 'Dev' };

  it('cancels gracefully: RUNNING → CANCELLING → CANCELLED, the running step ends CANCELLED', async () => {
    // At this scale Start takes 100 ms and the grace 400 ms: room to observe CANCELLING on a busy machine.
    await maia.control('PATCH', 'config', { timeScale: 0.2 });
    const id = await maia.execute(token, seedIds.analytics, backfill);
    await eventually(async () => {
      const steps = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}/steps`, { token });
      expect(steps.body.total).toBe(2); // Start is done, Backfill History runs
    });
    const res = await maia.api('PATCH', `${executionsPath(seedIds.analytics)}/${id}`, {
      token,
      body: { status: 'CANCELLED', forceUpdate: false },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ pipelineExecutionId: id });
    const cancelling = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}/status`, { token });
    expect(cancelling.body.status).toBe('CANCELLING');
    expect(await maia.waitForStatus(token, seedIds.analytics, id, (s) => s !== 'CANCELLING')).toBe(
      'CANCELLED',
    );
    const details = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}`, { token });
    expect(details.body.finishedAt).toMatch(withMillis);
    const steps = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}/steps`, { token });
    expect(steps.body.results.map((s: { result: { status: string } }) => s.result.status)).toEqual([
      'SUCCESS',
      'CANCELLED',
    ]);
  });

  it('cancels with forceUpdate straight to CANCELLED', async () => {
    const id = await maia.execute(token, seedIds.analytics, backfill);
    const res = await maia.api('PATCH', `${executionsPath(seedIds.analytics)}/${id}`, {
      token,
      body: { status: 'CANCELLED', forceUpdate: true },
    });
    expect(res.status).toBe(200);
    const status = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}/status`, { token });
    expect(status.body.status).toBe('CANCELLED');
  });

  it('answers 409 problem+json when cancelling a finished run', async () => {
    const res = await maia.api('PATCH', `${executionsPath(seedIds.analytics)}/${seedIds.historyOrdersProd}`, {
      token,
      body: { status: 'CANCELLED', forceUpdate: true },
    });
    expect(res.status).toBe(409);
    expect(res.contentType).toContain(problemJson);
    expect(res.body.status).toBe(409);
  });

  it('answers 400 for any status but CANCELLED (the guide\'s "My pipeline" slip) or a non-boolean forceUpdate', async () => {
    const id = await maia.execute(token, seedIds.analytics, backfill);
    for (const body of [
      { status: 'My pipeline', forceUpdate: true },
      { status: 'CANCELLED', forceUpdate: 'yes' },
      {},
    ]) {
      const res = await maia.api('PATCH', `${executionsPath(seedIds.analytics)}/${id}`, { token, body });
      expect(res.status).toBe(400);
      expect(res.contentType).toContain(problemJson);
    }
    const status = await maia.api('GET', `${executionsPath(seedIds.analytics)}/${id}/status`, { token });
    expect(status.body.status).toBe('RUNNING');
  });
});

describe('GET /v1/pipeline-executions', () => {
  const list = (query: string) => maia.api('GET', `/v1/pipeline-executions${query}`, { token });
  const ids = (res: { body: { results: Array<{ pipelineExecutionId: string }> } }) =>
    res.body.results.map((e) => e.pipelineExecutionId);

  it('lists newest first with projectId, and pages with more/paginationToken until more is absent', async () => {
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      created.push(
        await maia.execute(token, seedIds.testProject, {
          pipelineName: 'My pipeline',
          environmentName: 'Environment-1',
        }),
      );
    }
    const first = await list('?limit=3');
    expect(first.status).toBe(200);
    expect(ids(first)).toEqual([created[4], created[3], created[2]]);
    expect(first.body.results[0].projectId).toBe(seedIds.testProject);
    expect(typeof first.body.more).toBe('string');

    const seen = [...ids(first)];
    let more: string | undefined = first.body.more;
    while (more) {
      const page = await list(`?limit=3&paginationToken=${encodeURIComponent(more)}`);
      expect(page.status).toBe(200);
      seen.push(...ids(page));
      more = page.body.more;
      if (more === undefined) expect(page.body).not.toHaveProperty('more');
    }
    expect(seen).toEqual([
      ...[...created].reverse(),
      seedIds.historyMyPipeline,
      seedIds.historyForbidden,
      seedIds.historyCustomersProd,
      seedIds.historyOrdersProd,
    ]);
    const exact = await list('?limit=9');
    expect(exact.body.results).toHaveLength(9);
    expect(exact.body).not.toHaveProperty('more');
  });

  it('filters by project, pipeline name (case-insensitive partial), environment, status and schedule', async () => {
    const orders = await maia.execute(token, seedIds.analytics, {
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      environmentName: 'Dev',
    });
    const backfill = await maia.execute(token, seedIds.analytics, {
      pipelineName: 'FOLDER/long_backfill.orch.yaml',
      environmentName: 'Dev',
    });
    expect(ids(await list(`?projectId=${seedIds.analytics}`))).toEqual([
      backfill,
      orders,
      seedIds.historyCustomersProd,
      seedIds.historyOrdersProd,
    ]);
    expect(ids(await list('?pipelineName=LOAD_ORDERS'))).toEqual([orders, seedIds.historyOrdersProd]);
    expect(ids(await list('?environmentName=Prod'))).toEqual([
      seedIds.historyCustomersProd,
      seedIds.historyOrdersProd,
    ]);
    expect(ids(await list('?environmentName=prod'))).toEqual([]);
    expect(ids(await list('?status=FAILED&status=FORBIDDEN'))).toEqual([
      seedIds.historyForbidden,
      seedIds.historyCustomersProd,
    ]);
    await maia.waitForStatus(token, seedIds.analytics, orders, (s) => s === 'SUCCESS');
    expect(ids(await list('?status=RUNNING'))).toEqual([backfill]);
    expect(ids(await list('?status=SUCCESS&projectId=' + seedIds.analytics))).toEqual([
      orders,
      seedIds.historyOrdersProd,
    ]);
    expect(ids(await list(`?scheduleId=${seedIds.nightlySchedule}`))).toEqual([
      seedIds.historyCustomersProd,
      seedIds.historyOrdersProd,
    ]);
  });

  it('filters by an inclusive startedAfter/startedBefore window', async () => {
    const history = await maia.api(
      'GET',
      `${executionsPath(seedIds.analytics)}/${seedIds.historyCustomersProd}`,
      { token },
    );
    const startedAt: string = history.body.startedAt;
    expect(ids(await list(`?startedAfter=${startedAt}&startedBefore=${startedAt}`))).toEqual([
      seedIds.historyCustomersProd,
    ]);
    const after = new Date(Date.parse(startedAt) + 1).toISOString();
    expect(ids(await list(`?startedAfter=${after}&startedBefore=${new Date().toISOString()}`))).toEqual([
      seedIds.historyMyPipeline,
      seedIds.historyForbidden,
    ]);
  });

  it.each([
    ['an invalid startedAfter', '?startedAfter=yesterday'],
    ['an invalid startedBefore', '?startedBefore=2026-13-45T99:00:00Z'],
    ['an invalid paginationToken', '?paginationToken=not-a-token'],
    ['an unknown status', '?status=DONE'],
    ['a malformed projectId', '?projectId=abc'],
    ['a non-integer limit', '?limit=many'],
  ])('answers 400 problem+json for %s', async (_case, query) => {
    const res = await list(query);
    expect(res.status).toBe(400);
    expect(res.contentType).toContain(problemJson);
  });

  it('defaults limit to 25 and caps it at 100', async () => {
    for (let i = 0; i < 30; i++) {
      await maia.execute(token, seedIds.testProject, {
        pipelineName: 'My pipeline',
        environmentName: 'Environment-1',
      });
    }
    const defaults = await list('');
    expect(defaults.body.results).toHaveLength(25);
    expect(defaults.body.more).toBeDefined();
    const capped = await list('?limit=1000');
    expect(capped.body.results).toHaveLength(34);
    expect(capped.body).not.toHaveProperty('more');
  });

  it('shows a restricted credential only its projects and environments', async () => {
    const second = await maia.token('second-client', 'second-secret');
    const res = await maia.api('GET', '/v1/pipeline-executions', { token: second });
    expect(ids(res)).toEqual([seedIds.historyMyPipeline]);
  });
});

describe('runners, allow lists and FORBIDDEN', () => {
  const allowlistPath = `/v1/agents/${seedIds.lockedAgent}/allowlist`;
  const attribution = (environmentName: string) => ({
    pipelineName: 'campaigns/attribution.orch.yaml',
    environmentName,
  });

  it('ends runs on a restricted runner outside its allow list FORBIDDEN, with a message', async () => {
    const forbidden = await maia.execute(token, seedIds.marketing, attribution('Restricted'));
    const allowed = await maia.execute(token, seedIds.marketing, attribution('Staging'));
    expect(await maia.waitForStatus(token, seedIds.marketing, forbidden, (s) => s !== 'RUNNING')).toBe(
      'FORBIDDEN',
    );
    const details = await maia.api('GET', `${executionsPath(seedIds.marketing)}/${forbidden}`, { token });
    expect(details.body.message).toContain('allow list');
    const steps = await maia.api('GET', `${executionsPath(seedIds.marketing)}/${forbidden}/steps`, { token });
    expect(steps.body).toMatchObject({ total: 0, results: [] });
    expect(await maia.waitForStatus(token, seedIds.marketing, allowed, (s) => s !== 'RUNNING')).toBe(
      'SUCCESS',
    );
    const listed = await maia.api('GET', '/v1/pipeline-executions?status=FORBIDDEN', { token });
    expect(listed.body.results.map((e: { pipelineExecutionId: string }) => e.pipelineExecutionId)).toEqual([
      forbidden,
      seedIds.historyForbidden,
    ]);
  });

  it('lets agentId override the default runner', async () => {
    const id = await maia.execute(token, seedIds.analytics, {
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      environmentName: 'Dev',
      agentId: seedIds.lockedAgent,
    });
    expect(await maia.waitForStatus(token, seedIds.analytics, id, (s) => s !== 'RUNNING')).toBe('FORBIDDEN');
  });

  it('reads, replaces and patches the allow list; changes affect later executions', async () => {
    const initial = await maia.api('GET', allowlistPath, { token });
    expect(initial.status).toBe(200);
    expect(initial.body).toEqual({
      agentId: seedIds.lockedAgent,
      agentName: 'Locked-down Agent',
      restricted: true,
      allowlist: [{ projectId: seedIds.marketing, environmentName: 'Staging' }],
    });

    const before = await maia.execute(token, seedIds.marketing, attribution('Restricted'));
    const patched = await maia.api('PATCH', allowlistPath, {
      token,
      body: { add: [{ projectId: seedIds.marketing, environmentName: 'Restricted' }] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.allowlist).toEqual([
      { projectId: seedIds.marketing, environmentName: 'Staging' },
      { projectId: seedIds.marketing, environmentName: 'Restricted' },
    ]);
    const afterAdd = await maia.execute(token, seedIds.marketing, attribution('Restricted'));
    expect(await maia.waitForStatus(token, seedIds.marketing, before, (s) => s !== 'RUNNING')).toBe(
      'FORBIDDEN',
    );
    expect(await maia.waitForStatus(token, seedIds.marketing, afterAdd, (s) => s !== 'RUNNING')).toBe(
      'SUCCESS',
    );

    const replaced = await maia.api('PUT', allowlistPath, {
      token,
      body: { allowlist: [{ projectId: seedIds.marketing, environmentName: 'Restricted' }] },
    });
    expect(replaced.body.allowlist).toEqual([
      { projectId: seedIds.marketing, environmentName: 'Restricted' },
    ]);
    const staging = await maia.execute(token, seedIds.marketing, attribution('Staging'));
    expect(await maia.waitForStatus(token, seedIds.marketing, staging, (s) => s !== 'RUNNING')).toBe(
      'FORBIDDEN',
    );

    const removed = await maia.api('PATCH', allowlistPath, {
      token,
      body: { remove: [{ projectId: seedIds.marketing, environmentName: 'Restricted' }] },
    });
    expect(removed.body.allowlist).toEqual([]);
    const unrestricted = await maia.api('PATCH', allowlistPath, { token, body: { restricted: false } });
    expect(unrestricted.body.restricted).toBe(false);
    const open = await maia.execute(token, seedIds.marketing, attribution('Restricted'));
    expect(await maia.waitForStatus(token, seedIds.marketing, open, (s) => s !== 'RUNNING')).toBe('SUCCESS');
  });

  it('answers 400 for bad allow list bodies, 404 for an unknown agent, 403 for a restricted credential', async () => {
    for (const [method, body] of [
      ['PUT', {}],
      ['PUT', { allowlist: [{ projectId: 'x', environmentName: 'Dev' }] }],
      ['PATCH', {}],
      ['PATCH', { add: [{ projectId: seedIds.marketing }] }],
    ] as const) {
      const res = await maia.api(method, allowlistPath, { token, body });
      expect(res.status).toBe(400);
      expect(res.contentType).toContain(problemJson);
    }
    expect(
      (await maia.api('GET', '/v1/agents/5f0c1a2b-0009-4000-8000-000000000009/allowlist', { token })).status,
    ).toBe(404);
    expect((await maia.api('GET', '/v1/agents/agent-3/allowlist', { token })).status).toBe(400);
    const second = await maia.token('second-client', 'second-secret');
    expect((await maia.api('GET', allowlistPath, { token: second })).status).toBe(403);
    const unchanged = await maia.api('GET', allowlistPath, { token });
    expect(unchanged.body.allowlist).toEqual([{ projectId: seedIds.marketing, environmentName: 'Staging' }]);
  });
});

describe('unknown routes', () => {
  it('answers 404 for an unknown path and 405 for a wrong method', async () => {
    expect((await maia.api('GET', '/v1/schedules', { token })).status).toBe(404);
    const wrongMethod = await maia.api('DELETE', '/v1/projects', { token });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    const plain = await request(`${emulator.url}/nothing-here`);
    expect(plain.status).toBe(404);
  });

  it('answers its root with its entry points (the sandbox banner links there), uncounted', async () => {
    const before = (await request(`${emulator.url}/__emulator/counters`)).body;
    const root = await request(`${emulator.url}/`);
    expect(root.status).toBe(200);
    const index = root.body as Record<string, string>;
    expect(index).toMatchObject({
      name: 'Maia emulator',
      api: '/dpc/v1/projects',
      token: '/oauth/dpc/token',
    });
    for (const path of [index.counters, index.config])
      expect((await request(`${emulator.url}${path}`)).status).toBe(200);
    expect((await request(`${emulator.url}/__emulator/counters`)).body).toEqual(before);
  });
});
