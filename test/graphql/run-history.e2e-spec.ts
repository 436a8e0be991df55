import { gql, gqlData, seed } from '../api/support/api-client';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';

/**
 * Run history where a frontend looks for it: a published pipeline's runs and last run, an environment's
 * runs; names matched exactly unless the caller asks for Maia's partial match.
 */
describe('run history on PublishedPipeline and Environment', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  const environmentName = 'Dev Environment';
  /** Launched in this order: newest last. */
  const launched: { id: string; pipelineName: string }[] = [];

  beforeAll(async () => {
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    gateway = await startGateway(gatewayEnv(maia));
    for (const pipelineName of ['Pipeline 1', 'Dev Pipeline', 'Pipeline 1', 'My pipeline']) {
      const data = await gqlData(
        gateway.url,
        'mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }',
        { input: { projectId: seed.testProject, pipelineName, environmentName } },
      );
      launched.push({ id: data.executePipeline.pipelineExecutionId, pipelineName });
    }
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });

  const newestFirst = (name?: string) =>
    launched
      .filter((run) => name === undefined || run.pipelineName === name)
      .reverse()
      .map((run) => run.id);

  const environment = async (selection: string, variables: Record<string, unknown> = {}) =>
    gql(
      gateway.url,
      `query ($p: ID!, $filter: EnvironmentRunHistoryFilter, $after: String, $first: Int!) {
         project(id: $p) { environment(name: "${environmentName}") { ${selection} } } }`,
      { p: seed.testProject, first: 25, ...variables },
    );

  it('lists each published pipeline its own runs, newest first, and its last run', async () => {
    const data = await gqlData(
      gateway.url,
      `query ($p: ID!) { project(id: $p) { environment(name: "${environmentName}") {
         publishedPipelines(size: 100) { results { name
           lastExecution { id pipelineName environmentName }
           executions { nodes { id pipelineName environmentName } pageInfo { hasNextPage } } } } } } }`,
      { p: seed.testProject },
    );
    const pipelines = data.project.environment.publishedPipelines.results as {
      name: string;
      lastExecution: { id: string; pipelineName: string } | null;
      executions: { nodes: { id: string; pipelineName: string; environmentName: string }[] };
    }[];
    expect(pipelines.map((p) => p.name).sort()).toEqual(['Dev Pipeline', 'My pipeline', 'Pipeline 1']);
    for (const pipeline of pipelines) {
      const ids = newestFirst(pipeline.name);
      expect({ name: pipeline.name, ids: pipeline.executions.nodes.map((n) => n.id) }).toEqual({
        name: pipeline.name,
        ids,
      });
      expect(pipeline.executions.nodes.every((n) => n.environmentName === environmentName)).toBe(true);
      expect(pipeline.lastExecution).toEqual({ id: ids[0], pipelineName: pipeline.name, environmentName });
    }
  });

  it("matches pipelineName exactly, and pipelineNameContains as Maia's partial, case-insensitive match", async () => {
    const ids = async (filter: Record<string, unknown>) =>
      (
        await environment('executions(filter: $filter, first: $first, after: $after) { nodes { id } }', {
          filter,
        })
      ).data.project.environment.executions.nodes.map((n: { id: string }) => n.id);

    expect(await ids({ pipelineName: 'Pipeline 1' })).toEqual(newestFirst('Pipeline 1'));
    // Maia would match these partially; the gateway keeps exact names only.
    expect(await ids({ pipelineName: 'pipeline 1' })).toEqual([]);
    expect(await ids({ pipelineName: 'Pipeline' })).toEqual([]);
    expect(await ids({ pipelineNameContains: 'pipeline 1' })).toEqual(newestFirst('Pipeline 1'));
    expect(await ids({ pipelineNameContains: 'pipeline' })).toEqual(newestFirst());
    expect(await ids({})).toEqual(newestFirst());

    const both = await environment(
      'executions(filter: $filter, first: $first, after: $after) { nodes { id } }',
      {
        filter: { pipelineName: 'Pipeline 1', pipelineNameContains: 'Pipeline' },
      },
    );
    expect(both.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('pages an exact-name history with its endCursor, never skipping or repeating a run', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let round = 0; round < 10; round += 1) {
      const result = await environment(
        'executions(filter: $filter, first: $first, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } }',
        { filter: { pipelineName: 'Pipeline 1' }, first: 1, after },
      );
      if (result.errors) throw new Error(JSON.stringify(result.errors));
      const page = result.data.project.environment.executions;
      seen.push(...page.nodes.map((n: { id: string }) => n.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(newestFirst('Pipeline 1'));
  });
});
