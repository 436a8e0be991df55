import { gql, gqlData, seed } from '../api/support/api-client';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';

/**
 * `lastExecution` and `executions` of many pipelines in one request: the pipelines of one environment
 * share one list of its newest runs instead of one list each, with the same answers. Upstream calls are
 * counted by the emulator.
 */
describe('lastExecution batched per environment', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  const sevenDaysMs = 7 * 24 * 3600 * 1000;
  const launched: string[] = [];

  beforeAll(async () => {
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    gateway = await startGateway(gatewayEnv(maia));
    // One run of every pipeline published to Dev that runs (the seed's legacy export is disabled).
    const data = await gqlData(
      gateway.url,
      '{ project(name: "Analytics Warehouse") { environment(name: "Dev") { publishedPipelines { results { name } } } } }',
    );
    for (const { name } of data.project.environment.publishedPipelines.results as { name: string }[]) {
      const result = await gql(
        gateway.url,
        'mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }',
        { input: { projectId: seed.analytics, pipelineName: name, environmentName: 'Dev' } },
      );
      if (result.errors) expect(result.errors[0].extensions.code).toBe('PIPELINE_DISABLED');
      else launched.push(name);
    }
    expect(launched.length).toBe(4);
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });

  /** The emulator's newest run of exactly that pipeline in the last 7 days, or null. */
  const newestInEmulator = async (environmentName: string, pipelineName: string) => {
    const since = Date.now() - sevenDaysMs;
    const runs = (await maia.executions()).filter(
      (run) =>
        run.projectId === seed.analytics &&
        run.environmentName === environmentName &&
        run.pipelineName === pipelineName &&
        Date.parse(run.startedAt) >= since,
    );
    return runs.length === 0 ? null : runs[runs.length - 1].pipelineExecutionId;
  };

  const lastExecutions = (environmentName: string) =>
    gqlData(
      gateway.url,
      `query ($p: ID!, $e: String!) { project(id: $p) { environment(name: $e) {
         publishedPipelines { results { name lastExecution { id pipelineName } } } } } }`,
      { p: seed.analytics, e: environmentName },
    ).then(
      (data) =>
        data.project.environment.publishedPipelines.results as {
          name: string;
          lastExecution: { id: string; pipelineName: string } | null;
        }[],
    );

  it.each(['Dev', 'Prod'])(
    'answers the last run of every pipeline of %s with one list call instead of one per pipeline',
    async (environmentName) => {
      // Before: each pipeline asked on its own (a request each), as an unbatched resolver calls Maia.
      const pipelines = await lastExecutions(environmentName);
      expect(pipelines.length).toBe(environmentName === 'Dev' ? 5 : 4);
      await maia.resetCounters();
      const oneByOne = [];
      for (const { name } of pipelines) {
        const data = await gqlData(
          gateway.url,
          `query ($id: ID!) { node(id: $id) { ... on PublishedPipeline { lastExecution { id } } } }`,
          {
            id: Buffer.from(
              `PublishedPipeline:${seed.analytics}:${encodeURIComponent(environmentName)}:${encodeURIComponent(name)}`,
            ).toString('base64url'),
          },
        );
        oneByOne.push(data.node.lastExecution?.id ?? null);
      }
      const callsOneByOne = await maia.count('listExecutions');

      // After: the same pipelines in one request.
      await maia.resetCounters();
      const together = await lastExecutions(environmentName);
      const callsTogether = await maia.count('listExecutions');

      const expected = await Promise.all(pipelines.map((p) => newestInEmulator(environmentName, p.name)));
      expect(together.map((p) => p.lastExecution?.id ?? null)).toEqual(expected);
      expect(oneByOne).toEqual(expected);
      for (const p of together) if (p.lastExecution) expect(p.lastExecution.pipelineName).toBe(p.name);
      if (environmentName === 'Dev') {
        const found = pipelines.filter((_, index) => expected[index] !== null).map((p) => p.name);
        expect(found).toEqual(expect.arrayContaining(launched));
      }
      expect(callsOneByOne).toBeGreaterThanOrEqual(pipelines.length);
      expect({ callsOneByOne, callsTogether }).toEqual({ callsOneByOne, callsTogether: 1 });
    },
  );

  it('asks the same runs page of a pipeline once per request, however many aliases ask for it', async () => {
    await maia.resetCounters();
    const data = await gqlData(
      gateway.url,
      `query ($p: ID!) { project(id: $p) { environment(name: "Dev") { publishedPipelines { results { name
         a: executions(first: 5) { nodes { id } } b: executions(first: 5) { nodes { id } }
         c: executions(first: 2) { nodes { id } } } } } } }`,
      { p: seed.analytics },
    );
    const pipelines = data.project.environment.publishedPipelines.results as {
      a: { nodes: unknown[] };
      b: { nodes: unknown[] };
    }[];
    for (const p of pipelines) expect(p.b).toEqual(p.a);
    // a and b are one call per pipeline; c (another page size) one more.
    expect(await maia.count('listExecutions')).toBe(pipelines.length * 2);
  });
});
