import { randomUUID } from 'node:crypto';
import { KEYS, PROJECTS, startSecuredWorld, type SecuredWorld } from '../auth/support/secured-gateway';
import { eventually } from '../support/eventually';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { gql, rest, type GraphqlResult } from './support/api-client';

/**
 * Launch records and re-runs, on both faces, against the emulator: what a run was launched with
 * (`PipelineExecution.launch`, `GET …/launch`) is what the emulator received; a re-run starts one new run
 * with the same parameters (compared with the emulator's own record of both runs), once per idempotency key;
 * a run the gateway did not launch answers LAUNCH_UNKNOWN; a read-only key is refused before Maia is called;
 * the records expire after EXECUTION_LAUNCH_TTL_MS, in Redis and in memory.
 */

const A = PROJECTS.analytics;
const PIPELINE = 'FOLDER/load_orders.orch.yaml';
const DEV_AGENT = '5f0c1a2b-0001-4000-8000-000000000001';
/** A finished seed run of Analytics Warehouse: Maia has it, the gateway never launched it. */
const SEED_RUN = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b';
const REDIS_URL = 'redis://127.0.0.1:6379';

const operator = { 'x-api-key': KEYS.operator };
const reader = { 'x-api-key': KEYS.reader };
const admin = { 'x-api-key': KEYS.admin };

const launchFields = `launch { pipelineName environmentName versionName agentId executionTag
  scalarVariables { name value } gridVariables { name rows } launchedAt rerunOf }`;

/** The parameters the emulator recorded for a run (from the body it received). */
async function receivedBy(world: SecuredWorld, executionId: string) {
  const run = (await world.maia.executions()).find((e) => e.pipelineExecutionId === executionId);
  if (!run) throw new Error(`the emulator has no run ${executionId}`);
  const { projectId, pipelineName, environmentName, versionName, agentId, executionTag } = run;
  return {
    projectId,
    pipelineName,
    environmentName,
    versionName,
    agentId,
    executionTag,
    scalarVariables: run.scalarVariables,
    gridVariables: run.gridVariables,
  };
}

/** Execute POSTs the emulator received since the last `clearRequests`. */
async function executeCalls(world: SecuredWorld): Promise<number> {
  return (await world.maia.requests()).filter((r) => r.route === 'executePipeline').length;
}

async function finished(world: SecuredWorld, executionId: string): Promise<void> {
  await eventually(
    async () => {
      const run = (await world.maia.executions()).find((e) => e.pipelineExecutionId === executionId);
      expect(run?.status).toBe('SUCCESS');
    },
    { timeoutMs: 10_000 },
  );
}

function codeOf(result: GraphqlResult): string | undefined {
  return result.errors?.[0]?.extensions.code;
}

