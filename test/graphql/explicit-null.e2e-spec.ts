import { gql, gqlData, rest, seed } from '../api/support/api-client';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { STANDALONE_REDIS_URL } from '../support/redis-topologies';

/**
 * GraphQL clients and code generators send `null` for every optional argument and input member they do not
 * set (`after: null` on a first page, `filter: { status: null }`). An explicit null on a nullable argument
 * reads as absent, on every resolver: the same answer as leaving it out, never an error or a value sent on.
 */
describe('an explicit null on a nullable argument reads as absent', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  const environmentName = 'Dev Environment';
  const executeDocument =
    'mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId replayed } }';

  beforeAll(async () => {
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    gateway = await startGateway(gatewayEnv(maia, { REDIS_URL: STANDALONE_REDIS_URL }));
    // Runs of the guide's project, so that every list below has something to tell apart.
    for (const pipelineName of ['Pipeline 1', 'Dev Pipeline']) {
      await gqlData(gateway.url, executeDocument, {
        input: { projectId: seed.testProject, pipelineName, environmentName },
      });
    }
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });

  /** The ids a document lists, in order: statuses move on between two reads, ids and order do not. */
  const ids = (value: unknown): string[] => JSON.stringify(value).match(/"id":"[^"]+"/g) ?? [];

  const sameAsAbsent: [string, string, string][] = [
    [
      'Query.pipelineExecutions: after, and every filter member',
      `{ pipelineExecutions(after: null, filter: { status: null, projectId: null, pipelineName: null,
           environmentName: null, scheduleId: null, startedAfter: null, startedBefore: null }) { nodes { id } } }`,
      '{ pipelineExecutions { nodes { id } } }',
    ],
    [
      'Query.pipelineExecutions: a null filter',
      '{ pipelineExecutions(filter: null) { nodes { id } } }',
      '{ pipelineExecutions { nodes { id } } }',
    ],
    [
      'Query.project: a null id beside a name',
      `{ project(id: null, name: "Test-project") { id } }`,
      `{ project(name: "Test-project") { id } }`,
    ],
    [
      'Project.executions',
      `{ project(id: "${seed.testProject}") { executions(after: null, filter: { status: null, pipelineName: null }) { nodes { id } } } }`,
      `{ project(id: "${seed.testProject}") { executions { nodes { id } } } }`,
    ],
    [
      'Environment.executions: pipelineName and pipelineNameContains both null',
      `{ project(id: "${seed.testProject}") { environment(name: "${environmentName}") {
           executions(after: null, filter: { status: null, pipelineName: null, pipelineNameContains: null }) { nodes { id } } } } }`,
      `{ project(id: "${seed.testProject}") { environment(name: "${environmentName}") { executions { nodes { id } } } } }`,
    ],
    [
      'PublishedPipeline.executions',
      `{ project(id: "${seed.testProject}") { environment(name: "${environmentName}") { publishedPipelines { results {
           name executions(after: null, filter: { status: null, startedAfter: null }) { nodes { id } } } } } } }`,
      `{ project(id: "${seed.testProject}") { environment(name: "${environmentName}") { publishedPipelines { results {
           name executions { nodes { id } } } } } } }`,
    ],
  ];

  it.each(sameAsAbsent)('%s: the same answer as leaving them out', async (_, withNulls, without) => {
    const expected = await gqlData(gateway.url, without);
    expect(ids(expected).length).toBeGreaterThan(0);
    const answer = await gql(gateway.url, withNulls);
    expect(answer.errors).toBeUndefined();
    expect(ids(answer.data)).toEqual(ids(expected));
  });

  it('reads nulls sent as variables (as generated clients send them) as absent too', async () => {
    const document = `query ($filter: PipelineExecutionFilter, $after: String, $first: Int!) {
      pipelineExecutions(filter: $filter, after: $after, first: $first) { nodes { id } } }`;
    const expected = await gqlData(gateway.url, document, { first: 10 });
    const answer = await gql(gateway.url, document, {
      first: 10,
      after: null,
      filter: { status: null, projectId: seed.testProject, pipelineName: null, startedAfter: null },
    });
    expect(answer.errors).toBeUndefined();
    const ofTestProject = await gqlData(
      gateway.url,
      `{ pipelineExecutions(first: 10, filter: { projectId: "${seed.testProject}" }) { nodes { id } } }`,
    );
    expect(ids(answer.data)).toEqual(ids(ofTestProject));
    expect(ids(expected).length).toBeGreaterThanOrEqual(ids(ofTestProject).length);
  });

  it('starts a run with every optional input member null, and a null idempotencyKey is no key', async () => {
    const input = {
      projectId: seed.testProject,
      pipelineName: 'Pipeline 1',
      environmentName,
      versionName: null,
      agentId: null,
      executionTag: null,
      scalarVariables: null,
      gridVariables: null,
      idempotencyKey: null,
    };
    const first = (await gqlData(gateway.url, executeDocument, { input })).executePipeline;
    const second = (await gqlData(gateway.url, executeDocument, { input })).executePipeline;
    expect(first.replayed).toBe(false);
    expect(second.replayed).toBe(false);
    expect(second.pipelineExecutionId).not.toBe(first.pipelineExecutionId);

    const run = await gqlData(
      gateway.url,
      `query ($p: ID!, $e: ID!) { pipelineExecution(projectId: $p, executionId: $e) {
         launch { versionName agentId executionTag scalarVariables { name } gridVariables { name } } } }`,
      { p: seed.testProject, e: first.pipelineExecutionId },
    );
    expect(run.pipelineExecution.launch).toEqual({
      versionName: null,
      agentId: null,
      executionTag: null,
      scalarVariables: [],
      gridVariables: [],
    });
  });

  it('invalidateCache(projectId: null) drops everything, as no argument does', async () => {
    const data = await gqlData(gateway.url, 'mutation { invalidateCache(projectId: null) { invalidated } }');
    expect(data.invalidateCache).toEqual({ invalidated: 'all' });
  });

  it('a REST body reads null members as absent, and a null variable value is still refused', async () => {
    const path = `/api/v1/projects/${seed.testProject}/pipeline-executions`;
    const started = await rest(gateway.url, 'POST', path, {
      body: {
        pipelineName: 'Pipeline 1',
        environmentName,
        versionName: null,
        agentId: null,
        executionTag: null,
      },
    });
    expect(started.status).toBeLessThan(300);
    expect(started.body.pipelineExecutionId).toEqual(expect.any(String));

    // A variable's value is data, not an optional member: null is not a string, and nothing is dropped.
    const refused = await rest(gateway.url, 'POST', path, {
      body: { pipelineName: 'Pipeline 1', environmentName, scalarVariables: { region: null } },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('BAD_USER_INPUT');
  });

  it('a null on a non-null argument (a page number) stays a validation error', async () => {
    const answer = await gql(gateway.url, '{ projects(page: null) { total } }');
    expect(answer.errors?.map((e) => e.extensions.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(answer.data).toBeUndefined();
  });
});
