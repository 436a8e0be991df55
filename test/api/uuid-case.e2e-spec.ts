import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { gql, gqlData, rest, seed } from './support/api-client';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';

/**
 * Ids in any case, everywhere: every argument, parameter and member that takes one of Maia's UUIDs (and
 * node ids holding one) answers the same for the id in upper case as in lower case.
 */
describe('UUIDs are case-insensitive on every id argument', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  const A = seed.analytics;
  const E = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b'; // a finished run of Analytics Warehouse
  const up = (id: string) => id.toUpperCase();

  beforeAll(async () => {
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    gateway = await startGateway(gatewayEnv(maia));
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });

  /** The GraphQL answer for lower-case and upper-case ids, which must be equal (and without errors). */
  const bothCases = async (
    query: string,
    variables: (id: (x: string) => string) => Record<string, unknown>,
  ) => {
    const lowerAnswer = await gql(
      gateway.url,
      query,
      variables((x) => x),
    );
    const upperAnswer = await gql(gateway.url, query, variables(up));
    expect(lowerAnswer.errors).toBeUndefined();
    expect({ data: upperAnswer.data, errors: upperAnswer.errors }).toEqual({
      data: lowerAnswer.data,
      errors: undefined,
    });
    return lowerAnswer.data;
  };

  const environmentId = (projectId: string) =>
    Buffer.from(`Environment:${projectId}:Dev`).toString('base64url');

  it.each([
    [
      'project(id:)',
      'query ($a: ID) { project(id: $a) { id name environments { total } } }',
      (id: (x: string) => string) => ({ a: id(A) }),
    ],
    [
      'pipelineExecution(projectId:, executionId:)',
      'query ($a: ID!, $e: ID!) { pipelineExecution(projectId: $a, executionId: $e) { id projectId status steps { total } } }',
      (id: (x: string) => string) => ({ a: id(A), e: id(E) }),
    ],
    [
      'pipelineExecutions(filter: { projectId })',
      'query ($a: ID!) { pipelineExecutions(first: 50, filter: { projectId: $a, startedAfter: "2020-01-01T00:00:00Z" }) { nodes { id } } }',
      (id: (x: string) => string) => ({ a: id(A) }),
    ],
    [
      'node(id:) and nodes(ids:) with a project id and an environment id holding one',
      'query ($a: ID!, $env: ID!) { node(id: $a) { id } nodes(ids: [$a, $env]) { id } env: node(id: $env) { id ... on Environment { name } } }',
      (id: (x: string) => string) => ({ a: id(A), env: environmentId(id(A)) }),
    ],
  ])('%s', async (_name, query, variables) => {
    const data = await bothCases(query, variables);
    expect(JSON.stringify(data)).not.toContain('null');
  });

  it('cancelPipelineExecution and executePipeline take ids in upper case (projectId, executionId, agentId)', async () => {
    const cancel = async (projectId: string, executionId: string) =>
      gql(
        gateway.url,
        'mutation ($input: CancelPipelineExecutionInput!) { cancelPipelineExecution(input: $input) { pipelineExecutionId } }',
        { input: { projectId, executionId } },
      );
    const [lowerCancel, upperCancel] = [await cancel(A, E), await cancel(up(A), up(E))];
    expect(lowerCancel.errors?.[0].extensions.code).toBe('ALREADY_FINISHED');
    expect(upperCancel.errors?.map((e) => e.extensions.code)).toEqual(['ALREADY_FINISHED']);

    const run = await gqlData(
      gateway.url,
      'mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }',
      {
        input: {
          projectId: up(A),
          pipelineName: 'FOLDER/load_orders.orch.yaml',
          environmentName: 'Dev',
          agentId: up(seed.devAgent),
        },
      },
    );
    const executed = (await maia.executions()).find(
      (e) => e.pipelineExecutionId === run.executePipeline.pipelineExecutionId,
    );
    expect(executed).toMatchObject({ projectId: A, agentId: seed.devAgent });
  });

  it('REST paths and query parameters, on both faces', async () => {
    // A run list may hold the run the test above started, still moving between the two reads: its identity
    // is compared, not the progress it made in between.
    const settled = (body: unknown): unknown => {
      const page = body as { results?: Array<Record<string, unknown>> };
      if (!Array.isArray(page?.results)) return body;
      return {
        ...page,
        results: page.results.map(({ status: _s, finishedAt: _f, message: _m, ...rest }) => rest),
      };
    };
    const paths = (a: string, e: string) => [
      `/v1/projects/${a}/environments`,
      `/v1/projects/${a}/published-pipelines?environmentName=Dev`,
      `/v1/projects/${a}/artifacts?environmentName=Dev`,
      `/v1/projects/${a}/pipeline-executions/${e}`,
      `/v1/projects/${a}/pipeline-executions/${e}/status`,
      `/v1/projects/${a}/pipeline-executions/${e}/steps`,
      `/v1/pipeline-executions?projectId=${a}&startedAfter=2020-01-01T00:00:00Z`,
    ];
    const lower = paths(A, E);
    const upper = paths(up(A), up(E));
    for (const prefix of ['/api', '/dpc']) {
      for (const [index, path] of lower.entries()) {
        const lowerAnswer = await rest(gateway.url, 'GET', `${prefix}${path}`);
        const upperAnswer = await rest(gateway.url, 'GET', `${prefix}${upper[index]}`);
        expect(lowerAnswer.status).toBe(200);
        expect({ path: upper[index], status: upperAnswer.status, body: settled(upperAnswer.body) }).toEqual({
          path: upper[index],
          status: 200,
          body: settled(lowerAnswer.body),
        });
      }
    }
  });

  it('REST execute and cancel take them in upper case, in the path and in the body', async () => {
    const executed = await rest(gateway.url, 'POST', `/dpc/v1/projects/${up(A)}/pipeline-executions`, {
      body: {
        pipelineName: 'FOLDER/load_orders.orch.yaml',
        environmentName: 'Dev',
        agentId: up(seed.devAgent),
      },
    });
    expect(executed.status).toBe(201);
    const run = (await maia.executions()).find(
      (e) => e.pipelineExecutionId === executed.body.pipelineExecutionId,
    );
    expect(run).toMatchObject({ projectId: A, agentId: seed.devAgent });
    const cancel = (a: string, e: string) =>
      rest(gateway.url, 'PATCH', `/api/v1/projects/${a}/pipeline-executions/${e}`, {
        body: { status: 'CANCELLED', forceUpdate: false },
      });
    const [lowerCancel, upperCancel] = [await cancel(A, E), await cancel(up(A), up(E))];
    expect(lowerCancel.status).toBe(409);
    expect({ status: upperCancel.status, code: upperCancel.body.code }).toEqual({
      status: 409,
      code: lowerCancel.body.code,
    });
  });

  it('subscriptions over graphql-ws take them in upper case too', async () => {
    const client = createClient({
      url: gateway.url.replace('http', 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
    });
    try {
      const first = await new Promise<unknown>((resolve, reject) => {
        const stop = client.subscribe(
          {
            query:
              'subscription ($a: ID!, $e: ID!) { pipelineExecutionUpdated(projectId: $a, executionId: $e) { kind execution { id projectId status } } }',
            variables: { a: up(A), e: up(E) },
          },
          {
            next: (value) => {
              stop();
              resolve(value);
            },
            error: reject,
            complete: () => undefined,
          },
        );
      });
      expect(first).toEqual({
        data: {
          pipelineExecutionUpdated: {
            kind: expect.any(String),
            execution: { id: E, projectId: A, status: 'SUCCESS' },
          },
        },
      });
    } finally {
      await client.dispose();
    }
  });
});