describe('re-run with remembered launch parameters', () => {
  let world: SecuredWorld;

  beforeAll(async () => {
    world = await startSecuredWorld({ REDIS_URL, REDIS_KEY_PREFIX: `test:rerun:${randomUUID()}:` });
  });
  afterAll(async () => {
    await world?.close();
  });

  it('GraphQL: launch shows what was sent; rerunPipelineExecution starts one run with the same parameters, once per key', async () => {
    const tag = `rerun-${randomUUID()}`;
    const input = {
      projectId: A,
      pipelineName: PIPELINE,
      environmentName: 'Dev',
      versionName: '1.0.0',
      agentId: DEV_AGENT,
      executionTag: tag,
      scalarVariables: [
        { name: 'region', value: 'eu' },
        { name: 'mode', value: 'full' },
      ],
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
    const first = await gql(
      world.url,
      `mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId execution { id ${launchFields} } } }`,
      { input },
      operator,
    );
    expect(first.errors).toBeUndefined();
    const firstId = first.data.executePipeline.pipelineExecutionId as string;
    const { projectId, ...sent } = input;
    const expectedLaunch = {
      ...sent,
      launchedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      rerunOf: null,
    };
    expect(first.data.executePipeline.execution).toEqual({ id: firstId, launch: expectedLaunch });
    // What the gateway says it sent is what the emulator received.
    expect(await receivedBy(world, firstId)).toEqual({
      projectId,
      pipelineName: PIPELINE,
      environmentName: 'Dev',
      versionName: '1.0.0',
      agentId: DEV_AGENT,
      executionTag: tag,
      scalarVariables: { region: 'eu', mode: 'full' },
      gridVariables: {
        ids: [
          ['1', 'a'],
          ['2', 'b'],
        ],
      },
    });
    // The tag is held while the first run runs (Maia would refuse a second one with CONFLICT).
    await finished(world, firstId);

    await world.maia.clearRequests();
    const rerun = (idempotencyKey: string) =>
      gql(
        world.url,
        `mutation ($input: RerunPipelineExecutionInput!) { rerunPipelineExecution(input: $input) {
           pipelineExecutionId replayed execution { id status ${launchFields} } } }`,
        { input: { projectId: A, executionId: firstId, idempotencyKey } },
        operator,
      );
    const key = `k-${randomUUID()}`;
    const again = await rerun(key);
    expect(again.errors).toBeUndefined();
    const secondId = again.data.rerunPipelineExecution.pipelineExecutionId as string;
    expect(secondId).not.toBe(firstId);
    expect(again.data.rerunPipelineExecution).toMatchObject({
      replayed: false,
      execution: { id: secondId, launch: { ...expectedLaunch, rerunOf: firstId } },
    });
    const repeated = await rerun(key);
    expect(repeated.errors).toBeUndefined();
    expect(repeated.data.rerunPipelineExecution).toMatchObject({
      pipelineExecutionId: secondId,
      replayed: true,
    });

    // One new run reached Maia, with exactly the first run's parameters.
    expect(await executeCalls(world)).toBe(1);
    expect(await receivedBy(world, secondId)).toEqual(await receivedBy(world, firstId));

    // The same key for another run is refused, and nothing more reaches Maia.
    const other = await gql(
      world.url,
      `mutation ($input: RerunPipelineExecutionInput!) { rerunPipelineExecution(input: $input) { pipelineExecutionId } }`,
      { input: { projectId: A, executionId: secondId, idempotencyKey: key } },
      operator,
    );
    expect(codeOf(other)).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await executeCalls(world)).toBe(1);
  });

  it('REST: GET …/launch shows what was sent; POST …/rerun starts one run with the same parameters, once per key', async () => {
    const body = {
      pipelineName: PIPELINE,
      environmentName: 'Prod',
      versionName: '1.1.0',
      scalarVariables: { region: 'us' },
    };
    const base = `/api/v1/projects/${A}/pipeline-executions`;
    const first = await rest(world.url, 'POST', base, { body, headers: operator });
    expect(first.status).toBe(201);
    const firstId = first.body.pipelineExecutionId as string;
    const launch = await rest(world.url, 'GET', `${base}/${firstId}/launch`, { headers: reader });
    expect({ status: launch.status, body: launch.body }).toEqual({
      status: 200,
      body: {
        pipelineExecutionId: firstId,
        projectId: A,
        ...body,
        gridVariables: {},
        launchedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    });

    await world.maia.clearRequests();
    const key = `rest-${randomUUID()}`;
    const rerun = () =>
      rest(world.url, 'POST', `${base}/${firstId}/rerun`, {
        headers: { ...operator, 'Idempotency-Key': key },
      });
    const again = await rerun();
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    const secondId = again.body.pipelineExecutionId as string;
    expect(secondId).not.toBe(firstId);
    const repeated = await rerun();
    expect({ status: repeated.status, body: repeated.body }).toEqual({
      status: 201,
      body: { pipelineExecutionId: secondId },
    });
    expect(repeated.headers.get('idempotent-replayed')).toBe('true');
    expect(await executeCalls(world)).toBe(1);
    expect(await receivedBy(world, secondId)).toEqual(await receivedBy(world, firstId));
    expect(await receivedBy(world, secondId)).toMatchObject({
      environmentName: 'Prod',
      versionName: '1.1.0',
      scalarVariables: { region: 'us' },
    });

    const secondLaunch = await rest(world.url, 'GET', `${base}/${secondId}/launch`, { headers: reader });
    expect(secondLaunch.body).toMatchObject({ ...body, pipelineExecutionId: secondId, rerunOf: firstId });

    // Without a key, every call is a new run.
    const third = await rest(world.url, 'POST', `${base}/${firstId}/rerun`, { headers: operator });
    expect(third.status).toBe(201);
    expect(new Set([firstId, secondId, third.body.pipelineExecutionId]).size).toBe(3);
    expect(await executeCalls(world)).toBe(2);
  });

  it('a run the gateway did not launch answers LAUNCH_UNKNOWN on both faces, and nothing reaches Maia', async () => {
    await world.maia.clearRequests();
    const graphql = await gql(
      world.url,
      `mutation ($input: RerunPipelineExecutionInput!) { rerunPipelineExecution(input: $input) { pipelineExecutionId } }`,
      { input: { projectId: A, executionId: SEED_RUN } },
      operator,
    );
    expect({ code: codeOf(graphql), executionId: graphql.errors?.[0].extensions.executionId }).toEqual({
      code: 'LAUNCH_UNKNOWN',
      executionId: SEED_RUN,
    });
    const base = `/api/v1/projects/${A}/pipeline-executions/${SEED_RUN}`;
    for (const [method, path] of [
      ['POST', `${base}/rerun`],
      ['GET', `${base}/launch`],
    ]) {
      const answer = await rest(world.url, method, path, { headers: operator });
      expect({ path, status: answer.status, type: answer.contentType, code: answer.body.code }).toEqual({
        path,
        status: 404,
        type: expect.stringContaining('application/problem+json'),
        code: 'LAUNCH_UNKNOWN',
      });
    }
    expect(await executeCalls(world)).toBe(0);

    // The run exists in Maia; its launch is simply unknown.
    const read = await gql(
      world.url,
      `query ($p: ID!, $e: ID!) { pipelineExecution(projectId: $p, executionId: $e) { id launch { launchedAt } } }`,
      { p: A, e: SEED_RUN },
      reader,
    );
    expect(read.data).toEqual({ pipelineExecution: { id: SEED_RUN, launch: null } });
  });

  it("a launch recorded under another project is unknown there (no re-run of another project's run)", async () => {
    const started = await rest(world.url, 'POST', `/api/v1/projects/${A}/pipeline-executions`, {
      body: { pipelineName: PIPELINE, environmentName: 'Dev' },
      headers: admin,
    });
    const id = started.body.pipelineExecutionId as string;
    await world.maia.clearRequests();
    const elsewhere = await rest(
      world.url,
      'POST',
      `/api/v1/projects/${PROJECTS.marketing}/pipeline-executions/${id}/rerun`,
      { headers: admin },
    );
    expect({ status: elsewhere.status, code: elsewhere.body.code }).toEqual({
      status: 404,
      code: 'LAUNCH_UNKNOWN',
    });
    expect(await executeCalls(world)).toBe(0);
  });

  it('a read-only key is refused (FORBIDDEN) on both faces before anything reaches Maia', async () => {
    const started = await rest(world.url, 'POST', `/api/v1/projects/${A}/pipeline-executions`, {
      body: { pipelineName: PIPELINE, environmentName: 'Dev' },
      headers: operator,
    });
    const id = started.body.pipelineExecutionId as string;
    await world.maia.clearRequests();
    const graphql = await gql(
      world.url,
      `mutation ($input: RerunPipelineExecutionInput!) { rerunPipelineExecution(input: $input) { pipelineExecutionId } }`,
      { input: { projectId: A, executionId: id, idempotencyKey: 'read-only' } },
      reader,
    );
    expect({ code: codeOf(graphql), scope: graphql.errors?.[0].extensions.scope }).toEqual({
      code: 'FORBIDDEN',
      scope: 'execute',
    });
    const restAnswer = await rest(
      world.url,
      'POST',
      `/api/v1/projects/${A}/pipeline-executions/${id}/rerun`,
      {
        headers: reader,
      },
    );
    expect({ status: restAnswer.status, code: restAnswer.body.code }).toEqual({
      status: 403,
      code: 'FORBIDDEN',
    });
    // Only the live-status watcher's background polls of runs already going reach Maia: no execute call.
    expect((await world.maia.requests()).filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('bad input is BAD_USER_INPUT before anything runs', async () => {
    await world.maia.clearRequests();
    const graphql = await gql(
      world.url,
      `mutation ($input: RerunPipelineExecutionInput!) { rerunPipelineExecution(input: $input) { pipelineExecutionId } }`,
      { input: { projectId: A, executionId: 'not-a-uuid' } },
      operator,
    );
    expect(codeOf(graphql)).toBe('BAD_USER_INPUT');
    const restAnswer = await rest(
      world.url,
      'POST',
      `/api/v1/projects/${A}/pipeline-executions/${SEED_RUN}/rerun`,
      { headers: { ...operator, 'Idempotency-Key': 'k'.repeat(256) } },
    );
    expect({ status: restAnswer.status, code: restAnswer.body.code }).toEqual({
      status: 400,
      code: 'BAD_USER_INPUT',
    });
    expect(await executeCalls(world)).toBe(0);
  });
});

describe('launch records expire after EXECUTION_LAUNCH_TTL_MS', () => {
  let world: SecuredWorld;
  let memoryOnly: InProcessGateway;

  beforeAll(async () => {
    world = await startSecuredWorld({
      REDIS_URL,
      REDIS_KEY_PREFIX: `test:rerun-ttl:${randomUUID()}:`,
      EXECUTION_LAUNCH_TTL_MS: '1500',
    });
    memoryOnly = await startGateway(
      gatewayEnv(world.maia, {
        REDIS_URL: '',
        AUTH_DISABLED: 'true',
        RATE_LIMIT_ENABLED: 'false',
        EXECUTION_LAUNCH_TTL_MS: '1500',
      }),
    );
  });
  afterAll(async () => {
    await memoryOnly?.close();
    await world?.close();
  });

  it.each([
    ['with Redis', () => ({ url: world.url, headers: operator })],
    ['without Redis (memory of one replica)', () => ({ url: memoryOnly.url, headers: {} })],
  ])('%s: launch is there, then null, and a re-run then answers LAUNCH_UNKNOWN', async (_, target) => {
    const { url, headers } = target();
    const started = await gql(
      url,
      `mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }`,
      { input: { projectId: A, pipelineName: PIPELINE, environmentName: 'Dev', versionName: '1.1.0' } },
      headers,
    );
    const id = started.data.executePipeline.pipelineExecutionId as string;
    const launchOf = async () =>
      (
        await gql(
          url,
          `query ($p: ID!, $e: ID!) { pipelineExecution(projectId: $p, executionId: $e) { launch { versionName } } }`,
          { p: A, e: id },
          headers,
        )
      ).data.pipelineExecution.launch;
    expect(await launchOf()).toEqual({ versionName: '1.1.0' });
    // Expires: waited for as a condition, up to well past the 1.5 s TTL.
    await eventually(async () => expect(await launchOf()).toBeNull(), { timeoutMs: 6_000, intervalMs: 100 });
    const rerun = await gql(
      url,
      `mutation ($input: RerunPipelineExecutionInput!) { rerunPipelineExecution(input: $input) { pipelineExecutionId } }`,
      { input: { projectId: A, executionId: id } },
      headers,
    );
    expect(codeOf(rerun)).toBe('LAUNCH_UNKNOWN');
  });
});
