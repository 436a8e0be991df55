import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { eventually } from '../support/eventually';
import { rest, seed, uuid } from './support/api-client';

/**
 * Maia's guide to executing pipelines (docs/maia-api.md), step by step, through the gateway's REST API:
 * Maia's own paths, bodies and shapes under /api/v1, errors as application/problem+json with the shared code.
 */
describe('the seed guide through REST', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  let url: string;

  beforeAll(async () => {
    maia = await startEmulatorFixture({ timeScale: 0.2 });
    gateway = await startGateway(gatewayEnv(maia));
    url = gateway.url;
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });

  const executions = (projectId: string) => `/api/v1/projects/${projectId}/pipeline-executions`;
  const post = (projectId: string, body: unknown, headers: Record<string, string> = {}) =>
    rest(url, 'POST', executions(projectId), { body, headers });
  const read = (projectId: string, id: string) => rest(url, 'GET', `${executions(projectId)}/${id}`);
  const waitFor = (projectId: string, id: string, statuses: string[]) =>
    eventually(
      async () => {
        const result = await read(projectId, id);
        expect(statuses).toContain(result.body?.status);
        return result;
      },
      { timeoutMs: 10_000 },
    );

  function expectProblem(result: Awaited<ReturnType<typeof rest>>, status: number, code: string): void {
    expect(result.status).toBe(status);
    expect(result.contentType).toMatch(/^application\/problem\+json/);
    expect(result.body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String) });
    expect(typeof result.body.detail).toBe('string');
  }

  it("step 1: GET /api/v1/projects answers Maia's page with true numbers", async () => {
    const result = await rest(url, 'GET', '/api/v1/projects?page=0&size=25');
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ page: 0, size: 25, total: 5 });
    expect(result.body.results).toContainEqual({
      id: seed.testProject,
      name: 'Test-project',
      description: 'project-1',
    });
    const second = await rest(url, 'GET', '/api/v1/projects?page=1&size=2');
    expect(second.body).toMatchObject({ page: 1, size: 2, total: 5 });
    expect(second.body.results).toHaveLength(2);
  });

  it('step 2: GET …/environments answers name, defaultAgentId and defaultAgentName', async () => {
    const result = await rest(url, 'GET', `/api/v1/projects/${seed.testProject}/environments`);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ page: 0, size: 25, total: 2 });
    expect(result.body.results).toContainEqual({
      name: 'Environment-1',
      defaultAgentId: seed.devAgent,
      defaultAgentName: 'Dev Agent',
    });
    const unknown = await rest(
      url,
      'GET',
      '/api/v1/projects/00000000-0000-4000-8000-000000000000/environments',
    );
    expectProblem(unknown, 404, 'NOT_FOUND');
  });

  it('step 3: GET …/published-pipelines?environmentName= lists what can run; without it, what runs anywhere', async () => {
    const result = await rest(
      url,
      'GET',
      `/api/v1/projects/${seed.testProject}/published-pipelines?environmentName=${encodeURIComponent('Dev Environment')}`,
    );
    expect(result.status).toBe(200);
    expect(result.body.total).toBe(3);
    expect(result.body.results).toContainEqual({
      name: 'My pipeline',
      publishedTime: '2023-11-24T10:39:02.182Z',
    });
    // As printed in the guide, without environmentName: what is published to any environment.
    const everywhere = await rest(url, 'GET', `/api/v1/projects/${seed.testProject}/published-pipelines`);
    expect(everywhere.status).toBe(200);
    expect(everywhere.body.results).toContainEqual({
      name: 'My pipeline',
      publishedTime: '2023-11-24T10:39:02.182Z',
    });
  });

  it('steps 4 and 5: POST executes (201 {pipelineExecutionId}); GET by id answers the flat execution until SUCCESS', async () => {
    const started = await post(seed.testProject, {
      pipelineName: 'Pipeline 1',
      environmentName: 'Dev Environment',
    });
    expect(started.status).toBe(201);
    expect(Object.keys(started.body)).toEqual(['pipelineExecutionId']);
    const id = started.body.pipelineExecutionId as string;
    expect(id).toMatch(uuid);

    const running = await read(seed.testProject, id);
    expect(running.status).toBe(200);
    expect(running.body).toMatchObject({
      pipelineExecutionId: id,
      pipelineName: 'Pipeline 1',
      pipelineType: 'ORCHESTRATION',
      projectId: seed.testProject,
      environmentName: 'Dev Environment',
      status: 'RUNNING',
      finishedAt: null,
      trigger: 'API',
    });
    const done = await waitFor(seed.testProject, id, ['SUCCESS', 'FAILED']);
    expect(done.body).toMatchObject({ status: 'SUCCESS', message: '"Rewrite Table": Success' });
    expect(done.body.finishedAt).toEqual(expect.any(String));

    const steps = await rest(url, 'GET', `${executions(seed.testProject)}/${id}/steps`);
    expect(steps.status).toBe(200);
    expect(steps.body).toMatchObject({ page: 0, total: 1 });
    expect(steps.body.results[0]).toMatchObject({
      name: 'Rewrite Table',
      result: { status: 'SUCCESS', message: '"Rewrite Table": Success' },
    });
  });

  it('step 4: versionName runs that version; an unknown version is a 404 problem', async () => {
    const started = await post(seed.testProject, {
      pipelineName: 'Dev Pipeline',
      environmentName: 'Dev Environment',
      versionName: '1.1.1',
    });
    expect(started.status).toBe(201);
    const run = (await maia.executions()).find(
      (e) => e.pipelineExecutionId === started.body.pipelineExecutionId,
    );
    expect(run?.versionName).toBe('1.1.1');

    const unknown = await post(seed.testProject, {
      pipelineName: 'Dev Pipeline',
      environmentName: 'Dev Environment',
      versionName: '9.9.9',
    });
    expectProblem(unknown, 404, 'NOT_FOUND');
  });

  it('step 4: the executionTag 409 is a CONFLICT problem with the tag and the running execution', async () => {
    const body = {
      pipelineName: 'Pipeline 1',
      environmentName: 'Dev Environment',
      executionTag: 'rest-nightly',
    };
    const first = await post(seed.testProject, body);
    expect(first.status).toBe(201);
    const second = await post(seed.testProject, body);
    expectProblem(second, 409, 'CONFLICT');
    expect(second.body).toMatchObject({
      executionTag: 'rest-nightly',
      existingExecutionId: first.body.pipelineExecutionId,
      // Maia's guide's 409 body, member for member, beside the problem's members.
      error: 'A pipeline execution with this tag is already running.',
      status: 409,
      detail: 'A pipeline execution with this tag is already running.',
    });
    expect((await maia.executions()).filter((e) => e.executionTag === 'rest-nightly')).toHaveLength(1);
  });

  it('step 5: GET /api/v1/pipeline-executions?status=FORBIDDEN lists only forbidden runs, with Maia token paging', async () => {
    const started = await post(seed.marketing, {
      pipelineName: 'campaigns/attribution.orch.yaml',
      environmentName: 'Restricted',
    });
    expect(started.status).toBe(201);
    const id = started.body.pipelineExecutionId as string;
    await waitFor(seed.marketing, id, ['FORBIDDEN', 'SUCCESS']);

    const listed = await rest(url, 'GET', '/api/v1/pipeline-executions?status=FORBIDDEN&limit=100');
    expect(listed.status).toBe(200);
    expect(listed.body.more).toBeUndefined();
    expect(listed.body.results.length).toBeGreaterThanOrEqual(1);
    expect(listed.body.results.every((e: { status: string }) => e.status === 'FORBIDDEN')).toBe(true);
    expect(listed.body.results.map((e: { pipelineExecutionId: string }) => e.pipelineExecutionId)).toContain(
      id,
    );

    // Token paging as Maia does it: `more` goes back as paginationToken until it is absent.
    const all = await rest(url, 'GET', '/api/v1/pipeline-executions?limit=100');
    const ids: string[] = [];
    let token: string | undefined;
    for (let i = 0; i < 50; i++) {
      const page = await rest(
        url,
        'GET',
        `/api/v1/pipeline-executions?limit=2${token ? `&paginationToken=${encodeURIComponent(token)}` : ''}`,
      );
      expect(page.status).toBe(200);
      ids.push(...page.body.results.map((e: { pipelineExecutionId: string }) => e.pipelineExecutionId));
      token = page.body.more;
      if (!token) break;
    }
    expect(ids).toEqual(all.body.results.map((e: { pipelineExecutionId: string }) => e.pipelineExecutionId));
  });

  it('step 6: PATCH cancels gracefully and by force; a finished run is an ALREADY_FINISHED problem with its status', async () => {
    const backfill = { pipelineName: 'FOLDER/long_backfill.orch.yaml', environmentName: 'Dev' };
    const cancel = (id: string, body: unknown) =>
      rest(url, 'PATCH', `${executions(seed.analytics)}/${id}`, { body });

    const graceful = (await post(seed.analytics, backfill)).body.pipelineExecutionId as string;
    const cancelled = await cancel(graceful, { status: 'CANCELLED', forceUpdate: false });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toEqual({ pipelineExecutionId: graceful });
    expect((await read(seed.analytics, graceful)).body.status).toBe('CANCELLING');
    expect((await waitFor(seed.analytics, graceful, ['CANCELLED'])).body.status).toBe('CANCELLED');

    const forced = (await post(seed.analytics, backfill)).body.pipelineExecutionId as string;
    expect((await cancel(forced, { status: 'CANCELLED', forceUpdate: true })).status).toBe(200);
    expect((await read(seed.analytics, forced)).body.status).toBe('CANCELLED');

    const again = await cancel(forced, { status: 'CANCELLED', forceUpdate: false });
    expectProblem(again, 409, 'ALREADY_FINISHED');
    expect(again.body).toMatchObject({ executionStatus: 'CANCELLED', executionId: forced });

    // The guide's example body ("status": "My pipeline") is a documentation slip: refused before Maia.
    expectProblem(await cancel(forced, { status: 'My pipeline', forceUpdate: true }), 400, 'BAD_USER_INPUT');
  });

  it('Idempotency-Key: the repeat answers the same run with Idempotent-Replayed: true; another body is refused', async () => {
    const key = `rest-guide-${Date.now()}`;
    const body = {
      pipelineName: 'My pipeline',
      environmentName: 'Environment-1',
      scalarVariables: { region: 'eu' },
    };
    const first = await post(seed.testProject, body, { 'idempotency-key': key });
    const repeat = await post(seed.testProject, body, { 'idempotency-key': key });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(repeat.status).toBe(201);
    expect(repeat.headers.get('idempotent-replayed')).toBe('true');
    expect(repeat.body).toEqual(first.body);
    const runs = (await maia.executions()).filter(
      (e) => e.pipelineExecutionId === first.body.pipelineExecutionId,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0].variables).toMatchObject({ scalarVariables: { region: 'eu' } });

    const other = await post(
      seed.testProject,
      { ...body, environmentName: 'Dev Environment' },
      { 'idempotency-key': key },
    );
    expectProblem(other, 409, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('serves the OpenAPI document and Swagger UI at /api/docs', async () => {
    const doc = await rest(url, 'GET', '/api/docs-json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/projects',
        '/api/v1/projects/{projectId}/environments',
        '/api/v1/projects/{projectId}/published-pipelines',
        '/api/v1/projects/{projectId}/pipeline-executions',
        '/api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}',
        '/api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}/steps',
        '/api/v1/pipeline-executions',
        '/api/v1/cache/invalidate',
      ]),
    );
    const ui = await rest(url, 'GET', '/api/docs');
    expect(ui.status).toBe(200);
    expect(ui.contentType).toMatch(/text\/html/);
    expect(ui.body).toContain('swagger-ui-bundle.js');
    const bundle = await fetch(`${url}/api/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
  });
});
