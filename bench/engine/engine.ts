import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import autocannon from 'autocannon';
import { pinProcess, spawnServer, type SpawnedServer } from '../lib/child-process';
import { send } from '../lib/http-load';
import { planCores, machineInfo } from '../lib/machine';
import { EXECUTE_MUTATION, NESTED_QUERY, PROJECTS_QUERY, expectData, graphqlBody } from '../lib/queries';
import { GATEWAY_MAIN, ROOT, seedFacts } from '../lib/repo';
import {
  deleteRedisKeys,
  newKeyPrefix,
  PROFILE_DIR,
  startEmulatorProcess,
  startPeerServer,
} from '../lib/stack';

/**
 * The engine path, measured in gateway CPU per request: what a request costs when the whole-answer cache
 * does not answer it (`CACHE_HOT_READ_TTL_MS=0`), with authentication on (API keys), rate limits on (with a
 * budget that never refuses), metrics on and `info` logs. One gateway, the workloads one after another:
 * each warms up, then runs a measured window while the gateway's own CPU time (/proc/<pid>/stat) is read
 * before and after. `--profile=<workload>` runs that workload alone under `node --cpu-prof` (the profile
 * lands in bench/results/profiles/; `node dist/bench/profile-summary.js <file>` reads it).
 *
 *   npm run build && npx tsc -p tsconfig.bench.json && node dist/bench/engine/engine.js [--seconds=8]
 *     [--warmup=6] [--only=rest,graphql,nested,execute] [--profile=graphql] [--env=NAME=value,...]
 *     [--gateways=dist/main.js,other/main.js@NAME=value;NAME=value] [--rounds=3]
 *
 * `--gateways` compares builds (or settings, after `@`) on a busy machine: every gateway runs at once (one
 * measured at a time), the rounds interleave them, and each row is the median of its rounds. `peer` among
 * them is the plain Apollo Server peer of the bench's baselines (graphql and nested only).
 */

type Workload = 'rest' | 'graphql' | 'nested' | 'execute';
const WORKLOADS: Workload[] = ['rest', 'graphql', 'nested', 'execute'];

