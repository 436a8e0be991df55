import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pinProcess, spawnedProcesses, type SpawnedServer } from './lib/child-process';
import type { EmulatorClient } from './lib/emulator-client';
import { measureLoad, measurePairedLatency, send, type RequestSpec } from './lib/http-load';
import { machineInfo, planCores, type CorePlan, type MachineInfo } from './lib/machine';
import { parseOptions, usage, type BenchOptions, type ScenarioGroup } from './lib/options';
import {
  EXECUTE_MUTATION,
  EXECUTION_QUERY,
  NESTED_QUERY,
  PROJECTS_QUERY,
  expectData,
  graphqlBody,
} from './lib/queries';
import { ROOT, seedFacts, type SeedFacts } from './lib/repo';
import { checkTargets, formatDetails, formatTable, formatTargets, recordResults } from './lib/report';
import type {
  BenchResults,
  PassThroughResult,
  ScenarioRow,
  ServerKind,
  SubscriptionRound,
} from './lib/results';
import {
  deleteRedisKeys,
  newKeyPrefix,
  startEmulatorProcess,
  startGatewayProcess,
  startLimitServer,
  startPeerServer,
} from './lib/stack';
import { MiB, round } from './lib/stats';
import { runStampede } from './scenarios/stampede.scenario';
import { runSubscriptionRound } from './scenarios/subscriptions.scenario';

/**
 * `npm run bench [-- --quick]`: the gateway against the physical limit (raw node:http) and its peer (plain
 * Apollo Server), measured side by side in one invocation, as ratios. See docs/adr/0007-benchmarks.md.
 */

const RESULTS_DIR = resolve(ROOT, 'bench', 'results');
const RESULTS_MD = resolve(ROOT, 'bench', 'RESULTS.md');
// The gateway's watch defaults (WATCH_MIN/MAX_INTERVAL_MS): the benchmarks run the product's defaults.
const WATCH_MIN_INTERVAL_MS = 1000;
const WATCH_MAX_INTERVAL_MS = 15000;

const json = { 'content-type': 'application/json' };
const gql = (url: string, query: string, variables?: Record<string, unknown>): RequestSpec => ({
  url,
  method: 'POST',
  headers: json,
  body: graphqlBody(query, variables),
});

function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message.split('\n').slice(0, 6).join('\n') : String(error);
}

class Bench {
  readonly results: BenchResults;
  private readonly started = Date.now();
  private readonly prefixes: string[] = [];
  private readonly facts: SeedFacts = seedFacts();
  private emulator: { server: SpawnedServer; client: EmulatorClient } | null = null;
  private gateway: SpawnedServer | null = null;
  private gatewayError: string | null = null;

  constructor(
    private readonly options: BenchOptions,
    private readonly cores: CorePlan,
    machine: MachineInfo,
  ) {
    this.results = {
      schemaVersion: 1,
      mode: options.mode,
      startedAt: new Date().toISOString(),
      finishedAt: '',
      durationSeconds: 0,
      machine,
      cores,
      budget: options.budget,
      groups: [...options.only],
      rows: [],
      passThrough: [],
      stampede: null,
      subscriptions: [],
      targets: [],
      warnings: [],
      processes: [],
      redisKeyPrefixes: [],
    };
  }

  private wants(group: ScenarioGroup): boolean {
    return this.options.only.has(group);
  }

  private get needsGateway(): boolean {
    return (['stampede', 'rest', 'graphql', 'nested', 'passthrough', 'execute'] as ScenarioGroup[]).some(
      (g) => this.wants(g),
    );
  }

  private async startGateway(profileName: string): Promise<SpawnedServer> {
    const keyPrefix = newKeyPrefix();
    this.prefixes.push(keyPrefix);
    return startGatewayProcess({
      emulator: this.emulatorClient,
      cores: this.cores,
      redisUrl: this.options.redisUrl,
      keyPrefix,
      profile: this.options.profile,
      profileName,
    });
  }

