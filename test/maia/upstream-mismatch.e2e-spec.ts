import { gql, rest, seed } from '../api/support/api-client';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';

/**
 * Responses checked against their request: an answer of Maia about another project or another execution
 * than the one asked for (staged with emulator faults that answer 200 with such a body) is refused with
 * UPSTREAM_BAD_RESPONSE on both faces, and nothing of it is shown.
 */
describe('an upstream answer that does not match its request', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  const executionId = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b'; // a seeded run of Analytics Warehouse
  const otherExecutionId = 'deadbeef-0000-4000-8000-000000000001';
  const intruder = 'Marketing secret pipeline';

  const execution = (overrides: Record<string, unknown>) => ({
    pipelineExecutionId: executionId,
    projectId: seed.analytics,
    pipelineName: intruder,
    environmentName: 'Staging',
    status: 'SUCCESS',
    startedAt: '2026-10-01T09:00:00Z',
    finishedAt: '2026-10-01T09:01:00Z',
    trigger: 'API',
    ...overrides,
  });

  beforeAll(async () => {
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    gateway = await startGateway(gatewayEnv(maia));
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });
  afterEach(async () => {
    await maia.clearFaults();
  });

  const readBothFaces = async () => {
    const graphql = await gql(
      gateway.url,
      'query ($p: ID!, $e: ID!) { pipelineExecution(projectId: $p, executionId: $e) { id projectId pipelineName } }',
      { p: seed.analytics, e: executionId },
    );
    const viaRest = await rest(
      gateway.url,
      'GET',
      `/api/v1/projects/${seed.analytics}/pipeline-executions/${executionId}`,
    );
    return { graphql, viaRest };
  };

  const expectRefused = ({ graphql, viaRest }: Awaited<ReturnType<typeof readBothFaces>>) => {
    expect(graphql.data?.pipelineExecution ?? null).toBeNull();
    expect(graphql.errors?.map((e) => e.extensions.code)).toEqual(['UPSTREAM_BAD_RESPONSE']);
    expect(viaRest.status).toBe(502);
    expect(viaRest.contentType).toContain('application/problem+json');
    expect(viaRest.body).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', status: 502 });
    for (const text of [JSON.stringify(graphql), JSON.stringify(viaRest.body)]) {
      expect(text).not.toContain(seed.marketing);
      expect(text).not.toContain(otherExecutionId);
      expect(text).not.toContain(intruder);
    }
  };

  it('reads the run as usual when Maia answers about it (the control)', async () => {
    const { graphql, viaRest } = await readBothFaces();
    expect(graphql.errors).toBeUndefined();
    expect(graphql.data.pipelineExecution).toMatchObject({ id: executionId, projectId: seed.analytics });
    expect(viaRest.status).toBe(200);
  });

  it('refuses an execution answered under another project', async () => {
    await maia.addFault({
      route: 'getExecution',
      status: 200,
      body: execution({ projectId: seed.marketing }),
    });
    expectRefused(await readBothFaces());
  });

  it('accepts the asked project written in upper case (UUIDs compare in any case)', async () => {
    await maia.addFault({
      route: 'getExecution',
      status: 200,
      body: execution({
        projectId: seed.analytics.toUpperCase(),
        pipelineName: 'FOLDER/load_orders.orch.yaml',
      }),
    });
    const { graphql } = await readBothFaces();
    expect(graphql.errors).toBeUndefined();
    expect(graphql.data.pipelineExecution.id).toBe(executionId);
  });

  it('refuses another execution than the one asked for, also wrapped in {result}', async () => {
    await maia.addFault({
      route: 'getExecution',
      status: 200,
      body: execution({ pipelineExecutionId: otherExecutionId }),
    });
    expectRefused(await readBothFaces());
    await maia.clearFaults();
    await maia.addFault({
      route: 'getExecution',
      status: 200,
      body: { result: execution({ pipelineExecutionId: otherExecutionId, projectId: undefined }) },
    });
    expectRefused(await readBothFaces());
  });

  it("refuses a run list of one project that holds another project's run", async () => {
    await maia.addFault({
      route: 'listExecutions',
      status: 200,
      body: {
        results: [
          execution({}),
          execution({ pipelineExecutionId: otherExecutionId, projectId: seed.marketing }),
        ],
      },
    });
    const viaRest = await rest(gateway.url, 'GET', `/api/v1/pipeline-executions?projectId=${seed.analytics}`);
    expect(viaRest.status).toBe(502);
    expect(viaRest.body.code).toBe('UPSTREAM_BAD_RESPONSE');
    const graphql = await gql(
      gateway.url,
      'query ($p: ID!) { pipelineExecutions(first: 10, filter: { projectId: $p }) { nodes { id projectId pipelineName } } }',
      { p: seed.analytics },
    );
    expect(graphql.errors?.[0].extensions.code).toBe('UPSTREAM_BAD_RESPONSE');
    for (const text of [JSON.stringify(graphql), JSON.stringify(viaRest.body)]) {
      expect(text).not.toContain(seed.marketing);
      expect(text).not.toContain(intruder);
    }
  });
});