interface Row {
  gateway: string;
  workload: Workload;
  requests: number;
  reqPerSec: number;
  cpuUsPerRequest: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

const API_KEY = `bench-engine-${randomUUID()}`;

/** As the gateway's AUTH_API_KEYS wants keys: their SHA-256, hex. */
function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Twenty callers of different rights, the bench's own key among them (admin on every project). */
function apiKeys(projectIds: string[]): string {
  const keys: Record<string, unknown>[] = [
    { name: 'bench-engine', sha256: hashApiKey(API_KEY), scopes: ['admin'], projects: ['*'] },
  ];
  for (let i = 0; i < 19; i++) {
    keys.push({
      name: `caller-${i}`,
      sha256: hashApiKey(`caller-${i}-${randomUUID()}`),
      scopes: i % 2 === 0 ? ['read'] : ['read', 'execute'],
      projects: [projectIds[i % projectIds.length]],
    });
  }
  return JSON.stringify(keys);
}

/** `--gateways=...,peer`: the plain Apollo Server peer (bench/servers/peer.server.ts) as one more server. */
const PEER = 'peer';
const PEER_WORKLOADS: readonly Workload[] = ['graphql', 'nested'];

function specOf(
  gateway: SpawnedServer,
  workload: Workload,
  facts: ReturnType<typeof seedFacts>,
): autocannon.Options {
  const headers = { 'x-api-key': API_KEY, 'content-type': 'application/json' };
  const graphql = (body: string): autocannon.Options => ({
    // The peer serves GraphQL at its root (Apollo's standalone server).
    url: gateway.name === PEER ? `${gateway.url}/` : `${gateway.url}/graphql`,
    method: 'POST',
    headers,
    body,
  });
  switch (workload) {
    case 'rest':
      return { url: `${gateway.url}/api/v1/projects`, headers: { 'x-api-key': API_KEY } };
    case 'graphql':
      return graphql(graphqlBody(PROJECTS_QUERY));
    case 'nested':
      return graphql(graphqlBody(NESTED_QUERY));
    case 'execute':
      return graphql(
        graphqlBody(EXECUTE_MUTATION, {
          input: {
            projectId: facts.projectId,
            pipelineName: facts.shortPipeline.name,
            environmentName: facts.environmentName,
          },
        }),
      );
  }
}

async function run(
  spec: autocannon.Options,
  connections: number,
  seconds: number,
): Promise<autocannon.Result> {
  return autocannon({ ...spec, connections, pipelining: 1, duration: seconds, timeout: 10 });
}

async function measure(
  gateway: SpawnedServer,
  workload: Workload,
  facts: ReturnType<typeof seedFacts>,
  warmupSeconds: number,
  seconds: number,
): Promise<Row> {
  const spec = specOf(gateway, workload, facts);
  // One request first, checked: a workload that answers errors would measure the error path.
  const probe = await send({
    url: spec.url,
    method: (spec.method as 'GET' | 'POST' | undefined) ?? 'GET',
    headers: spec.headers as Record<string, string>,
    body: spec.body as string | undefined,
  });
  if (workload === 'rest') {
    if (probe.status !== 200) throw new Error(`rest: HTTP ${probe.status} ${probe.body.slice(0, 200)}`);
  } else {
    expectData(probe.status, probe.body, workload);
  }
  // executePipeline starts a run upstream per call: fewer connections, so the emulator (on the load
  // generator's core) keeps up and the gateway, not the upstream, is what is measured.
  const connections = workload === 'execute' ? 8 : 32;
  await run(spec, connections, warmupSeconds);
  const cpuBefore = gateway.cpuTimeMs();
  const result = await run(spec, connections, seconds);
  const cpuMs = gateway.cpuTimeMs() - cpuBefore;
  return {
    gateway: '',
    workload,
    requests: result.requests.total,
    reqPerSec: Math.round(result.requests.total / result.duration),
    cpuUsPerRequest: Math.round((cpuMs * 1000) / Math.max(1, result.requests.total)),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

interface GatewayLaunch {
  main: string;
  emulator: Awaited<ReturnType<typeof startEmulatorProcess>>;
  core: number | null;
  redisUrl: string;
  keyPrefix: string;
  profile?: Workload;
  env: Record<string, string>;
}

function startGateway(launch: GatewayLaunch): Promise<SpawnedServer> {
  const nodeArgs = launch.profile
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${PROFILE_DIR}`,
        `--cpu-prof-name=engine-${launch.profile}-${Date.now()}.cpuprofile`,
      ]
    : [];
  if (launch.profile) mkdirSync(PROFILE_DIR, { recursive: true });
  const maia = launch.emulator.client;
  return spawnServer({
    name: 'gateway',
    args: [...nodeArgs, launch.main],
    cwd: ROOT,
    core: launch.core,
    env: {
      NODE_ENV: 'production',
      GATEWAY_MODE: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      REDIS_URL: launch.redisUrl,
      REDIS_KEY_PREFIX: launch.keyPrefix,
      MAIA_BASE_URL: maia.apiBaseUrl,
      MAIA_TOKEN_URL: maia.tokenUrl,
      MAIA_CLIENT_ID: maia.clientId,
      MAIA_CLIENT_SECRET: maia.clientSecret,
      // Production-shaped: authentication and rate limits on, the whole-answer cache off, info logs.
      AUTH_DISABLED: 'false',
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_PER_MINUTE: '1000000',
      RATE_LIMIT_BURST: '1000000',
      CACHE_HOT_READ_TTL_MS: '0',
      LOG_LEVEL: 'info',
      ...launch.env,
    },
    listening: /listening on (http:\/\/[^\s"']+)/,
    startTimeoutMs: 60_000,
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const seconds = Number(option('seconds') ?? 8);
  const warmupSeconds = Number(option('warmup') ?? 6);
  const profile = option('profile') as Workload | undefined;
  const only = profile ? [profile] : ((option('only')?.split(',') as Workload[] | undefined) ?? WORKLOADS);
  const mains = option('gateways')?.split(',') ?? [GATEWAY_MAIN];
  const rounds = Number(option('rounds') ?? (mains.length > 1 ? 3 : 1));
  const extraEnv = Object.fromEntries(
    (option('env') ?? '')
      .split(',')
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
  const facts = seedFacts();
  const machine = machineInfo();
  const cores = planCores(machine.nproc, true);
  if (cores.loadGenerator !== null) pinProcess(process.pid, cores.loadGenerator);
  const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const keyPrefixes = mains.map(() => newKeyPrefix());
  const logDir = resolve(ROOT, 'bench', 'results');
  mkdirSync(logDir, { recursive: true });
  log(
    `engine path: node ${machine.node}, ${machine.nproc} cores, load ${machine.loadAverage1m}, ${cores.note}`,
  );
  const emulator = await startEmulatorProcess(cores);
  const gateways: SpawnedServer[] = [];
  const rows: Row[] = [];
  try {
    for (const [i, entry] of mains.entries()) {
      const [main, settings = ''] = entry.split('@');
      const own = Object.fromEntries(
        settings
          .split(';')
          .filter(Boolean)
          .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      );
      if (main === PEER) {
        gateways.push(await startPeerServer(cores));
        continue;
      }
      gateways.push(
        await startGateway({
          main: resolve(ROOT, main),
          emulator,
          core: cores.server,
          redisUrl,
          keyPrefix: keyPrefixes[i],
          profile,
          env: {
            AUTH_API_KEYS: apiKeys([facts.projectId, facts.historyExecution.projectId]),
            ...extraEnv,
            ...own,
          },
        }),
      );
    }
    for (let round = 0; round < rounds; round++) {
      for (const workload of only) {
        for (const [i, gateway] of gateways.entries()) {
          if (mains[i] === PEER && !PEER_WORKLOADS.includes(workload)) continue;
          const row = {
            ...(await measure(gateway, workload, facts, warmupSeconds, seconds)),
            gateway: mains[i],
          };
          rows.push(row);
          log(
            `${workload.padEnd(8)} ${String(row.reqPerSec).padStart(6)} req/s  ${String(row.cpuUsPerRequest).padStart(5)} µs CPU/req  ` +
              `p50 ${row.p50Ms} ms  p99 ${row.p99Ms} ms  non-2xx ${row.non2xx}  errors ${row.errors}  ${mains[i]}`,
          );
        }
      }
    }
  } finally {
    for (const gateway of gateways) await gateway.stop();
    await emulator.server.stop();
    await deleteRedisKeys(redisUrl, keyPrefixes);
  }
  if (rounds > 1) {
    log('median µs CPU/req over the rounds');
    for (const workload of only) {
      const cells = mains.map((m) =>
        median(rows.filter((r) => r.gateway === m && r.workload === workload).map((r) => r.cpuUsPerRequest)),
      );
      log(`${workload.padEnd(8)} ${cells.map((c) => String(c).padStart(6)).join(' ')}`);
    }
  }
  if (profile) log(`profile written to ${PROFILE_DIR}`);
  writeFileSync(
    resolve(logDir, 'engine.json'),
    `${JSON.stringify({ machine, env: extraEnv, seconds, warmupSeconds, rows }, null, 2)}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(2);
});