  private get emulatorClient(): EmulatorClient {
    if (!this.emulator) throw new Error('emulator not started');
    return this.emulator.client;
  }

  async run(): Promise<void> {
    const m = this.results.machine;
    log(
      `${this.options.mode} mode on ${m.nproc} cores (${m.cpuModel}), Node ${m.node}, load average ${m.loadAverage1m}`,
    );
    log(this.cores.note);
    if (m.loadAverage1m > 1.5) {
      this.warn(`load average ${m.loadAverage1m} at start: other work on the machine skews the figures`);
    }
    this.emulator = await startEmulatorProcess(this.cores);
    log(`emulator at ${this.emulator.server.url}`);

    if (this.needsGateway) {
      try {
        this.gateway = await this.startGateway('gateway');
        log(`gateway at ${this.gateway.url} (pid ${this.gateway.pid})`);
      } catch (error) {
        this.gatewayError = `the gateway did not start: ${errorMessage(error)}`;
        this.warn(this.gatewayError);
      }
    }
    // First, while its cache is cold: nothing has asked this gateway for projects yet.
    if (this.wants('stampede')) await this.stampede();
    const limitBody = await this.limitBody();
    if (this.wants('baselines') || this.wants('rest')) await this.baselineLimit(limitBody);
    if (this.wants('baselines') || this.wants('graphql') || this.wants('nested')) await this.baselinePeer();
    if (this.wants('rest')) {
      await this.gatewayLoad('gateway.rest-projects', 'rest', 'gateway REST GET /api/v1/projects (cached)', {
        url: `${this.gatewayUrl}/api/v1/projects`,
      });
    }
    if (this.wants('graphql')) {
      await this.gatewayLoad(
        'gateway.graphql-projects',
        'graphql',
        'gateway GraphQL projects (cached)',
        gql(`${this.gatewayUrl}/graphql`, PROJECTS_QUERY),
      );
    }
    if (this.wants('nested')) {
      await this.gatewayLoad(
        'gateway.graphql-nested',
        'nested',
        'gateway GraphQL projects>environments>pipelines (cached)',
        gql(`${this.gatewayUrl}/graphql`, NESTED_QUERY),
      );
    }
    if (this.wants('passthrough')) await this.passThrough();
    if (this.wants('execute')) await this.execute();
    // Smoke mode (CI, a tight time budget) reuses this gateway for its one small round; the others give
    // every round a fresh gateway, so its RSS before the round holds nothing of the earlier scenarios.
    if (this.options.mode !== 'smoke') {
      await this.gateway?.stop();
      this.gateway = null;
    }
    if (this.wants('subscriptions')) await this.subscriptions();
  }

  private warn(message: string): void {
    this.results.warnings.push(message);
    log(`WARNING: ${message}`);
  }

  private get gatewayUrl(): string {
    return this.gateway?.url ?? 'http://127.0.0.1:9';
  }

  // ---- baselines ------------------------------------------------------------------------------------

  /** The gateway's own cached answer (what the limit server replays), or Maia's when there is no gateway. */
  private async limitBody(): Promise<{ body: string; contentType: string; source: string }> {
    if (this.gateway) {
      try {
        const answer = await send({ url: `${this.gateway.url}/api/v1/projects` });
        if (answer.status === 200) {
          JSON.parse(answer.body);
          const contentType = String(answer.headers['content-type'] ?? 'application/json');
          return { body: answer.body, contentType, source: "the gateway's GET /api/v1/projects answer" };
        }
        this.warn(
          `gateway GET /api/v1/projects answered ${answer.status}: the limit replays Maia's answer instead`,
        );
      } catch (error) {
        this.warn(
          `gateway GET /api/v1/projects failed (${errorMessage(error)}): the limit replays Maia's answer`,
        );
      }
    }
    const answer = await this.emulatorClient.get('/v1/projects');
    return {
      body: answer.body,
      contentType: 'application/json',
      source: "Maia's GET /v1/projects answer (emulator)",
    };
  }

