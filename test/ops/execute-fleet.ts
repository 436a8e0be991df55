import { randomUUID } from 'node:crypto';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv, type GatewayEnv } from '../support/gateway-env';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { DedicatedRedis } from './dedicated-redis';

/** The seed's analytics project and its orders pipeline in Dev (src/emulator/seed.json). */
export const PROJECT_ID = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
export const ORDERS = { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Dev' };

/**
 * Two gateway processes (dist/main.js) sharing a Redis of the test's own (one key prefix), in front of one
 * emulator that counts the runs. Close it in afterAll.
 */
export interface ExecuteFleet {
  maia: EmulatorFixture;
  redis: DedicatedRedis;
  gateways: GatewayProcess[];
  close(): Promise<void>;
}

export async function startExecuteFleet(overrides: GatewayEnv = {}): Promise<ExecuteFleet> {
  // Reconciliation lists runs for every dropped call: lift the emulator's rate limit out of the way.
  const maia = await startEmulatorFixture({ rateLimitPerMinute: 1_000_000 });
  const redis = await DedicatedRedis.start();
  const env = gatewayEnv(maia, {
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
    REDIS_COMMAND_TIMEOUT_MS: '1000',
    // Generous where waiting costs nothing while Redis is away (a refused connect fails at once): on a
    // loaded CI machine a 500-ms connect or a 300-ms readiness PING after the restart could time out round
    // after round, and the replicas reported Redis degraded long after it was back.
    REDIS_CONNECT_TIMEOUT_MS: '2000',
    HEALTH_REDIS_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'error',
    ...overrides,
  });
  const gateways = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
  return {
    maia,
    redis,
    gateways,
    close: async () => {
      await Promise.all(gateways.map((g) => g.stop('SIGKILL')));
      await redis.kill();
      await maia.close();
    },
  };
}

/** What a caller of REST execute learns. */
export interface ExecuteAnswer {
  status: number;
  id?: string;
  code?: string;
  retryAfter: string | null;
  replayed: boolean;
}

/** POST /api/v1/projects/{id}/pipeline-executions, as a REST client (fetch) sends it. */
export async function executeAt(
  gateway: GatewayProcess,
  idempotencyKey?: string,
  body: Record<string, unknown> = ORDERS,
): Promise<ExecuteAnswer> {
  const response = await fetch(`${gateway.url}/api/v1/projects/${PROJECT_ID}/pipeline-executions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }),
    },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { pipelineExecutionId?: string; code?: string };
  return {
    status: response.status,
    id: answer.pipelineExecutionId,
    code: answer.code,
    retryAfter: response.headers.get('retry-after'),
    replayed: response.headers.get('idempotent-replayed') === 'true',
  };
}

/** Runs `work` over `items`, at most `concurrency` at a time; results in the items' order. */
export async function inBatches<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Redis as a replica's readiness reports it (`ok`, `degraded`). */
export async function redisStateAt(gateway: GatewayProcess): Promise<string> {
  const response = await fetch(`${gateway.url}/health/ready`);
  const body = (await response.json()) as { details?: { redis?: { state?: string } } };
  return body.details?.redis?.state ?? 'missing';
}

/** Until every replica reports Redis in `state`. */
export async function untilRedisIs(fleet: ExecuteFleet, state: string): Promise<void> {
  await eventually(
    async () => {
      for (const gateway of fleet.gateways) expect(await redisStateAt(gateway)).toBe(state);
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
}

/** Ids of the runs the emulator holds now (oldest first). */
export async function runIds(maia: EmulatorFixture): Promise<string[]> {
  return (await maia.executions()).map((e) => e.pipelineExecutionId);
}
