import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { eventually } from '../support/eventually';
import { gql, gqlData, seed, uuid } from './support/api-client';

/**
 * Maia's guide to executing pipelines (docs/maia-api.md), step by step, through the gateway's GraphQL API
 * against the emulator: the data a frontend sees and the codes it gets.
 */
describe('the seed guide through GraphQL', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  let url: string;

  beforeAll(async () => {
    // 0.2: "Pipeline 1" runs 600 ms (long enough for the executionTag race), the backfill two minutes.
    maia = await startEmulatorFixture({ timeScale: 0.2 });
    gateway = await startGateway(gatewayEnv(maia));
    url = gateway.url;
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });

  const executionFields = `id projectId pipelineName pipelineType environmentName status rawStatus isTerminal
    startedAt finishedAt durationMs message trigger canCancel`;

  const execute = (input: Record<string, unknown>) =>
    gql(
      url,
      `mutation ($input: ExecutePipelineInput!) {
         executePipeline(input: $input) { pipelineExecutionId replayed execution { ${executionFields} } }
       }`,
      { input },
    );

  const readExecution = async (projectId: string, executionId: string) =>
    (
      await gqlData(
        url,
        `query ($p: ID!, $e: ID!) { pipelineExecution(projectId: $p, executionId: $e) { ${executionFields} } }`,
        { p: projectId, e: executionId },
      )
    ).pipelineExecution;

  const waitFor = (projectId: string, executionId: string, statuses: string[]) =>
    eventually(
      async () => {
        const execution = await readExecution(projectId, executionId);
        expect(statuses).toContain(execution.status);
        return execution;
      },
      { timeoutMs: 10_000 },
    );

  it('step 1: lists the projects with their ids, and finds one by id or by exact name', async () => {
    const data = await gqlData(
      url,
      '{ projects(page: 0, size: 25) { page size total results { id name description } } }',
    );
    expect(data.projects).toMatchObject({ page: 0, size: 25, total: 5 });
    expect(data.projects.results).toContainEqual({
      id: seed.testProject,
      name: 'Test-project',
      description: 'project-1',
    });

    const byName = await gqlData(url, '{ project(name: "Test-project") { id name } }');
    expect(byName.project).toEqual({ id: seed.testProject, name: 'Test-project' });
    const byId = await gqlData(url, `{ project(id: "${seed.testProject}") { id name } }`);
    expect(byId.project).toEqual({ id: seed.testProject, name: 'Test-project' });
  });

  it('step 1: a name two projects share is AMBIGUOUS_NAME; neither or both selectors is BAD_USER_INPUT', async () => {
    const ambiguous = await gql(url, '{ project(name: "Shared Sandbox") { id } }');
    expect(ambiguous.data).toBeNull();
    expect(ambiguous.errors?.[0].extensions.code).toBe('AMBIGUOUS_NAME');
    expect(ambiguous.errors?.[0].extensions.projectIds).toBe(`${seed.sharedSandboxA},${seed.sharedSandboxB}`);

    for (const args of ['', `(id: "${seed.testProject}", name: "Test-project")`]) {
      const result = await gql(url, `{ project${args} { id } }`);
      expect(result.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    }
    const unknown = await gql(url, '{ project(id: "00000000-0000-4000-8000-000000000000") { id } }');
    expect(unknown.errors?.[0].extensions.code).toBe('NOT_FOUND');
  });

  it('step 2: gets the environments with their default runner', async () => {
    const data = await gqlData(
      url,
      `{ project(id: "${seed.testProject}") {
           environments { total results { name projectId defaultAgent { id name } } }
           environment(name: "Environment-1") { name defaultAgent { name } }
         } }`,
    );
    expect(data.project.environments.total).toBe(2);
    expect(data.project.environments.results).toContainEqual({
      name: 'Environment-1',
      projectId: seed.testProject,
      defaultAgent: { id: seed.devAgent, name: 'Dev Agent' },
    });
    expect(data.project.environment).toEqual({ name: 'Environment-1', defaultAgent: { name: 'Dev Agent' } });

    const missing = await gql(
      url,
      `{ project(id: "${seed.testProject}") { environment(name: "Nope") { name } } }`,
    );
    expect(missing.errors?.[0].extensions.code).toBe('NOT_FOUND');
  });

  it('step 3: lists the published pipelines of an environment, from the project and from the environment', async () => {
    const data = await gqlData(
      url,
      `{ project(id: "${seed.testProject}") {
           publishedPipelines(environmentName: "Dev Environment") {
             total results { name publishedTime projectId environmentName } }
           environment(name: "Environment-1") { publishedPipelines { results { name publishedTime } } }
         } }`,
    );
    expect(data.project.publishedPipelines.total).toBe(3);
    expect(data.project.publishedPipelines.results).toContainEqual({
      name: 'My pipeline',
      publishedTime: '2023-11-24T10:39:02.182Z',
      projectId: seed.testProject,
      environmentName: 'Dev Environment',
    });
    expect(data.project.publishedPipelines.results.map((p: { name: string }) => p.name).sort()).toEqual([
      'Dev Pipeline',
      'My pipeline',
      'Pipeline 1',
    ]);
    expect(data.project.environment.publishedPipelines.results).toEqual([
      { name: 'My pipeline', publishedTime: '2023-11-24T10:39:02.182Z' },
    ]);
  });

  it('steps 4 and 5: executes a published pipeline and follows it to SUCCESS with its steps', async () => {
    const started = await execute({
      projectId: seed.testProject,
      pipelineName: 'Pipeline 1',
      environmentName: 'Dev Environment',
    });
    expect(started.errors).toBeUndefined();
    const payload = started.data.executePipeline;
    expect(payload.pipelineExecutionId).toMatch(uuid);
    expect(payload.replayed).toBe(false);
    expect(payload.execution).toMatchObject({
      id: payload.pipelineExecutionId,
      projectId: seed.testProject,
      pipelineName: 'Pipeline 1',
      environmentName: 'Dev Environment',
      status: 'RUNNING',
      isTerminal: false,
      canCancel: true,
      trigger: 'API',
      finishedAt: null,
    });

    const done = await waitFor(seed.testProject, payload.pipelineExecutionId, ['SUCCESS', 'FAILED']);
    expect(done).toMatchObject({
      status: 'SUCCESS',
      rawStatus: 'SUCCESS',
      isTerminal: true,
      canCancel: false,
      message: '"Rewrite Table": Success',
    });
    expect(Date.parse(done.finishedAt)).toBeGreaterThanOrEqual(Date.parse(done.startedAt));
    expect(done.durationMs).toBe(Date.parse(done.finishedAt) - Date.parse(done.startedAt));

    const steps = await gqlData(
      url,
      `{ pipelineExecution(projectId: "${seed.testProject}", executionId: "${payload.pipelineExecutionId}") {
           steps { total results { name status message } } project { name } } }`,
    );
    expect(steps.pipelineExecution.project).toEqual({ name: 'Test-project' });
    expect(steps.pipelineExecution.steps.results).toEqual([
      { name: 'Rewrite Table', status: 'SUCCESS', message: '"Rewrite Table": Success' },
    ]);
  });

  it('step 4: runs a given versionName; an unknown version is NOT_FOUND', async () => {
    const started = await execute({
      projectId: seed.testProject,
      pipelineName: 'Dev Pipeline',
      environmentName: 'Dev Environment',
      versionName: '1.1.1',
    });
    expect(started.errors).toBeUndefined();
    expect(started.data.executePipeline.execution.pipelineName).toBe('Dev Pipeline');
    const executed = (await maia.executions()).find(
      (e) => e.pipelineExecutionId === started.data.executePipeline.pipelineExecutionId,
    );
    expect(executed?.versionName).toBe('1.1.1');

    const before = (await maia.executions()).length;
    const unknown = await execute({
      projectId: seed.testProject,
      pipelineName: 'Dev Pipeline',
      environmentName: 'Dev Environment',
      versionName: '9.9.9',
    });
    expect(unknown.data).toBeNull();
    expect(unknown.errors?.[0].extensions.code).toBe('NOT_FOUND');
    expect((await maia.executions()).length).toBe(before);
  });

  it('step 4: a second run with the same executionTag while the first runs is CONFLICT naming the running one', async () => {
    const input = {
      projectId: seed.testProject,
      pipelineName: 'Pipeline 1',
      environmentName: 'Dev Environment',
      executionTag: 'nightly-run',
    };
    const first = await execute(input);
    expect(first.errors).toBeUndefined();
    const firstId = first.data.executePipeline.pipelineExecutionId;

    const second = await execute(input);
    expect(second.data).toBeNull();
    expect(second.errors?.[0].message).toBe('A pipeline execution with this tag is already running.');
    expect(second.errors?.[0].extensions).toMatchObject({
      code: 'CONFLICT',
      executionTag: 'nightly-run',
      existingExecutionId: firstId,
    });
    const tagged = (await maia.executions()).filter((e) => e.executionTag === 'nightly-run');
    expect(tagged.map((e) => e.pipelineExecutionId)).toEqual([firstId]);

    // Once the first run is over, the tag is free again.
    await waitFor(seed.testProject, firstId, ['SUCCESS']);
    const third = await execute(input);
    expect(third.errors).toBeUndefined();
  });

  it('step 5: lists FORBIDDEN runs (a restricted runner refused the environment)', async () => {
    const started = await execute({
      projectId: seed.marketing,
      pipelineName: 'campaigns/attribution.orch.yaml',
      environmentName: 'Restricted',
    });
    expect(started.errors).toBeUndefined();
    const id = started.data.executePipeline.pipelineExecutionId;
    const forbidden = await waitFor(seed.marketing, id, ['FORBIDDEN', 'SUCCESS', 'FAILED']);
    expect(forbidden).toMatchObject({ status: 'FORBIDDEN', isTerminal: true, canCancel: false });

    const listed = await gqlData(
      url,
      `{ pipelineExecutions(filter: { status: [FORBIDDEN] }, first: 100) {
           edges { cursor node { id status projectId environmentName } } pageInfo { hasNextPage } } }`,
    );
    const nodes = listed.pipelineExecutions.edges.map((e: { node: unknown }) => e.node);
    expect(nodes.length).toBeGreaterThanOrEqual(1);
    expect(nodes.every((n: { status: string }) => n.status === 'FORBIDDEN')).toBe(true);
    expect(nodes).toContainEqual({
      id,
      status: 'FORBIDDEN',
      projectId: seed.marketing,
      environmentName: 'Restricted',
    });
  });

  it('step 6: cancels gracefully (CANCELLING, then CANCELLED) and by force; a finished run is ALREADY_FINISHED', async () => {
    const backfill = {
      projectId: seed.analytics,
      pipelineName: 'FOLDER/long_backfill.orch.yaml',
      environmentName: 'Dev',
    };
    const cancel = (executionId: string, force: boolean) =>
      gql(
        url,
        `mutation ($input: CancelPipelineExecutionInput!) {
           cancelPipelineExecution(input: $input) { pipelineExecutionId execution { id status canCancel } } }`,
        { input: { projectId: seed.analytics, executionId, force } },
      );

    const graceful = (await execute(backfill)).data.executePipeline.pipelineExecutionId;
    const gracefulCancel = await cancel(graceful, false);
    expect(gracefulCancel.errors).toBeUndefined();
    expect(gracefulCancel.data.cancelPipelineExecution).toEqual({
      pipelineExecutionId: graceful,
      execution: { id: graceful, status: 'CANCELLING', canCancel: true },
    });
    expect((await waitFor(seed.analytics, graceful, ['CANCELLED'])).status).toBe('CANCELLED');

    const forced = (await execute(backfill)).data.executePipeline.pipelineExecutionId;
    const forcedCancel = await cancel(forced, true);
    expect(forcedCancel.data.cancelPipelineExecution.execution).toEqual({
      id: forced,
      status: 'CANCELLED',
      canCancel: false,
    });

    const again = await cancel(forced, false);
    expect(again.data).toBeNull();
    expect(again.errors?.[0].extensions).toMatchObject({
      code: 'ALREADY_FINISHED',
      status: 'CANCELLED',
      executionId: forced,
    });
  });

  it('pages executions with Relay cursors; a cursor from another filter is BAD_USER_INPUT', async () => {
    const page = (first: number, after?: string, filter: Record<string, unknown> = {}) =>
      gql(
        url,
        `query ($first: Int!, $after: String, $filter: PipelineExecutionFilter) {
           pipelineExecutions(first: $first, after: $after, filter: $filter) {
             edges { cursor node { id } } nodes { id } pageInfo { hasNextPage endCursor } } }`,
        { first, after, filter },
      );
    const all = (await page(100)).data.pipelineExecutions.nodes.map((n: { id: string }) => n.id);
    expect(all.length).toBeGreaterThanOrEqual(5);

    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 50; i++) {
      const result = (await page(2, after)).data.pipelineExecutions;
      seen.push(...result.nodes.map((n: { id: string }) => n.id));
      if (!result.pageInfo.hasNextPage) break;
      after = result.pageInfo.endCursor;
    }
    expect(seen).toEqual(all);

    // Resuming from an edge in the middle of a page continues right after that edge.
    const firstPage = (await page(3)).data.pipelineExecutions;
    const fromEdge = (await page(2, firstPage.edges[0].cursor)).data.pipelineExecutions;
    expect(fromEdge.nodes.map((n: { id: string }) => n.id)).toEqual(all.slice(1, 3));

    const mismatch = await page(2, firstPage.pageInfo.endCursor, { projectId: seed.analytics });
    expect(mismatch.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(mismatch.errors?.[0].message).toMatch(/different filter/);
    const garbage = await page(2, 'not-a-cursor');
    expect(garbage.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it("shows the window a list covers: the 7-day default the gateway applied, or the caller's own bounds", async () => {
    const before = Date.now();
    const byDefault = await gqlData(
      url,
      `{ pipelineExecutions(first: 1) { window { startedAfter startedBefore } } }`,
    );
    const after = Date.now();
    const startedAfter = Date.parse(byDefault.pipelineExecutions.window.startedAfter);
    const sevenDaysMs = 7 * 24 * 3600 * 1000;
    expect(startedAfter).toBeGreaterThanOrEqual(before - sevenDaysMs);
    expect(startedAfter).toBeLessThanOrEqual(after - sevenDaysMs);
    expect(byDefault.pipelineExecutions.window.startedBefore).toBeNull();

    const own = await gqlData(
      url,
      `{ pipelineExecutions(first: 1, filter: { startedBefore: "2030-01-01T00:00:00Z" }) {
           window { startedAfter startedBefore } } }`,
    );
    expect(own.pipelineExecutions.window).toEqual({
      startedAfter: null,
      startedBefore: '2030-01-01T00:00:00.000Z',
    });
  });

  it('Project.executions lists only that project', async () => {
    const data = await gqlData(
      url,
      `{ project(id: "${seed.analytics}") { executions(first: 50) { nodes { projectId } } } }`,
    );
    expect(data.project.executions.nodes.length).toBeGreaterThan(0);
    expect(new Set(data.project.executions.nodes.map((n: { projectId: string }) => n.projectId))).toEqual(
      new Set([seed.analytics]),
    );
  });

  it('idempotencyKey: a repeat answers the same run (replayed); another request with the key is refused', async () => {
    const input = {
      projectId: seed.testProject,
      pipelineName: 'My pipeline',
      environmentName: 'Environment-1',
      idempotencyKey: `guide-${Date.now()}`,
      scalarVariables: [{ name: 'region', value: 'eu' }],
      gridVariables: [
        {
          name: 'ids',
          rows: [
            ['1', 'a'],
            ['2', 'b'],
          ],
        },
      ],
    };
    const first = await execute(input);
    const repeat = await execute(input);
    expect(first.errors).toBeUndefined();
    expect(repeat.data.executePipeline).toMatchObject({
      pipelineExecutionId: first.data.executePipeline.pipelineExecutionId,
      replayed: true,
    });
    const runs = (await maia.executions()).filter(
      (e) => e.pipelineExecutionId === first.data.executePipeline.pipelineExecutionId,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0].variables).toEqual({
      scalarVariables: { region: 'eu' },
      gridVariables: {
        ids: [
          ['1', 'a'],
          ['2', 'b'],
        ],
      },
    });

    const reused = await execute({
      ...input,
      pipelineName: 'Pipeline 1',
      environmentName: 'Dev Environment',
    });
    expect(reused.errors?.[0].extensions.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });
});
