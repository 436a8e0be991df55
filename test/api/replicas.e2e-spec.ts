import { randomUUID } from 'node:crypto';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv } from '../support/gateway-env';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { REDIS_TOPOLOGIES, redisUnderTest, type RedisUnderTest } from '../support/redis-topologies';
import { eventually } from '../support/eventually';
import { gql, gqlData, rest, seed } from './support/api-client';

/**
 * Two gateway processes (`node dist/main.js`) sharing a real Redis — one server, then a three-master Redis
 * Cluster — in front of one emulator that counts every upstream call: the cache loads once across both,
 * serves stale answers when Maia fails, and invalidation and idempotency hold across replicas.
 */
describe.each(REDIS_TOPOLOGIES)('two gateway replicas sharing Redis (%s)', (topology) => {
  let redis: RedisUnderTest;
  let maia: EmulatorFixture;
  let a: GatewayProcess;
  let b: GatewayProcess;
  const prefix = `test:${randomUUID()}:`;

  beforeAll(async () => {
    redis = await redisUnderTest(topology);
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    const env = gatewayEnv(maia, {
      ...redis.env,
      REDIS_KEY_PREFIX: prefix,
      // Long enough that only an invalidation can make a replica reload projects...
      CACHE_TTL_PROJECTS_SECONDS: '600',
      CACHE_L1_TTL_SECONDS: '600',
      // ...and short for environments, to see stale answers while Maia fails.
      CACHE_TTL_ENVIRONMENTS_SECONDS: '1',
      // Keep Maia's failures plain 503s (no breaker opening, no retries) so the suite stays quick.
      MAIA_BREAKER_FAILURE_THRESHOLD: '1000',
      MAIA_MAX_ATTEMPTS: '1',
      // A busy CI machine must not turn a slow Redis answer into a (correct, but here unwanted) fallback
      // to Maia: this suite is about sharing, the Redis outage suites are elsewhere.
      REDIS_COMMAND_TIMEOUT_MS: '5000',
    });
    [a, b] = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
    await maia.resetCounters();
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await maia?.close();
    await redis?.close(prefix);
  });

  const projectsQuery = '{ projects { total results { id name } } }';

  it('200 concurrent identical cold projects queries make exactly 1 upstream call; the other replica then makes 0', async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, () => gql(a.url, projectsQuery)));
    for (const answer of answers) {
      expect(answer.errors).toBeUndefined();
      expect(answer.data.projects.total).toBe(5);
    }
    expect(new Set(answers.map((r) => JSON.stringify(r.data))).size).toBe(1);
    expect((await maia.counters()).routes.listProjects).toEqual({ total: 1, byStatus: { '200': 1 } });

    const fromRedis = await gqlData(b.url, projectsQuery);
    expect(fromRedis).toEqual(answers[0].data);
    const restFromRedis = await rest(b.url, 'GET', '/api/v1/projects');
    expect(restFromRedis.body.total).toBe(5);
    expect(await maia.count('listProjects')).toBe(1);
  });

  it('invalidateCache on one replica is seen by both: each reloads once between them, not from its own memory', async () => {
    // Both replicas hold the projects page in their in-process level now.
    await gqlData(a.url, projectsQuery);
    await gqlData(b.url, projectsQuery);
    const before = await maia.count('listProjects');

    // An explicit null is GraphQL's way of leaving the argument out: everything, like no argument.
    const invalidated = await gqlData(a.url, 'mutation { invalidateCache(projectId: null) { invalidated } }');
    expect(invalidated.invalidateCache).toEqual({ invalidated: 'all' });

    // B's in-process entry would answer for 10 more minutes: only the broadcast invalidation makes it reload.
    await eventually(async () => {
      await gqlData(b.url, projectsQuery);
      expect(await maia.count('listProjects')).toBe(before + 1);
    });
    await gqlData(a.url, projectsQuery); // A reads what B just stored in Redis
    expect(await maia.count('listProjects')).toBe(before + 1);

    // The REST route on the other replica, for one project: its environments reload, the others stay.
    await rest(a.url, 'GET', `/api/v1/projects/${seed.testProject}/environments`);
    const envBefore = await maia.count('listEnvironments');
    const result = await rest(b.url, 'POST', '/api/v1/cache/invalidate', {
      body: { projectId: seed.testProject },
    });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ invalidated: seed.testProject });
    await eventually(async () => {
      await rest(a.url, 'GET', `/api/v1/projects/${seed.testProject}/environments`);
      expect(await maia.count('listEnvironments')).toBe(envBefore + 1);
    });
  });

  it('while Maia fails, cached lookups are still answered and marked stale (GraphQL extensions, REST headers)', async () => {
    const query = `{ project(id: "${seed.analytics}") { environments { results { name } } } }`;
    const fresh = await gqlData(a.url, query);
    expect(fresh.project.environments.results.map((e: { name: string }) => e.name)).toEqual(['Dev', 'Prod']);
    const faultId = await maia.addFault({ route: 'listEnvironments', status: 503 });
    try {
      // Fresh until the 1 s TTL lapses; then Maia's 503 makes the replica serve the entry as stale.
      const stale = await eventually(async () => {
        const answer = await gql(b.url, query);
        expect(answer.extensions?.stale).toEqual(['environments']);
        return answer;
      });
      expect(stale.errors).toBeUndefined();
      expect(stale.data).toEqual(fresh);
      expect(stale.extensions?.stale).toEqual(['environments']);

      const restStale = await rest(b.url, 'GET', `/api/v1/projects/${seed.analytics}/environments`);
      expect(restStale.status).toBe(200);
      expect(restStale.body.results.map((e: { name: string }) => e.name)).toEqual(['Dev', 'Prod']);
      expect(restStale.headers.get('x-cache-stale')).toBe('environments');
      expect(restStale.headers.get('warning')).toBe('110 - "Response is Stale"');
      expect(await maia.count('listEnvironments', 503)).toBeGreaterThan(0);

      // Nothing cached to fall back on: the failure is reported with its code, nothing leaks.
      const uncached = await gql(b.url, `{ project(id: "${seed.marketing}") { environments { total } } }`);
      expect(uncached.errors?.[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(JSON.stringify(uncached)).not.toContain(maia.url);
    } finally {
      await maia.removeFault(faultId);
    }
  });

  it('the same idempotency key sent to both replicas at once starts one execution', async () => {
    const body = { pipelineName: 'Pipeline 1', environmentName: 'Dev Environment' };
    const key = `replicas-${randomUUID()}`;
    const path = `/api/v1/projects/${seed.testProject}/pipeline-executions`;
    const before = (await maia.executions()).length;
    const [fromA, fromB] = await Promise.all([
      rest(a.url, 'POST', path, { body, headers: { 'idempotency-key': key } }),
      rest(b.url, 'POST', path, { body, headers: { 'idempotency-key': key } }),
    ]);
    expect([fromA.status, fromB.status]).toEqual([201, 201]);
    expect(fromA.body.pipelineExecutionId).toBe(fromB.body.pipelineExecutionId);
    const replayed = [fromA, fromB].map((r) => r.headers.get('idempotent-replayed'));
    expect(replayed.filter((h) => h === 'true')).toHaveLength(1);
    expect(replayed.filter((h) => h === null)).toHaveLength(1);
    const after = await maia.executions();
    expect(after).toHaveLength(before + 1);
    expect(after[after.length - 1].pipelineExecutionId).toBe(fromA.body.pipelineExecutionId);

    // The same through GraphQL, ten callers split over both replicas.
    const mutation = `mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId replayed } }`;
    const input = { projectId: seed.testProject, ...body, idempotencyKey: `replicas-${randomUUID()}` };
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => gqlData(i % 2 === 0 ? a.url : b.url, mutation, { input })),
    );
    const ids = new Set(results.map((r) => r.executePipeline.pipelineExecutionId));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => !r.executePipeline.replayed)).toHaveLength(1);
    expect(await maia.executions()).toHaveLength(before + 2);
    // The ledger's settle and the launch record went out in one pipeline (one slot on a cluster): both there.
    const runId = [...ids][0].toLowerCase();
    const keyOf = (rest: string) => (topology === 'cluster' ? `{${prefix}}${rest}` : `${prefix}${rest}`);
    expect(await redis.client.get(keyOf(`maia:executions:claimed:${runId}`))).not.toBeNull();
    expect(JSON.parse((await redis.client.get(keyOf(`exec-launch:v1:${runId}`))) as string)).toMatchObject({
      projectId: seed.testProject,
    });
  });
});
