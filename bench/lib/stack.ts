import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import Redis from 'ioredis';
import { spawnServer, type SpawnedServer } from './child-process';
import { EmulatorClient } from './emulator-client';
import type { CorePlan } from './machine';
import { BENCH_DIST, EMULATOR_MAIN, GATEWAY_MAIN, ROOT, SEED_PATH } from './repo';

/** Starting the processes of a benchmark: the emulator, the gateway and the two baselines. */

export const PROFILE_DIR = resolve(ROOT, 'bench', 'results', 'profiles');

export interface RunningEmulator {
  server: SpawnedServer;
  client: EmulatorClient;
}

export async function startEmulatorProcess(cores: CorePlan): Promise<RunningEmulator> {
  if (!existsSync(EMULATOR_MAIN)) throw new Error(`${EMULATOR_MAIN} is missing: run npm run build`);
  const server = await spawnServer({
    name: 'emulator',
    args: [EMULATOR_MAIN],
    cwd: ROOT,
    core: cores.emulator,
    env: {
      NODE_ENV: 'production',
      EMULATOR_HOST: '127.0.0.1',
      EMULATOR_PORT: '0',
      // The benchmarks are the only client: Maia's 1000/min would turn throughput runs into 429 runs.
      EMULATOR_RATE_LIMIT_PER_MINUTE: '1000000000',
    },
    listening: /Maia emulator listening on (http:\/\/\S+)/,
  });
  const clientId = /client id\s+(\S+)/.exec(server.output())?.[1] ?? 'sandbox-client';
  const clientSecret = /client secret\s+(\S+)/.exec(server.output())?.[1] ?? 'sandbox-secret';
  return { server, client: new EmulatorClient(server.url, clientId, clientSecret) };
}

/**
 * How a gateway is set up for a row. Production-shaped: production mode, API keys and JWTs (callers from
 * `principals`), rate limits on with budgets no caller of the run reaches, metrics on, logs at info to a
 * file. The comparison shape for the auth cost: development mode with auth and rate limits off, the rest
 * the same. `responseCache` is the whole-answer (hot-read) cache: off is CACHE_HOT_READ_TTL_MS=0.
 */
export interface GatewayShape {
  auth: 'api-keys+jwt' | 'off';
  rateLimits: 'on' | 'off';
  responseCache: 'on' | 'off';
}

/** Per caller per minute, and the burst on top: more than any row sends (a refusal would fail the row). */
export const NON_REFUSING_RATE_BUDGET = 1_000_000;

export function shapeEnv(shape: GatewayShape, authEnv: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    LOG_LEVEL: 'info',
    METRICS_ENABLED: 'true',
    RATE_LIMIT_ENABLED: shape.rateLimits === 'on' ? 'true' : 'false',
    RATE_LIMIT_PER_MINUTE: String(NON_REFUSING_RATE_BUDGET),
    RATE_LIMIT_BURST: String(NON_REFUSING_RATE_BUDGET),
  };
  if (shape.responseCache === 'off') env.CACHE_HOT_READ_TTL_MS = '0';
  if (shape.auth === 'off') return { ...env, GATEWAY_MODE: 'development', AUTH_DISABLED: 'true' };
  return { ...env, GATEWAY_MODE: 'production', ...authEnv };
}

export interface GatewayLaunch {
  emulator: EmulatorClient;
  cores: CorePlan;
  redisUrl: string;
  /** Every key this gateway writes starts with it (deleted at the end of the run). */
  keyPrefix: string;
  profile: boolean;
  profileName?: string;
  env?: Record<string, string>;
  /** The gateway's stdout and stderr (its JSON log lines) go to this file. */
  logFile?: string;
}

/**
 * The gateway exactly as deployed (`node dist/main.js`), with Redis, against the emulator. By default
 * development mode with client auth off and warn-level logs; `env` (see `shapeEnv`) makes it
 * production-shaped. The subscription and connection limits per client and per IP are raised: one load
 * generator opens thousands.
 */
export async function startGatewayProcess(launch: GatewayLaunch): Promise<SpawnedServer> {
  if (!existsSync(GATEWAY_MAIN)) throw new Error(`${GATEWAY_MAIN} is missing: run npm run build`);
  const nodeArgs: string[] = [];
  if (launch.profile) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    nodeArgs.push(
      '--cpu-prof',
      `--cpu-prof-dir=${PROFILE_DIR}`,
      `--cpu-prof-name=${launch.profileName ?? 'gateway'}-${Date.now()}.cpuprofile`,
    );
  }
  return spawnServer({
    name: 'gateway',
    args: [...nodeArgs, GATEWAY_MAIN],
    cwd: ROOT,
    core: launch.cores.server,
    env: {
      NODE_ENV: 'production',
      GATEWAY_MODE: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      REDIS_URL: launch.redisUrl,
      REDIS_KEY_PREFIX: launch.keyPrefix,
      MAIA_BASE_URL: launch.emulator.apiBaseUrl,
      MAIA_TOKEN_URL: launch.emulator.tokenUrl,
      MAIA_CLIENT_ID: launch.emulator.clientId,
      MAIA_CLIENT_SECRET: launch.emulator.clientSecret,
      // Auth: off by default in development mode without credentials; `shapeEnv` says it either way.
      RATE_LIMIT_ENABLED: 'false',
      WATCH_MAX_SUBSCRIPTIONS_PER_CLIENT: '1000000',
      // One load generator on one address stands for many callers: its thousands of subscribers' sockets
      // and the stampede's 500 connections at once would otherwise meet the per-client and per-IP caps
      // (a production fleet sees these callers from many addresses, or behind a trusted proxy).
      GRAPHQL_WS_MAX_CONNECTIONS_PER_CLIENT: '1000000',
      CONNECTION_LIMIT_PER_IP: '0',
      ...launch.env,
    },
    listening: /listening on (http:\/\/[^\s"'\\]+)/,
    startTimeoutMs: 60_000,
    logFile: launch.logFile,
  });
}

export async function startLimitServer(
  cores: CorePlan,
  bodyFile: string,
  contentType: string,
): Promise<SpawnedServer> {
  return spawnServer({
    name: 'limit',
    args: [resolve(BENCH_DIST, 'servers', 'limit.server.js')],
    cwd: ROOT,
    core: cores.server,
    env: { NODE_ENV: 'production', BENCH_BODY_FILE: bodyFile, BENCH_CONTENT_TYPE: contentType },
    listening: /listening on (http:\/\/\S+)/,
  });
}

export async function startPeerServer(cores: CorePlan): Promise<SpawnedServer> {
  return spawnServer({
    name: 'peer',
    args: [resolve(BENCH_DIST, 'servers', 'peer.server.js')],
    cwd: ROOT,
    core: cores.server,
    env: { NODE_ENV: 'production', BENCH_SEED_PATH: SEED_PATH },
    listening: /listening on (http:\/\/\S+)/,
  });
}

export function newKeyPrefix(): string {
  return `bench:${randomUUID()}:`;
}

/** Deletes every key of the given prefixes (the shared Redis keeps nothing of a benchmark). */
export async function deleteRedisKeys(redisUrl: string, prefixes: string[]): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    await redis.connect();
    for (const prefix of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) deleted += await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
  return deleted;
}
