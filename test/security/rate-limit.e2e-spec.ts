import { randomUUID } from 'node:crypto';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import {
  apiKeysJson,
  KEYS,
  PROJECTS,
  startSecuredWorld,
  type SecuredWorld,
} from '../auth/support/secured-gateway';
import { graphqlCall, restCall, wsCall } from '../auth/support/probes';
import { REDIS_TOPOLOGIES, redisUnderTest, type RedisUnderTest } from '../support/redis-topologies';

/**
 * Per-client rate limits: one budget per principal shared by every replica through Redis (a real Redis —
 * one server, then a three-master Redis Cluster — and this suite's own key prefix), a small per-IP budget for failed credentials, 429 with Retry-After on REST,
 * RATE_LIMITED everywhere, and limits that keep working on memory when Redis is not there.
 */
describe.each(REDIS_TOPOLOGIES)('rate limits (%s Redis)', (topology) => {
  let redis: RedisUnderTest;
  let world: SecuredWorld;
  let second: InProcessGateway;
  const prefix = `test:${randomUUID()}:`;
  const limits = {
    RATE_LIMIT_ENABLED: 'true',
    // One token every ten seconds: no refill during the burst even on a busy machine (at one a second, a
    // run slower than a second refilled a token before the GraphQL call and it was admitted).
    RATE_LIMIT_PER_MINUTE: '6',
    RATE_LIMIT_BURST: '6',
    RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '4',
    REDIS_KEY_PREFIX: prefix,
  };

  beforeAll(async () => {
    redis = await redisUnderTest(topology);
    Object.assign(limits, redis.env);
    world = await startSecuredWorld(limits);
    // A second replica: same Redis and prefix, same keys.
    second = await startGateway(
      gatewayEnv(world.maia, {
        AUTH_DISABLED: 'false',
        AUTH_API_KEYS: apiKeysJson(),
        ...limits,
      }),
    );
  });
  afterAll(async () => {
    await second?.close();
    await world?.close();
    await redis?.close(prefix);
  });

  it('shares one budget per client across replicas, then answers 429 with Retry-After on REST and GraphQL', async () => {
    const key = { 'x-api-key': KEYS.operator };
    const replicas = [world.url, second.url];
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const outcome = await restCall(replicas[i % 2], key, 'GET', '/api/v1/projects');
      statuses.push(outcome.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);

    const response = await fetch(`${second.url}/api/v1/projects`, { headers: key });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await response.json()) as { code: string }).code).toBe('RATE_LIMITED');

    const graphql = await graphqlCall(world.url, key, '{ projects { total } }');
    expect(graphql.status).toBe(429);
    expect(graphql.code).toBe('RATE_LIMITED');

    // The subscription path is counted too: the socket connects, its operation is refused.
    const ws = await wsCall(
      world.url,
      key,
      'subscription ($p: ID!) { pipelineExecutionEvents(projectId: $p) { cursor } }',
      {
        p: PROJECTS.analytics,
      },
    );
    expect(['CLOSED', 'RATE_LIMITED']).toContain(ws.code);
    if (ws.code === 'CLOSED') expect(ws.status).toBe(4429);

    // Other clients keep their own budgets.
    expect((await restCall(world.url, { 'x-api-key': KEYS.reader }, 'GET', '/api/v1/projects')).status).toBe(
      200,
    );
    // Public probes are never limited.
    expect((await fetch(`${world.url}/health/live`)).status).toBe(200);
  });

  it('gives failed credentials a small per-IP budget: 401s, then 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      statuses.push(
        (await restCall(world.url, { 'x-api-key': `guess-${i}` }, 'GET', '/api/v1/projects')).status,
      );
    }
    expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
    expect(statuses.slice(4)).toEqual([429, 429]);
    // The other replica shares the IP's budget through Redis.
    expect((await restCall(second.url, {}, 'GET', '/api/v1/projects')).status).toBe(429);
  });

  it('keeps limiting on memory, per replica, when Redis is not reachable', async () => {
    const alone = await startGateway(
      gatewayEnv(world.maia, {
        AUTH_DISABLED: 'false',
        AUTH_API_KEYS: apiKeysJson(),
        ...limits,
        REDIS_URL: 'redis://127.0.0.1:1',
        REDIS_CONNECT_TIMEOUT_MS: '100',
      }),
    );
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i += 1) {
        statuses.push(
          (
            await restCall(
              alone.url,
              { 'x-api-key': KEYS.admin },
              'GET',
              `/api/v1/projects/${PROJECTS.analytics}/environments`,
            )
          ).status,
        );
      }
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429]);
    } finally {
      await alone.close();
    }
  });
});