  private async baselineLimit(limitBody: {
    body: string;
    contentType: string;
    source: string;
  }): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'bench-limit-'));
    const bodyFile = join(dir, 'body.json');
    writeFileSync(bodyFile, limitBody.body);
    let server: SpawnedServer | null = null;
    try {
      server = await startLimitServer(this.cores, bodyFile, limitBody.contentType);
      await this.load(
        'limit.rest-projects',
        'baselines',
        'limit: raw node:http, same JSON',
        'limit',
        server,
        {
          url: `${server.url}/api/v1/projects`,
        },
        `replays ${limitBody.source} (${limitBody.body.length} bytes)`,
      );
    } catch (error) {
      this.failRow('limit.rest-projects', 'baselines', 'limit: raw node:http, same JSON', 'limit', error);
    } finally {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private async baselinePeer(): Promise<void> {
    let server: SpawnedServer | null = null;
    try {
      server = await startPeerServer(this.cores);
      const check = (data: Record<string, unknown>) => {
        const total = (data.projects as { total: number }).total;
        if (total !== this.facts.projectCount) throw new Error(`peer projects.total ${total}`);
      };
      await this.load(
        'peer.graphql-projects',
        'baselines',
        'peer: plain Apollo Server, projects',
        'peer',
        server,
        gql(server.url, PROJECTS_QUERY),
        undefined,
        check,
      );
      await this.load(
        'peer.graphql-nested',
        'baselines',
        'peer: plain Apollo Server, nested',
        'peer',
        server,
        gql(server.url, NESTED_QUERY),
        undefined,
        check,
      );
    } catch (error) {
      this.failRow(
        'peer.graphql-projects',
        'baselines',
        'peer: plain Apollo Server, projects',
        'peer',
        error,
      );
    } finally {
      await server?.stop();
    }
  }

  // ---- the gateway ----------------------------------------------------------------------------------

  private async gatewayLoad(
    id: string,
    group: ScenarioGroup,
    title: string,
    spec: RequestSpec,
  ): Promise<void> {
    if (!this.gateway) {
      this.failRow(id, group, title, 'gateway', new Error(this.gatewayError ?? 'no gateway'));
      return;
    }
    const check = (data: Record<string, unknown>) => {
      // GraphQL answers {projects: page}; REST answers the page itself, as Maia does.
      const page = (spec.method === 'POST' ? data.projects : data) as { total?: number } | undefined;
      const total = page?.total;
      if (total !== this.facts.projectCount)
        throw new Error(`projects.total ${total}, want ${this.facts.projectCount}`);
    };
    await this.load(id, group, title, 'gateway', this.gateway, spec, undefined, check, true);
  }

  /** One closed-loop run against `server`, after checking that it answers `spec` correctly. */
  private async load(
    id: string,
    group: ScenarioGroup,
    title: string,
    kind: ServerKind,
    server: SpawnedServer,
    spec: RequestSpec,
    notes?: string,
    checkData?: (data: Record<string, unknown>) => void,
    countUpstream = false,
  ): Promise<void> {
    log(`${title} ...`);
    try {
      const answer = await send(spec);
      if (answer.status < 200 || answer.status >= 300) {
        throw new Error(`check request answered ${answer.status}: ${answer.body.slice(0, 300)}`);
      }
      if (checkData)
        checkData(
          spec.method === 'POST'
            ? expectData(answer.status, answer.body, title)
            : (JSON.parse(answer.body) as Record<string, unknown>),
        );
      const { budget } = this.options;
      let cpuBeforeMs = 0;
      const result = await measureLoad(
        spec,
        {
          connections: budget.connections,
          durationSeconds: budget.durationSeconds,
          warmupSeconds: budget.warmupSeconds,
        },
        async () => {
          // Counted after the warm-up: the measured run of a cached read should cost Maia (almost) nothing.
          if (countUpstream) await this.emulatorClient.resetCounters();
          cpuBeforeMs = server.cpuTimeMs();
        },
      );
      const cpuMs = server.cpuTimeMs() - cpuBeforeMs;
      const upstreamCalls = countUpstream ? await this.upstreamCalls() : undefined;
      const row: ScenarioRow = {
        id,
        group,
        title,
        server: kind,
        status: result.non2xx + result.errors + result.timeouts > result.requests * 0.01 ? 'error' : 'ok',
        reqPerSec: round(result.reqPerSec, 0),
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        rssMb: round(server.rssBytes() / MiB, 1),
        cpuMsPerRequest: result.requests > 0 ? round(cpuMs / result.requests, 3) : null,
        ratioToLimit: null,
        ratioToPeer: null,
        requests: result.requests,
        errors: result.errors,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
        upstreamCalls,
        warmupSeconds: result.warmupSeconds,
        notes,
      };
      if (row.status === 'error') {
        row.error = `${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests}`;
        const exit = server.exitStatus();
        if (exit !== null) row.error += `; ${server.name} exited (${exit}): ${server.output().slice(-1500)}`;
      }
      this.results.rows.push(row);
      log(
        `  ${round(result.reqPerSec, 0)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms${row.error ? ` (${row.error})` : ''}`,
      );
    } catch (error) {
      this.failRow(id, group, title, kind, error);
    }
  }

  private failRow(id: string, group: ScenarioGroup, title: string, server: ServerKind, error: unknown): void {
    const message = errorMessage(error);
    log(`  ERROR ${title}: ${message}`);
    this.results.rows.push({
      id,
      group,
      title,
      server,
      status: 'error',
      error: message,
      reqPerSec: null,
      p50Ms: null,
      p99Ms: null,
      rssMb: null,
      ratioToLimit: null,
      ratioToPeer: null,
    });
  }

  private async upstreamCalls(): Promise<Record<string, number>> {
    const counters = await this.emulatorClient.counters();
    return Object.fromEntries(Object.entries(counters.routes).map(([route, entry]) => [route, entry.total]));
  }

  private async stampede(): Promise<void> {
    const size = this.options.budget.stampedeSize;
    log(`stampede: ${size} concurrent cold projects queries ...`);
    if (!this.gateway) {
      this.results.stampede = { status: 'error', error: this.gatewayError ?? 'no gateway', requests: size };
      return;
    }
    try {
      this.results.stampede = await runStampede(
        this.gateway,
        this.emulatorClient,
        size,
        this.facts.projectCount,
      );
      log(
        `  ${this.results.stampede.listProjectsCalls} upstream listProjects call(s)${this.results.stampede.error ? `; ${this.results.stampede.error}` : ''}`,
      );
    } catch (error) {
      this.results.stampede = { status: 'error', error: errorMessage(error), requests: size };
      log(`  ERROR ${errorMessage(error)}`);
    }
  }

  private async passThrough(): Promise<void> {
    const { projectId, executionId } = this.facts.historyExecution;
    const token = await this.emulatorClient.bearer();
    const direct: RequestSpec = {
      url: `${this.emulatorClient.apiBaseUrl}/v1/projects/${projectId}/pipeline-executions/${executionId}`,
      headers: { authorization: `Bearer ${token}` },
    };
    const cases: [string, string, RequestSpec][] = [
      [
        'passthrough.graphql-execution',
        'GraphQL pipelineExecution (uncached)',
        gql(`${this.gatewayUrl}/graphql`, EXECUTION_QUERY, { projectId, executionId }),
      ],
      [
        'passthrough.rest-execution',
        'REST GET pipeline-executions/{id} (uncached)',
        { url: `${this.gatewayUrl}/api/v1/projects/${projectId}/pipeline-executions/${executionId}` },
      ],
    ];
    for (const [id, title, spec] of cases) {
      log(`${title}: direct vs gateway, one request at a time ...`);
      const result: PassThroughResult = { id, title, status: 'ok' };
      try {
        if (!this.gateway) throw new Error(this.gatewayError ?? 'no gateway');
        const answer = await send(spec);
        if (answer.status !== 200)
          throw new Error(`check request answered ${answer.status}: ${answer.body.slice(0, 300)}`);
        if (spec.method === 'POST') {
          const data = expectData(answer.status, answer.body, title) as { pipelineExecution: { id: string } };
          if (data.pipelineExecution.id !== executionId)
            throw new Error(`wrong execution ${data.pipelineExecution.id}`);
        }
        await this.emulatorClient.resetCounters();
        const { budget } = this.options;
        const paired = await measurePairedLatency(direct, spec, budget.pairedSamples, budget.pairedWarmup);
        // Proof that every gateway request went upstream (nothing served from a cache).
        const calls = await this.emulatorClient.count('getExecution');
        const expected = 2 * (budget.pairedSamples + budget.pairedWarmup);
        if (calls < expected)
          throw new Error(`only ${calls} upstream getExecution calls for ${expected} requests: cached?`);
        Object.assign(result, {
          direct: paired.a,
          gateway: paired.b,
          addedP50Ms: round(paired.addedP50Ms, 3),
          failures: paired.failures,
        });
        if (paired.failures > 0) {
          result.status = 'error';
          result.error = `${paired.failures} non-2xx answers`;
        }
        log(
          `  direct p50 ${round(paired.a.p50, 3)} ms, gateway p50 ${round(paired.b.p50, 3)} ms: +${round(paired.addedP50Ms, 3)} ms`,
        );
      } catch (error) {
        result.status = 'error';
        result.error = errorMessage(error);
        log(`  ERROR ${result.error}`);
      }
      this.results.passThrough.push(result);
    }
  }

  private async execute(): Promise<void> {
    const id = 'gateway.graphql-execute';
    const title = 'gateway GraphQL executePipeline mutation';
    if (!this.gateway) {
      this.failRow(id, 'execute', title, 'gateway', new Error(this.gatewayError ?? 'no gateway'));
      return;
    }
    const spec = gql(`${this.gateway.url}/graphql`, EXECUTE_MUTATION, {
      input: {
        projectId: this.facts.projectId,
        pipelineName: this.facts.shortPipeline.name,
        environmentName: this.facts.environmentName,
      },
    });
    await this.load(
      id,
      'execute',
      title,
      'gateway',
      this.gateway,
      spec,
      `each request starts a ${this.facts.shortPipeline.scriptedMs / 1000} s run upstream (and its start-grace poller)`,
      (data) => {
        const started = (data.executePipeline as { pipelineExecutionId?: string } | undefined)
          ?.pipelineExecutionId;
        if (!started) throw new Error('executePipeline returned no pipelineExecutionId');
      },
    );
  }

  private async subscriptions(): Promise<void> {
    let joinsPerSecond = 400;
    for (const n of this.options.budget.subscriberCounts) {
      log(`subscriptions: ${n} graphql-ws subscribers to one execution ...`);
      const reused = this.gateway;
      let gateway: SpawnedServer | null = null;
      let round_: SubscriptionRound;
      try {
        gateway = reused ?? (await this.startGateway(`gateway-subscriptions-${n}`));
        // Warm the engine on a plain query, so the first joins do not pay for JIT and lazy module loads.
        await send(gql(`${gateway.url}/graphql`, PROJECTS_QUERY));
        round_ = await runSubscriptionRound({
          gateway,
          emulator: this.emulatorClient,
          facts: this.facts,
          subscribers: n,
          connectConcurrency: this.options.budget.connectConcurrency,
          expectedJoinsPerSecond: joinsPerSecond,
          minIntervalMs: WATCH_MIN_INTERVAL_MS,
          minRunMs: this.options.mode === 'smoke' ? 2000 : 6000,
        });
        if (round_.connectAllMs && round_.connected) {
          joinsPerSecond = Math.max(50, (round_.connected / round_.connectAllMs) * 1000);
        }
      } catch (error) {
        round_ = { subscribers: n, status: 'error', error: errorMessage(error) };
      } finally {
        if (gateway !== reused) await gateway?.stop();
      }
      this.results.subscriptions.push(round_);
      log(`  ${formatDetails({ ...this.results, stampede: null, subscriptions: [round_] })}`);
    }
  }

  // ---- results --------------------------------------------------------------------------------------

  finish(): void {
    const rows = this.results.rows;
    const limit = rows.find((r) => r.id === 'limit.rest-projects' && r.status === 'ok');
    const peer = rows.find((r) => r.id === 'peer.graphql-projects' && r.status === 'ok');
    const peerNested = rows.find((r) => r.id === 'peer.graphql-nested' && r.status === 'ok');
    for (const row of rows) {
      if (row.status !== 'ok' || row.reqPerSec === null) continue;
      if (limit?.reqPerSec) row.ratioToLimit = round(row.reqPerSec / limit.reqPerSec, 3);
      const peerRow = row.id.endsWith('nested') ? peerNested : peer;
      if (peerRow?.reqPerSec) row.ratioToPeer = round(row.reqPerSec / peerRow.reqPerSec, 3);
    }
    this.results.processes = [...spawnedProcesses];
    this.results.redisKeyPrefixes = [...this.prefixes];
    this.results.targets = checkTargets(this.results, WATCH_MIN_INTERVAL_MS, WATCH_MAX_INTERVAL_MS);
    this.results.finishedAt = new Date().toISOString();
    this.results.durationSeconds = round((Date.now() - this.started) / 1000, 1);
  }

  async cleanup(): Promise<void> {
    await this.gateway?.stop().catch(() => undefined);
    await this.emulator?.server.stop().catch(() => undefined);
    if (this.prefixes.length) {
      await deleteRedisKeys(this.options.redisUrl, this.prefixes).catch((error: unknown) =>
        this.warn(`could not delete the benchmark's Redis keys: ${errorMessage(error)}`),
      );
    }
  }
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(errorMessage(error));
    return 64; // EX_USAGE
  }
  const machine = machineInfo();
  const cores = planCores(machine.nproc, options.pin);
  if (cores.pinned && cores.loadGenerator !== null && !pinProcess(process.pid, cores.loadGenerator)) {
    cores.note += ' (pinning the load generator failed)';
  }
  const bench = new Bench(options, cores, machine);
  let fatal: unknown = null;
  try {
    await bench.run();
  } catch (error) {
    fatal = error;
    bench.results.warnings.push(`the run stopped: ${errorMessage(error)}`);
  } finally {
    await bench.cleanup();
  }
  bench.finish();
  const results = bench.results;

  console.log(`\n${formatTable(results)}\n`);
  const details = formatDetails(results);
  if (details) console.log(`${details}\n`);
  console.log(formatTargets(results.targets));
  const misses = results.targets.filter((t) => t.pass === false).length;
  if (misses && options.mode === 'full')
    console.log(`\n${misses} target(s) MISSED: see above and bench/RESULTS.md`);

  const outFile = options.outFile ? resolve(options.outFile) : join(RESULTS_DIR, 'latest.json');
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults: ${outFile}`);
  if (options.record && !fatal) {
    recordResults(RESULTS_MD, results);
    console.log(`recorded in ${RESULTS_MD}`);
  }
  if (fatal) {
    console.error(`bench failed: ${errorMessage(fatal)}`);
    return 1;
  }
  // Missed figures never fail the run (they are printed); a scenario that could not run does.
  const broken =
    results.rows.some((r) => r.status === 'error') ||
    results.passThrough.some((p) => p.status === 'error') ||
    results.stampede?.status === 'error' ||
    results.subscriptions.some((s) => s.status === 'error');
  return broken ? 2 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    console.error(usage);
    process.exit(1);
  },
);
