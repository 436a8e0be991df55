import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pinProcess, spawnedProcesses, useServerNode, type SpawnedServer } from './lib/child-process';
import { dashboardMix, lopsidedRounds, mixSample, roundRatiosOf } from './lib/dashboard-mix';
import type { EmulatorClient } from './lib/emulator-client';
import {
  measureLoad,
  measurePairedLatency,
  send,
  warmUp,
  type RequestSpec,
  type Workload,
} from './lib/http-load';
import {
  defaultRuntimeSpecs,
  machineInfo,
  planCores,
  productionNodeMajor,
  resolveRuntimes,
  type CorePlan,
  type MachineInfo,
} from './lib/machine';
import { parseOptions, usage, type BenchOptions, type ScenarioGroup } from './lib/options';
import {
  EXECUTE_MUTATION,
  EXECUTION_QUERY,
  NESTED_QUERY,
  PROJECTS_QUERY,
  expectData,
  graphqlBody,
} from './lib/queries';
import { createPrincipals, type Caller, type Principals } from './lib/principals';
import { startRecordingProxy } from './lib/recording-proxy';
import { ROOT, seedFacts, type SeedFacts } from './lib/repo';
import {
  checkTargets,
  setRatios,
  formatDetails,
  formatRuntimeTargets,
  formatTable,
  recordResults,
  runtimeLabel,
} from './lib/report';
import type {
  BenchResults,
  HotReadStats,
  PassThroughResult,
  RowSettings,
  RuntimeInfo,
  RuntimeRun,
  StampedeGroup,
  StampedeResult,
  ScenarioRow,
  ServerKind,
  SubscriptionRound,
} from './lib/results';
import {
  deleteRedisKeys,
  newKeyPrefix,
  shapeEnv,
  type GatewayShape,
  startEmulatorProcess,
  startGatewayProcess,
  startLimitServer,
  startPeerServer,
} from './lib/stack';
import { median, MiB, round } from './lib/stats';
import { medianStampede, runStampede } from './scenarios/stampede.scenario';
import { runSubscriptionRound } from './scenarios/subscriptions.scenario';

/**
 * `npm run bench [-- --quick]`: the gateway against the physical limit (raw node:http) and its peer (plain
 * Apollo Server), measured side by side in one invocation, as ratios. See docs/adr/0007-benchmarks.md.
 */

const RESULTS_DIR = resolve(ROOT, 'bench', 'results');
const RESULTS_MD = resolve(ROOT, 'bench', 'RESULTS.md');
const LOG_DIR = join(RESULTS_DIR, 'logs');
// The gateway's watch defaults (WATCH_MIN/MAX_INTERVAL_MS): the benchmarks run the product's defaults.
const WATCH_MIN_INTERVAL_MS = 1000;
const WATCH_MAX_INTERVAL_MS = 15000;

const json = { 'content-type': 'application/json' };
const gql = (
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): RequestSpec => ({
  url,
  method: 'POST',
  headers: { ...json, ...headers },
  body: graphqlBody(query, variables),
});

function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message.split('\n').slice(0, 6).join('\n') : String(error);
}

/** The API-key and JWT callers of the production-shaped rows (ISSUE: 200 distinct API-key callers). */
const API_KEY_CALLERS = 200;
const JWT_CALLERS = 50;

const PRODUCTION: Omit<GatewayShape, 'responseCache'> = { auth: 'api-keys+jwt', rateLimits: 'on' };
const LOGS = 'info, to a file';

/** A counter's increase over a run; undefined when either reading is. */
function difference(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : after - before;
}

/** A gateway's counters the harness reads from its /metrics around a run. */
interface GatewayCounts {
  hits: number;
  misses: number;
  /** Undefined when the gateway does not export it (a build before the metric). */
  laneServed: number | undefined;
}

interface RunningGateway {
  server: SpawnedServer;
  shape: GatewayShape;
  logFile: string;
  /** GRAPHQL_QUERY_LANE: the product's default (on) unless the gateway was started with it off. */
  lane: 'on' | 'off';
}

interface LoadRow {
  id: string;
  group: ScenarioGroup;
  title: string;
  kind: ServerKind;
  server: SpawnedServer;
  workload: Workload;
  settings: RowSettings;
  notes?: string;
  /** Checks the answer of the first request (or of a sample of a mix) before the load. */
  checkData?: (data: Record<string, unknown>) => void;
  countUpstream?: boolean;
  /** The gateway of the row, for its /metrics (hot-read hits) and its log file. */
  gateway?: RunningGateway;
  /** A mix's requests checked before the load (one of each kind and credential type). */
  mixSample?: RequestSpec[];
  /** Measured windows back to back (default 1): each one's CPU per request is listed beside the whole run's. */
  windows?: number;
}

/** What the passes of one invocation share: the warnings and the Redis key prefixes to delete. */
interface Invocation {
  warnings: string[];
  prefixes: string[];
}

/** One pass: every server row measured on one runtime (its own emulator, baselines and gateways). */
class Bench {
  readonly run: RuntimeRun;
  private readonly started = Date.now();
  private readonly facts: SeedFacts = seedFacts();
  /** The gateways' logs of the last run (bench/results/logs/<runtime>/, gitignored): read them when a row surprises. */
  private readonly logDir: string;
  private emulator: { server: SpawnedServer; client: EmulatorClient } | null = null;
  private principals: Principals | null = null;
  private readonly running = new Set<SpawnedServer>();
  /**
   * Smoke mode (CI's harness check, a tight time budget) keeps the stampede's gateway and reuses it for
   * the rows and the subscription round of the same shape; the other modes start a fresh one for each.
   */
  private kept: RunningGateway | null = null;
  private readonly proxies: { close(): Promise<void> }[] = [];

  constructor(
    private readonly options: BenchOptions,
    private readonly cores: CorePlan,
    private readonly machine: MachineInfo,
    private readonly runtime: RuntimeInfo,
    private readonly invocation: Invocation,
  ) {
    this.logDir = freshDir(join(LOG_DIR, runtime.id));
    this.run = {
      runtime,
      rows: [],
      passThrough: [],
      stampede: null,
      stampedeWarm: null,
      subscriptions: [],
      targets: [],
      durationSeconds: 0,
    };
  }

  private wants(group: ScenarioGroup): boolean {
    return this.options.only.has(group);
  }

  private get emulatorClient(): EmulatorClient {
    if (!this.emulator) throw new Error('emulator not started');
    return this.emulator.client;
  }

  private get callers(): Caller[] {
    if (!this.principals) throw new Error('no callers');
    return this.principals.callers;
  }

  /** The caller of the single repeated read: a read-only service key that sees every project. */
  private get reader(): Caller {
    if (!this.principals) throw new Error('no callers');
    return this.principals.reader;
  }

  private settingsOf(
    shape: GatewayShape,
    auth: RowSettings['auth'],
    callers: number,
    graphqlQueryLane: 'on' | 'off' = 'on',
  ): RowSettings {
    return {
      responseCache: shape.responseCache,
      auth: shape.auth === 'off' ? 'off' : auth,
      callers,
      rateLimits: shape.rateLimits,
      mode: shape.auth === 'off' ? 'development' : 'production',
      logs: LOGS,
      metrics: 'on',
      graphqlQueryLane,
    };
  }

  private async startGateway(
    name: string,
    shape: GatewayShape,
    env: Record<string, string> = {},
  ): Promise<RunningGateway> {
    const keyPrefix = newKeyPrefix();
    this.invocation.prefixes.push(keyPrefix);
    const logFile = join(this.logDir, `${name}.log`);
    const server = await startGatewayProcess({
      emulator: this.emulatorClient,
      cores: this.cores,
      redisUrl: this.options.redisUrl,
      keyPrefix,
      profile: this.options.profile,
      profileName: `${this.runtime.id}-${name}`,
      logFile,
      env: { ...shapeEnv(shape, this.principals?.env ?? {}), ...env },
    });
    this.running.add(server);
    log(
      `gateway ${name} at ${server.url} (pid ${server.pid}; auth ${shape.auth}, rate limits ${shape.rateLimits}, whole-answer cache ${shape.responseCache})`,
    );
    return { server, shape, logFile, lane: env.GRAPHQL_QUERY_LANE === 'off' ? 'off' : 'on' };
  }

  private async stopGateway(gateway: RunningGateway | null): Promise<void> {
    if (!gateway) return;
    await gateway.server.stop();
    this.running.delete(gateway.server);
  }

  /** Runs `body` with a fresh gateway of `shape`; a gateway that does not start fails `failed`'s rows. */
  private async withGateway(
    name: string,
    shape: GatewayShape,
    body: (gateway: RunningGateway) => Promise<void>,
    failed: (error: unknown) => void,
  ): Promise<void> {
    const kept = this.kept && sameShape(this.kept.shape, shape) ? this.kept : null;
    let gateway: RunningGateway | null = kept;
    try {
      gateway ??= await this.startGateway(name, shape);
    } catch (error) {
      this.warn(`the gateway ${name} did not start: ${errorMessage(error)}`);
      failed(error);
      return;
    }
    try {
      await body(gateway);
    } finally {
      if (gateway !== kept) await this.stopGateway(gateway);
    }
  }

  async measure(): Promise<void> {
    const m = this.machine;
    // Every server of this pass (emulator, baselines, gateways) starts on this runtime.
    useServerNode(this.runtime.path);
    log(
      `${this.options.mode} mode on ${m.nproc} cores (${m.cpuModel}), harness on Node ${m.node}, servers on ${runtimeLabel(this.runtime)} at ${this.runtime.path}, load average ${round(loadavg()[0], 2)}`,
    );
    log(this.cores.note);
    this.emulator = await startEmulatorProcess(this.cores);
    this.running.add(this.emulator.server);
    log(`emulator at ${this.emulator.server.url}`);
    this.principals = await createPrincipals(this.facts.projectIds, API_KEY_CALLERS, JWT_CALLERS);
    log(
      `${API_KEY_CALLERS} API-key callers and ${JWT_CALLERS} JWT callers (JWKS served by the harness over https)`,
    );

    // First: a fresh gateway whose cache is cold, behind a proxy that times its upstream calls.
    if (this.wants('stampede')) await this.stampede();

    const off: GatewayShape = { ...PRODUCTION, responseCache: 'off' };
    const on: GatewayShape = { ...PRODUCTION, responseCache: 'on' };
    const plain: GatewayShape = { auth: 'off', rateLimits: 'off', responseCache: 'off' };
    const readGroups: ScenarioGroup[] = ['rest', 'graphql', 'nested', 'mix'];
    const wantsReads = readGroups.some((g) => this.wants(g));

    // The auth-cost target compares the mix with auth and limits on and off: the two are measured in
    // interleaved rounds (the plain gateway is started first and idles meanwhile), so the machine's drift
    // falls on both alike. A third gateway, production-shaped with the GraphQL query lane off, joins the
    // rounds (not judged): the lane's share of the mix's CPU.
    const plainId = 'gateway.dashboard-mix.auth-off';
    const laneOffId = 'gateway.dashboard-mix.lane-off';
    const others: { plain: RunningGateway | null; laneOff: RunningGateway | null } = {
      plain: null,
      laneOff: null,
    };
    let othersDone = false;
    const otherMixes = async (production: RunningGateway | null) => {
      if (othersDone || !this.wants('mix')) return;
      othersDone = true;
      const { plain: plainGateway, laneOff } = others;
      // The production-shaped gateway served the single reads before its mix (JIT, pools, caches): the
      // others get the same load first, or the comparison would be of a warm process with a cold one.
      for (const gateway of [plainGateway, laneOff]) if (gateway) await this.warmLikeReadRows(gateway);
      // All in interleaved rounds (the verdict is the median of the rounds' ratios); each alone when the
      // production-shaped gateway did not start.
      if (production) {
        await this.mixRounds(production, plainGateway, laneOff);
        return;
      }
      if (plainGateway) await this.mixRow(plainGateway, plainId, 'auth and rate limits off');
      if (laneOff) await this.mixRow(laneOff, laneOffId, 'GraphQL query lane off, not judged');
    };
    if (this.wants('mix')) {
      const plainTitle = 'gateway dashboard mix (auth and rate limits off, whole-answer cache off)';
      const laneOffTitle =
        'gateway dashboard mix (GraphQL query lane off, not judged, whole-answer cache off)';
      for (const [key, name, shape, env, id, title, settings] of [
        [
          'plain',
          'gateway-auth-off',
          plain,
          {},
          plainId,
          plainTitle,
          this.settingsOf(plain, 'off', this.callers.length),
        ],
        [
          'laneOff',
          'gateway-lane-off',
          off,
          { GRAPHQL_QUERY_LANE: 'off' },
          laneOffId,
          laneOffTitle,
          this.settingsOf(off, 'api-keys+jwt', this.callers.length, 'off'),
        ],
      ] as const) {
        try {
          others[key] = await this.startGateway(name, shape, env);
        } catch (error) {
          this.warn(`the gateway ${name} did not start: ${errorMessage(error)}`);
          this.failRow(id, 'mix', title, 'gateway', settings, error);
        }
      }
    }
    try {
      // The production-shaped gateway with the whole-answer cache off: the rows the targets are judged on.
      if (wantsReads || this.wants('baselines') || this.wants('passthrough') || this.wants('execute')) {
        await this.withGateway(
          'gateway-cache-off',
          off,
          async (gateway) => {
            await this.judgedReadRows(gateway, await this.limitBody(gateway));
            await otherMixes(gateway);
            if (this.wants('passthrough')) await this.passThrough(gateway);
            if (this.wants('execute')) await this.execute(gateway);
          },
          (error) => this.failReadRows(off, error),
        );
      }
      await otherMixes(null);
    } finally {
      await this.stopGateway(others.plain);
      await this.stopGateway(others.laneOff);
    }
    if (wantsReads) {
      await this.withGateway(
        'gateway-cache-on',
        on,
        (gateway) => this.readRows(gateway),
        (error) => this.failReadRows(on, error),
      );
    }
    if (this.wants('subscriptions')) await this.subscriptions(on);
  }

  private warn(message: string): void {
    this.invocation.warnings.push(`${this.runtime.id}: ${message}`);
    log(`WARNING: ${message}`);
  }

  // ---- baselines ------------------------------------------------------------------------------------

  private baselineSettings(): RowSettings {
    return {
      responseCache: 'off',
      auth: 'none',
      callers: 1,
      rateLimits: 'off',
      mode: 'baseline',
      logs: 'none',
      metrics: 'off',
    };
  }

  /** The gateway's own answer to GET /api/v1/projects (what the limit server replays), or Maia's. */
  private async limitBody(
    gateway: RunningGateway | null,
  ): Promise<{ body: string; contentType: string; source: string }> {
    if (gateway) {
      try {
        const answer = await send({
          url: `${gateway.server.url}/api/v1/projects`,
          headers: { ...this.reader.headers },
        });
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

  /**
   * The judged ratio rows: the gateway's REST lookup read against the raw node:http limit, its GraphQL
   * lookup and nested reads against the plain Apollo Server peer, each pair in `ratioRounds` interleaved
   * rounds (`ratioPair`). A baseline whose gateway row is not wanted (`--only=baselines`) runs alone, as a
   * gateway row whose baseline did not start.
   */
  private async judgedReadRows(
    gateway: RunningGateway,
    limitBody: { body: string; contentType: string; source: string },
  ): Promise<void> {
    const reads = this.singleReadRows(gateway);
    const read = (group: ScenarioGroup) => reads.find((row) => row.group === group) ?? null;
    const baselines = this.wants('baselines');
    const wantsLimit = baselines || this.wants('rest');
    const wantsPeer = baselines || this.wants('graphql') || this.wants('nested');
    const dir = wantsLimit ? mkdtempSync(join(tmpdir(), 'bench-limit-')) : null;
    let limit: SpawnedServer | null = null;
    let peer: SpawnedServer | null = null;
    const limitDef = {
      id: 'limit.rest-projects',
      group: 'baselines' as const,
      title: 'limit: raw node:http, same JSON',
    };
    const peerDefs = [
      {
        id: 'peer.graphql-projects',
        group: 'baselines' as const,
        title: 'peer: plain Apollo Server, projects',
      },
      { id: 'peer.graphql-nested', group: 'baselines' as const, title: 'peer: plain Apollo Server, nested' },
    ];
    // The baselines' rows first, as in the table: every row of this step is pushed here, then reordered.
    const firstRow = this.run.rows.length;
    try {
      if (dir) {
        try {
          const bodyFile = join(dir, 'body.json');
          writeFileSync(bodyFile, limitBody.body);
          limit = await startLimitServer(this.cores, bodyFile, limitBody.contentType);
          this.running.add(limit);
        } catch (error) {
          this.failRow(limitDef.id, limitDef.group, limitDef.title, 'limit', this.baselineSettings(), error);
        }
      }
      if (wantsPeer) {
        try {
          peer = await startPeerServer(this.cores);
          this.running.add(peer);
        } catch (error) {
          for (const def of peerDefs)
            this.failRow(def.id, def.group, def.title, 'peer', this.baselineSettings(), error);
        }
      }
      const checkPeer = (data: Record<string, unknown>) => {
        const total = (data.projects as { total: number }).total;
        if (total !== this.facts.projectCount) throw new Error(`peer projects.total ${total}`);
      };
      const pairs: [LoadRow | null, LoadRow | null, 'limit' | 'peer'][] = [
        [
          limit && wantsLimit
            ? {
                ...limitDef,
                kind: 'limit',
                server: limit,
                workload: { url: `${limit.url}/api/v1/projects` },
                settings: this.baselineSettings(),
                notes: `replays ${limitBody.source} (${limitBody.body.length} bytes)`,
              }
            : null,
          read('rest'),
          'limit',
        ],
        ...(
          [
            [peerDefs[0], 'graphql', PROJECTS_QUERY],
            [peerDefs[1], 'nested', NESTED_QUERY],
          ] as const
        ).map(([peerDef, group, query]): [LoadRow | null, LoadRow | null, 'peer'] => [
          peer && (baselines || this.wants(group))
            ? {
                ...peerDef,
                kind: 'peer',
                server: peer,
                workload: gql(peer.url, query),
                settings: this.baselineSettings(),
                checkData: checkPeer,
              }
            : null,
          read(group),
          'peer',
        ]),
      ];
      for (const [baseline, gatewaySide, against] of pairs) {
        if (baseline && gatewaySide) await this.ratioPair(baseline, gatewaySide, against);
        else if (baseline) await this.load(baseline);
        else if (gatewaySide) await this.load(gatewaySide);
      }
    } finally {
      for (const server of [limit, peer]) {
        if (!server) continue;
        await server.stop();
        this.running.delete(server);
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
      const added = this.run.rows.splice(firstRow);
      this.run.rows.push(
        ...added.filter((row) => row.server !== 'gateway'),
        ...added.filter((row) => row.server === 'gateway'),
      );
    }
  }

  // ---- the gateway ----------------------------------------------------------------------------------

  private readRowsOf(shape: GatewayShape) {
    const suffix = `cache-${shape.responseCache}`;
    const label = `whole-answer cache ${shape.responseCache}`;
    return [
      {
        group: 'rest' as const,
        id: `gateway.rest-projects.${suffix}`,
        title: `gateway REST GET /api/v1/projects, one caller (${label})`,
      },
      {
        group: 'graphql' as const,
        id: `gateway.graphql-projects.${suffix}`,
        title: `gateway GraphQL projects, one caller (${label})`,
      },
      {
        group: 'nested' as const,
        id: `gateway.graphql-nested.${suffix}`,
        title: `gateway GraphQL projects>environments>pipelines, one caller (${label})`,
      },
      {
        group: 'mix' as const,
        id: `gateway.dashboard-mix.${suffix}`,
        title: `gateway dashboard mix, ${this.callers.length} callers (${label})`,
      },
    ];
  }

  private failReadRows(shape: GatewayShape, error: unknown): void {
    for (const row of this.readRowsOf(shape)) {
      if (!this.wants(row.group)) continue;
      const callers = row.group === 'mix' ? this.callers.length : 1;
      const settings = this.settingsOf(shape, row.group === 'mix' ? 'api-keys+jwt' : 'api-key', callers);
      this.failRow(row.id, row.group, row.title, 'gateway', settings, error);
    }
  }

  /** The single repeated reads (one caller, as before) of one gateway, those wanted, in the table's order. */
  private singleReadRows(gateway: RunningGateway): LoadRow[] {
    const url = gateway.server.url;
    const headers = this.reader.headers;
    const [rest, graphql, nested] = this.readRowsOf(gateway.shape);
    const settings = this.settingsOf(gateway.shape, 'api-key', 1);
    const check = (post: boolean) => (data: Record<string, unknown>) => {
      // GraphQL answers {projects: page}; REST answers the page itself, as Maia does.
      const page = (post ? data.projects : data) as { total?: number } | undefined;
      if (page?.total !== this.facts.projectCount)
        throw new Error(`projects.total ${page?.total}, want ${this.facts.projectCount}`);
    };
    const common = {
      kind: 'gateway' as const,
      server: gateway.server,
      settings,
      gateway,
      countUpstream: true,
    };
    const rows: LoadRow[] = [
      {
        ...rest,
        ...common,
        workload: { url: `${url}/api/v1/projects`, headers: { ...headers } },
        checkData: check(false),
      },
      {
        ...graphql,
        ...common,
        workload: gql(`${url}/graphql`, PROJECTS_QUERY, undefined, headers),
        checkData: check(true),
      },
      {
        ...nested,
        ...common,
        workload: gql(`${url}/graphql`, NESTED_QUERY, undefined, headers),
        checkData: check(true),
      },
    ];
    return rows.filter((row) => this.wants(row.group));
  }

  /**
   * The single repeated reads, each in one window (the rows with the whole-answer cache on: not judged),
   * and the dashboard mix, on one gateway.
   */
  private async readRows(gateway: RunningGateway): Promise<void> {
    for (const row of this.singleReadRows(gateway)) await this.load(row);
    const mix = this.readRowsOf(gateway.shape)[3];
    if (this.wants('mix'))
      await this.mixRow(gateway, mix.id, `whole-answer cache ${gateway.shape.responseCache}`, mix.title);
  }

  /** The single reads `readRows` measures, as unmeasured load for the warm-up budget each. */
  private async warmLikeReadRows(gateway: RunningGateway): Promise<void> {
    const url = gateway.server.url;
    const headers = this.reader.headers;
    const { connections, warmupSeconds, durationSeconds } = this.options.budget;
    const seconds = warmupSeconds + durationSeconds;
    log(`gateway ${gateway.server.pid}: ${seconds} s of each single read first, unmeasured ...`);
    const reads: [ScenarioGroup, RequestSpec][] = [
      ['rest', { url: `${url}/api/v1/projects`, headers: { ...headers } }],
      ['graphql', gql(`${url}/graphql`, PROJECTS_QUERY, undefined, headers)],
      ['nested', gql(`${url}/graphql`, NESTED_QUERY, undefined, headers)],
    ];
    for (const [group, spec] of reads) {
      if (this.wants(group)) await warmUp(spec, connections, seconds);
    }
  }

  /** The dashboard mix on one gateway, as a row to measure (`label` names the gateway in the title). */
  private mixLoadRow(gateway: RunningGateway, id: string, label: string, title?: string): LoadRow {
    const mix = dashboardMix(gateway.server.url, this.callers, this.facts);
    const callers = new Set(mix.map((r) => r.caller)).size;
    const auth = gateway.shape.auth === 'off' ? 'off' : 'api-keys+jwt';
    return {
      id,
      group: 'mix',
      title: title ?? `gateway dashboard mix, ${callers} callers (${label}, whole-answer cache off)`,
      kind: 'gateway',
      server: gateway.server,
      workload: mix,
      settings: this.settingsOf(gateway.shape, auth, callers, gateway.lane),
      gateway,
      countUpstream: true,
      notes: 'projects, project>environments>pipelines, executions lists, one execution; GraphQL and REST',
      mixSample: mixSample(mix, this.callers),
    };
  }

  private async mixRow(gateway: RunningGateway, id: string, label: string, title?: string): Promise<void> {
    await this.load(this.mixLoadRow(gateway, id, label, title));
  }

  /**
   * The auth-cost pair: the dashboard mix on the production-shaped gateway (`on`) and on the plain one
   * (`off`, auth and rate limits off), measured in `mixRounds` rounds of `durationSeconds` each, back to
   * back within a round and in alternating order (on, off, then off, on, ...), every gateway warmed first.
   * One window per side (as before) let whichever side met a busier moment of a shared machine decide the
   * ratio: runs spread from 1.13x to 1.39x. Each row's figures are the medians of its rounds, every
   * round's CPU per request is kept (`rounds`), and the verdict is the median of the rounds' ratios.
   * `laneOff`, the production-shaped gateway with the GraphQL query lane off, joins the same rounds (not
   * judged): its CPU per request over `on`'s, round by round, is the lane's share of the mix.
   */
  private async mixRounds(
    on: RunningGateway,
    off: RunningGateway | null,
    laneOff: RunningGateway | null,
  ): Promise<void> {
    const { budget } = this.options;
    const onRow = this.readRowsOf(on.shape)[3];
    const sides: { row: LoadRow; label: string }[] = [
      {
        row: this.mixLoadRow(on, onRow.id, '', onRow.title),
        label: `whole-answer cache ${on.shape.responseCache}`,
      },
    ];
    if (off) {
      const label = 'auth and rate limits off';
      sides.push({ row: this.mixLoadRow(off, 'gateway.dashboard-mix.auth-off', label), label });
    }
    if (laneOff) {
      const label = 'GraphQL query lane off, not judged';
      sides.push({ row: this.mixLoadRow(laneOff, 'gateway.dashboard-mix.lane-off', label), label });
    }
    log(
      `dashboard mix, ${sides.map((s) => s.label).join(' / ')}: ${budget.mixRounds} interleaved round(s) of ${budget.durationSeconds} s each ...`,
    );
    const rows = await this.roundRows(sides, budget.mixRounds, true);
    if (!rows) return;
    const [onSide, offSide, laneOffSide] = [
      rows[0],
      off ? rows[1] : null,
      laneOff ? rows[rows.length - 1] : null,
    ];
    const medianNote = `; median of ${onSide.rounds?.reqPerSec.length ?? 0} interleaved rounds`;
    for (const row of rows) row.notes = `${row.notes ?? ''}${medianNote}`;
    if (laneOffSide) {
      laneOffSide.ratioRounds = roundRatiosOf(laneOffSide, onSide, 'cpuMsPerRequest') ?? undefined;
      const share = laneOffSide.ratioRounds;
      if (share) {
        log(
          `  GraphQL query lane's share: CPU per request with it off ${round(share.median, 2)}x with it on, median of ${share.ratios.length} rounds (${share.ratios.map((r) => round(r, 2)).join(', ')})`,
        );
      }
    }
    this.run.rows.push(...rows);
    if (!offSide) return;
    const ratios = roundRatiosOf(onSide, offSide, 'cpuMsPerRequest');
    const lopsided = lopsidedRounds(onSide.rounds?.reqPerSec ?? [], offSide.rounds?.reqPerSec ?? []);
    // Smoke mode (CI's harness check) measures nothing worth judging, on a machine busy with the tests.
    if (lopsided > 0 && this.options.mode !== 'smoke') {
      this.warn(
        `dashboard mix: in ${lopsided} of ${onSide.rounds?.reqPerSec.length} round(s) one side served under half the other's requests a second (starved by other work on the machine): the auth-cost ratio is not reliable`,
      );
    }
    if (ratios) {
      log(
        `  auth cost: ${round(ratios.median, 2)}x median of ${ratios.ratios.length} rounds (${ratios.ratios.map((r) => round(r, 2)).join(', ')}; spread ${round(ratios.min, 2)}-${round(ratios.max, 2)}x)`,
      );
    }
  }

  /**
   * A judged ratio row and its baseline (the raw limit or the Apollo peer), in `ratioRounds` interleaved
   * rounds: baseline then gateway, then gateway then baseline, ... The gateway row's ratio is the median
   * of the rounds' throughput ratios (`ratioRounds`, with its spread); every round is kept. One 3-second
   * window per side, at different moments, flipped the verdict between two runs on a quiet machine
   * (lookup 1.89x then 1.50x the peer, nested 1.56x then 1.35x).
   */
  private async ratioPair(baseline: LoadRow, gateway: LoadRow, against: 'limit' | 'peer'): Promise<void> {
    const rounds = this.options.budget.ratioRounds;
    log(
      `${gateway.title} against the ${against}: ${rounds} interleaved round(s) of ${this.options.budget.durationSeconds} s each ...`,
    );
    // A side that answers wrongly fails alone; the other is still measured (in one window, unpaired).
    for (const [side, other] of [
      [baseline, gateway],
      [gateway, baseline],
    ]) {
      try {
        await this.checkAnswers(side);
      } catch (error) {
        this.failRow(side.id, side.group, side.title, side.kind, side.settings, error);
        await this.load(other);
        return;
      }
    }
    const rows = await this.roundRows(
      [
        { row: baseline, label: against },
        { row: gateway, label: 'gateway' },
      ],
      rounds,
    );
    if (!rows) return;
    const [baselineRow, gatewayRow] = rows;
    const note = `median of ${rounds} round(s) interleaved with ${gatewayRow.id}`;
    baselineRow.notes = baselineRow.notes ? `${baselineRow.notes}; ${note}` : note;
    gatewayRow.ratioRounds = roundRatiosOf(gatewayRow, baselineRow, 'reqPerSec') ?? undefined;
    gatewayRow.notes = `median of ${rounds} round(s) interleaved with ${baselineRow.id}`;
    this.run.rows.push(baselineRow, gatewayRow);
    const ratios = gatewayRow.ratioRounds;
    if (ratios) {
      log(
        `  ${round(ratios.median, 2)}x the ${against}, median of ${ratios.ratios.length} round(s) (${ratios.ratios.map((r) => round(r, 2)).join(', ')}; spread ${round(ratios.min, 2)}-${round(ratios.max, 2)}x)`,
      );
    }
    // Smoke mode (CI's harness check) measures nothing worth judging, on a machine busy with the tests.
    if (this.options.mode === 'smoke') return;
    if (!ratios) {
      this.warn(
        `${gatewayRow.id}: no round in which both it and ${baselineRow.id} served requests: its ratio is the ratio of the medians, not reliable`,
      );
    } else if (ratios.starved > 0 || ratios.ratios.length < ratios.rounds) {
      this.warn(
        `${gatewayRow.id}: in ${ratios.starved} of ${ratios.rounds} round(s) it or ${baselineRow.id} served under half its best round's requests a second (starved by other work on the machine), ${ratios.rounds - ratios.ratios.length} without a ratio: the ratio is not reliable`,
      );
    }
  }

  /**
   * `sides` in `rounds` interleaved rounds of `durationSeconds` each, back to back within a round, the
   * order reversed from one round to the next (a, b, c, then c, b, a, ...). Each side's first round warms
   * it first (until its throughput holds steady, at most `warmupSeconds`), or, with `warmFirst`, every
   * side gets `warmupSeconds` of its load before the first round (the dashboard mix, as ADR 0038 says).
   * Every side's row: the medians
   * of its rounds, each round's req/s and CPU per request kept (`rounds`), its counts summed. Null (and
   * every side's row failed) when a round could not run. The sides' answers are checked beforehand.
   */
  private async roundRows(
    sides: { row: LoadRow; label: string }[],
    rounds: number,
    warmFirst = false,
  ): Promise<ScenarioRow[] | null> {
    const { budget } = this.options;
    const totals = sides.map(() => ({
      figures: [] as { reqPerSec: number; p50Ms: number; p99Ms: number; cpuMsPerRequest: number | null }[],
      requests: 0,
      errors: 0,
      timeouts: 0,
      non2xx: 0,
      upstream: new Map<string, number>(),
      hits: 0,
      misses: 0,
      laneServed: 0,
      /** False once a reading of the lane's count was missing (a build before the metric). */
      laneKnown: true,
      logBytes: 0,
      warmupSeconds: 0,
    }));
    try {
      for (const { row } of sides) await this.checkAnswers(row);
      if (warmFirst) {
        for (const [i, { row, label }] of sides.entries()) {
          log(`  ${label}: ${budget.warmupSeconds} s of its load first, unmeasured ...`);
          await warmUp(row.workload, budget.connections, budget.warmupSeconds);
          totals[i].warmupSeconds = budget.warmupSeconds;
        }
      }
      for (let round_ = 0; round_ < rounds; round_++) {
        const order = sides.map((_, i) => (round_ % 2 === 0 ? i : sides.length - 1 - i));
        for (const i of order) {
          const { row, label } = sides[i];
          const side = totals[i];
          const { server, gateway } = row;
          let cpuBeforeMs = 0;
          let hotBefore: GatewayCounts = { hits: 0, misses: 0, laneServed: 0 };
          let logBefore = 0;
          const result = await measureLoad(
            row.workload,
            {
              connections: budget.connections,
              durationSeconds: budget.durationSeconds,
              warmupSeconds: round_ === 0 && !warmFirst ? budget.warmupSeconds : 0,
            },
            async () => {
              if (row.countUpstream) await this.emulatorClient.resetCounters();
              if (gateway) {
                hotBefore = await this.hotReadCounts(gateway);
                logBefore = fileSize(gateway.logFile);
              }
              cpuBeforeMs = server.cpuTimeMs();
            },
          );
          const cpuMs = server.cpuTimeMs() - cpuBeforeMs;
          if (gateway) {
            const hotAfter = await this.hotReadCounts(gateway);
            side.hits += hotAfter.hits - hotBefore.hits;
            side.misses += hotAfter.misses - hotBefore.misses;
            const laneServed = difference(hotBefore.laneServed, hotAfter.laneServed);
            if (laneServed === undefined) side.laneKnown = false;
            else side.laneServed += laneServed;
            side.logBytes += fileSize(gateway.logFile) - logBefore;
          }
          if (row.countUpstream) {
            for (const [route, calls] of Object.entries(await this.upstreamCalls())) {
              side.upstream.set(route, (side.upstream.get(route) ?? 0) + calls);
            }
          }
          if (round_ === 0 && !warmFirst) side.warmupSeconds = result.warmupSeconds;
          side.requests += result.requests;
          side.errors += result.errors;
          side.timeouts += result.timeouts;
          side.non2xx += result.non2xx;
          const cpuMsPerRequest = result.requests > 0 ? round(cpuMs / result.requests, 3) : null;
          side.figures.push({
            reqPerSec: result.reqPerSec,
            p50Ms: result.p50Ms,
            p99Ms: result.p99Ms,
            cpuMsPerRequest,
          });
          log(
            `  round ${round_ + 1}, ${label}: ${round(result.reqPerSec, 0)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${cpuMsPerRequest} ms CPU/req, load average ${round(loadavg()[0], 2)}`,
          );
        }
      }
    } catch (error) {
      for (const { row } of sides) this.failRow(row.id, row.group, row.title, row.kind, row.settings, error);
      return null;
    }
    return sides.map(({ row }, i) => {
      const side = totals[i];
      const cpu = side.figures.map((f) => f.cpuMsPerRequest);
      const known = cpu.filter((c): c is number => c !== null);
      const scenario: ScenarioRow = {
        id: row.id,
        runtime: this.runtime.id,
        settings: row.settings,
        group: row.group,
        title: row.title,
        server: row.kind,
        status: side.non2xx + side.errors + side.timeouts > side.requests * 0.01 ? 'error' : 'ok',
        reqPerSec: round(median(side.figures.map((f) => f.reqPerSec)), 0),
        p50Ms: median(side.figures.map((f) => f.p50Ms)),
        p99Ms: median(side.figures.map((f) => f.p99Ms)),
        rssMb: round(row.server.rssBytes() / MiB, 1),
        cpuMsPerRequest: known.length ? round(median(known), 3) : null,
        ratioToLimit: null,
        ratioToPeer: null,
        requests: side.requests,
        errors: side.errors,
        timeouts: side.timeouts,
        non2xx: side.non2xx,
        upstreamCalls: row.countUpstream ? Object.fromEntries(side.upstream) : undefined,
        hotRead: row.gateway
          ? {
              hits: side.hits,
              misses: side.misses,
              hitRate: side.hits + side.misses > 0 ? round(side.hits / (side.hits + side.misses), 3) : null,
              // Requests still in flight when a round's clock stopped are served (and counted) after it.
              hitRateOfAll: side.requests > 0 ? round(Math.min(1, side.hits / side.requests), 3) : null,
            }
          : undefined,
        laneServed: row.gateway && side.laneKnown ? side.laneServed : undefined,
        logBytesPerRequest:
          row.gateway && side.requests > 0 ? round(side.logBytes / side.requests, 0) : undefined,
        distinctRequests: distinctRequests(row.workload),
        warmupSeconds: side.warmupSeconds,
        rounds: { cpuMsPerRequest: cpu, reqPerSec: side.figures.map((f) => round(f.reqPerSec, 0)) },
        notes: row.notes,
      };
      if (scenario.status === 'error') {
        scenario.error = `${side.non2xx} non-2xx, ${side.errors} errors, ${side.timeouts} timeouts of ${side.requests}`;
        const exit = row.server.exitStatus();
        if (exit !== null)
          scenario.error += `; ${row.server.name} exited (${exit}): ${row.server.output().slice(-1500)}`;
      }
      return scenario;
    });
  }

  /** Sends the row's request (a mix: its sample) and checks the answers: 2xx, data, the row's own check. */
  private async checkAnswers(row: LoadRow): Promise<void> {
    const { workload, title } = row;
    const samples = Array.isArray(workload) ? (row.mixSample ?? workload.slice(0, 1)) : [workload];
    for (const spec of samples) {
      const answer = await send(spec);
      if (answer.status < 200 || answer.status >= 300) {
        throw new Error(
          `check request ${spec.method ?? 'GET'} ${spec.url} answered ${answer.status}: ${answer.body.slice(0, 300)}`,
        );
      }
      const data =
        spec.method === 'POST'
          ? expectData(answer.status, answer.body, title)
          : (JSON.parse(answer.body) as Record<string, unknown>);
      if (row.checkData && !Array.isArray(workload)) row.checkData(data);
    }
  }

  /** One closed-loop run against the row's server, after checking that it answers correctly. */
  private async load(row: LoadRow): Promise<void> {
    const { id, group, title, kind, server, workload, settings } = row;
    log(`${title} ...`);
    try {
      await this.checkAnswers(row);
      const { budget } = this.options;
      let cpuBeforeMs = 0;
      let hotBefore: GatewayCounts | null = null;
      let logBefore = 0;
      // The server's CPU per request of each measured window.
      const windowCpu: (number | null)[] = [];
      let windowStartMs = 0;
      const result = await measureLoad(
        workload,
        {
          connections: budget.connections,
          durationSeconds: budget.durationSeconds,
          warmupSeconds: budget.warmupSeconds,
          windows: row.windows,
        },
        async () => {
          // Counted after the warm-up: the measured run of a cached read should cost Maia (almost) nothing.
          if (row.countUpstream) await this.emulatorClient.resetCounters();
          if (row.gateway) {
            hotBefore = await this.hotReadCounts(row.gateway);
            logBefore = fileSize(row.gateway.logFile);
          }
          cpuBeforeMs = server.cpuTimeMs();
          windowStartMs = cpuBeforeMs;
        },
        async (window) => {
          const nowMs = server.cpuTimeMs();
          windowCpu.push(window.requests > 0 ? round((nowMs - windowStartMs) / window.requests, 3) : null);
          windowStartMs = nowMs;
        },
      );
      const cpuMs = server.cpuTimeMs() - cpuBeforeMs;
      const upstreamCalls = row.countUpstream ? await this.upstreamCalls() : undefined;
      let hotRead: HotReadStats | undefined;
      let logBytesPerRequest: number | undefined;
      let laneServed: number | undefined;
      if (row.gateway && hotBefore) {
        const before: GatewayCounts = hotBefore;
        const after = await this.hotReadCounts(row.gateway);
        laneServed = difference(before.laneServed, after.laneServed);
        const hits = after.hits - before.hits;
        const misses = after.misses - before.misses;
        hotRead = {
          hits,
          misses,
          hitRate: hits + misses > 0 ? round(hits / (hits + misses), 3) : null,
          // Requests still in flight when the run's clock stopped are served (and counted) after it.
          hitRateOfAll: result.requests > 0 ? round(Math.min(1, hits / result.requests), 3) : null,
        };
        if (result.requests > 0)
          logBytesPerRequest = round((fileSize(row.gateway.logFile) - logBefore) / result.requests, 0);
      }
      const scenario: ScenarioRow = {
        id,
        runtime: this.runtime.id,
        settings,
        group,
        title,
        server: kind,
        status: result.non2xx + result.errors + result.timeouts > result.requests * 0.01 ? 'error' : 'ok',
        reqPerSec: round(result.reqPerSec, 0),
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        rssMb: round(server.rssBytes() / MiB, 1),
        // Over every window together (several windows: each one's figure is listed as the spread).
        cpuMsPerRequest: result.requests > 0 ? round(cpuMs / result.requests, 3) : null,
        ...(result.windows
          ? {
              rounds: {
                cpuMsPerRequest: windowCpu,
                reqPerSec: result.windows.map((w) => round(w.reqPerSec, 0)),
              },
            }
          : {}),
        ratioToLimit: null,
        ratioToPeer: null,
        requests: result.requests,
        errors: result.errors,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
        upstreamCalls,
        hotRead,
        laneServed,
        logBytesPerRequest,
        distinctRequests: distinctRequests(workload),
        warmupSeconds: result.warmupSeconds,
        notes: row.notes,
      };
      if (scenario.status === 'error') {
        scenario.error = `${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests}`;
        const exit = server.exitStatus();
        if (exit !== null)
          scenario.error += `; ${server.name} exited (${exit}): ${server.output().slice(-1500)}`;
      }
      this.run.rows.push(scenario);
      log(
        `  ${round(result.reqPerSec, 0)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${scenario.cpuMsPerRequest} ms CPU/req${windowCpu.length > 1 ? ` (windows: ${windowCpu.map((cpu) => cpu ?? '-').join(', ')})` : ''}${hotRead ? `, hot-read hits ${hotRead.hits} (${hotRead.hitRateOfAll ?? '-'} of all)` : ''}${scenario.error ? ` (${scenario.error})` : ''}`,
      );
    } catch (error) {
      this.failRow(id, group, title, kind, settings, error);
    }
  }

  /**
   * gateway_hot_read_requests_total by result and the requests the GraphQL query lane served
   * (gateway_graphql_lane_requests_total), from the gateway's /metrics.
   */
  private async hotReadCounts(gateway: RunningGateway): Promise<GatewayCounts> {
    const answer = await send({ url: `${gateway.server.url}/metrics` });
    if (answer.status !== 200) throw new Error(`/metrics answered ${answer.status}`);
    const value = (metric: string, label: string) => {
      const match = new RegExp(`^${metric}\\{${label}\\} (\\S+)$`, 'm').exec(answer.body);
      return match ? Number(match[1]) : undefined;
    };
    return {
      hits: value('gateway_hot_read_requests_total', 'result="hit"') ?? 0,
      misses: value('gateway_hot_read_requests_total', 'result="miss"') ?? 0,
      // A build before the metric has no such series: unknown, not 0.
      laneServed: answer.body.includes('# TYPE gateway_graphql_lane_requests_total')
        ? (value('gateway_graphql_lane_requests_total', 'result="served"') ?? 0)
        : undefined,
    };
  }

  private failRow(
    id: string,
    group: ScenarioGroup,
    title: string,
    server: ServerKind,
    settings: RowSettings,
    error: unknown,
  ): void {
    const message = errorMessage(error);
    log(`  ERROR ${title}: ${message}`);
    this.run.rows.push({
      id,
      runtime: this.runtime.id,
      settings,
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

  /**
   * Cold-cache stampedes: the first thing a fresh process sees (its code not yet run: start-up), on
   * `stampedeFreshRuns` fresh gateways one after the other (every run reported, the target judged on the
   * run of median p99), then, on the last of them once it has served the same query for a while, again
   * after the cache was invalidated (the case a running fleet meets). The upstream calls pass a proxy that
   * times them.
   */
  private async stampede(): Promise<void> {
    // The engine's stampede is the one judged (issue 17 judges its targets with the whole-answer cache
    // off); with the cache on, identical reads in flight together are answered once (ADR 0037): rows of
    // their own, reported beside it, never standing in for it.
    const engine = await this.stampedeWith('off');
    this.run.stampedeFreshRuns = engine.fresh;
    this.run.stampede = engine.judged;
    this.run.stampedeWarm = engine.warm;
    this.run.stampedeWholeAnswer = await this.stampedeWith('on');
  }

  private async stampedeWith(responseCache: 'on' | 'off'): Promise<StampedeGroup> {
    const size = this.options.budget.stampedeSize;
    const freshRuns = Math.max(1, this.options.budget.stampedeFreshRuns);
    const shape: GatewayShape = { ...PRODUCTION, responseCache };
    const cacheLabel = responseCache === 'on' ? 'whole-answer cache on' : 'whole-answer cache off';
    let warmResult: StampedeResult | null = null;
    const settings = this.settingsOf(shape, 'api-key', 1);
    const proxy = await startRecordingProxy(this.emulatorClient.url);
    let gateway: RunningGateway | null = null;
    const report = (s: StampedeResult) =>
      log(
        `  ${s.listProjectsCalls} upstream listProjects call(s); ${s.laneServed ?? '-'} served by the GraphQL query lane; connections opened in ${s.connectionSetup?.allOpenMs} ms; answers p99 ${s.latency ? round(s.latency.p99, 1) : '-'} ms, ${s.afterUpstreamEnd ? round(s.afterUpstreamEnd.p99, 1) : '-'} ms after the upstream call's end${s.error ? `; ${s.error}` : ''}`,
      );
    const once = async (process: 'fresh' | 'warm'): Promise<StampedeResult> => {
      if (!gateway) throw new Error('no gateway');
      const before = await this.hotReadCounts(gateway);
      const result = await runStampede(
        gateway.server,
        this.emulatorClient,
        proxy,
        size,
        this.facts.projectCount,
        this.reader.headers,
      );
      const after = await this.hotReadCounts(gateway);
      return {
        runtime: this.runtime.id,
        settings,
        process,
        ...result,
        laneServed: difference(before.laneServed, after.laneServed),
      };
    };
    const fresh: StampedeResult[] = [];
    for (let run = 1; run <= freshRuns; run++) {
      try {
        log(
          `stampede (${cacheLabel}): ${size} concurrent cold projects queries, the first a fresh gateway sees (${run} of ${freshRuns}) ...`,
        );
        await this.stopGateway(gateway);
        gateway = null;
        // A log file (and profile) of its own: the harness finds a gateway's address in its log.
        gateway = await this.startGateway(
          `gateway-stampede-${responseCache === 'on' ? 'cached-' : ''}${run}`,
          shape,
          {
            MAIA_BASE_URL: `${proxy.url}/dpc`,
            MAIA_TOKEN_URL: `${proxy.url}/oauth/dpc/token`,
          },
        );
        fresh.push(await once('fresh'));
        report(fresh[fresh.length - 1]);
      } catch (error) {
        fresh.push({
          runtime: this.runtime.id,
          settings,
          process: 'fresh',
          status: 'error',
          error: errorMessage(error),
          requests: size,
        });
        log(`  ERROR ${errorMessage(error)}`);
      }
    }
    try {
      log(
        `stampede (${cacheLabel}): ${size} concurrent projects queries on a warm gateway, right after a cache invalidation ...`,
      );
      if (!gateway) throw new Error('no gateway');
      // Warm the process on the very query (a closed loop, as the throughput rows do), then make it cold.
      const warm = gql(`${gateway.server.url}/graphql`, PROJECTS_QUERY, undefined, this.reader.headers);
      await measureLoad(warm, {
        connections: this.options.budget.connections,
        durationSeconds: Math.max(1, Math.min(5, this.options.budget.warmupSeconds)),
        warmupSeconds: 0,
      });
      const admin = this.principals?.admin;
      if (!admin) throw new Error('no admin caller');
      const invalidated = await send({
        url: `${gateway.server.url}/api/v1/cache/invalidate`,
        method: 'POST',
        headers: { ...admin.headers },
      });
      if (invalidated.status !== 200)
        throw new Error(
          `cache invalidation answered ${invalidated.status}: ${invalidated.body.slice(0, 300)}`,
        );
      warmResult = await once('warm');
      report(warmResult);
    } catch (error) {
      warmResult = {
        runtime: this.runtime.id,
        settings,
        process: 'warm',
        status: 'error',
        error: errorMessage(error),
        requests: size,
      };
      log(`  ERROR ${errorMessage(error)}`);
    } finally {
      if (this.options.mode === 'smoke' && gateway?.server.exitStatus() === null) {
        await this.stopGateway(this.kept);
        this.kept = gateway;
        this.proxies.push(proxy);
      } else {
        await this.stopGateway(gateway);
        await proxy.close();
      }
    }
    return { fresh, judged: medianStampede(fresh), warm: warmResult };
  }

  private async passThrough(gateway: RunningGateway): Promise<void> {
    const { projectId, executionId } = this.facts.historyExecution;
    const token = await this.emulatorClient.bearer();
    const url = gateway.server.url;
    const headers = this.reader.headers;
    const direct: RequestSpec = {
      url: `${this.emulatorClient.apiBaseUrl}/v1/projects/${projectId}/pipeline-executions/${executionId}`,
      headers: { authorization: `Bearer ${token}` },
    };
    const cases: [string, string, RequestSpec][] = [
      [
        'passthrough.graphql-execution',
        'GraphQL pipelineExecution (uncached)',
        gql(`${url}/graphql`, EXECUTION_QUERY, { projectId, executionId }, headers),
      ],
      [
        'passthrough.rest-execution',
        'REST GET pipeline-executions/{id} (uncached)',
        {
          url: `${url}/api/v1/projects/${projectId}/pipeline-executions/${executionId}`,
          headers: { ...headers },
        },
      ],
    ];
    for (const [id, title, spec] of cases) {
      log(`${title}: direct vs gateway, one request at a time ...`);
      const result: PassThroughResult = {
        id,
        runtime: this.runtime.id,
        title,
        settings: this.settingsOf(gateway.shape, 'api-key', 1),
        status: 'ok',
      };
      try {
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
      this.run.passThrough.push(result);
    }
  }

  private async execute(gateway: RunningGateway): Promise<void> {
    // A caller allowed to execute: the admin key.
    const admin = this.principals?.admin;
    if (!admin) throw new Error('no admin caller');
    const spec = gql(
      `${gateway.server.url}/graphql`,
      EXECUTE_MUTATION,
      {
        input: {
          projectId: this.facts.projectId,
          pipelineName: this.facts.shortPipeline.name,
          environmentName: this.facts.environmentName,
        },
      },
      admin.headers,
    );
    await this.load({
      id: 'gateway.graphql-execute',
      group: 'execute',
      title: 'gateway GraphQL executePipeline mutation',
      kind: 'gateway',
      server: gateway.server,
      workload: spec,
      settings: this.settingsOf(gateway.shape, 'api-key', 1),
      gateway,
      windows: this.options.budget.executeWindows,
      notes: `each request starts a ${this.facts.shortPipeline.scriptedMs / 1000} s run upstream (and its start-grace poller)`,
      checkData: (data) => {
        const started = (data.executePipeline as { pipelineExecutionId?: string } | undefined)
          ?.pipelineExecutionId;
        if (!started) throw new Error('executePipeline returned no pipelineExecutionId');
      },
    });
  }

  private async subscriptions(shape: GatewayShape): Promise<void> {
    const caller = this.reader;
    const settings = this.settingsOf(shape, 'api-key', 1);
    for (const n of this.options.budget.subscriberCounts) {
      log(`subscriptions: ${n} graphql-ws subscribers to one execution ...`);
      const kept = this.kept && sameShape(this.kept.shape, shape) ? this.kept : null;
      let gateway: RunningGateway | null = kept;
      let round_: SubscriptionRound;
      try {
        // A fresh gateway per round (but in smoke mode): its RSS before the round holds nothing earlier.
        gateway ??= await this.startGateway(`gateway-subscriptions-${n}`, shape);
        // Warm the engine on a plain query, so the first joins do not pay for JIT and lazy module loads.
        await send(gql(`${gateway.server.url}/graphql`, PROJECTS_QUERY, undefined, caller.headers));
        round_ = await runSubscriptionRound({
          gateway: gateway.server,
          emulator: this.emulatorClient,
          facts: this.facts,
          subscribers: n,
          connectConcurrency: this.options.budget.connectConcurrency,
          minIntervalMs: WATCH_MIN_INTERVAL_MS,
          minRunMs: this.options.mode === 'smoke' ? 2000 : 6000,
          connectionParams: caller.connectionParams,
        });
      } catch (error) {
        round_ = { subscribers: n, status: 'error', error: errorMessage(error) };
      } finally {
        if (gateway !== kept) await this.stopGateway(gateway);
      }
      round_.runtime = this.runtime.id;
      round_.settings = settings;
      this.run.subscriptions.push(round_);
      log(
        `  ${formatDetails({ ...this.run, rows: [], stampede: null, stampedeFreshRuns: [], stampedeWarm: null, stampedeWholeAnswer: undefined, subscriptions: [round_] })}`,
      );
    }
  }

  // ---- results --------------------------------------------------------------------------------------

  /** Each row's ratios to this runtime's own baselines, and this runtime's target checks. */
  finish(): void {
    setRatios(this.run);
    this.run.targets = checkTargets(
      this.run,
      [...this.options.only],
      WATCH_MIN_INTERVAL_MS,
      WATCH_MAX_INTERVAL_MS,
    );
    this.run.durationSeconds = round((Date.now() - this.started) / 1000, 1);
  }

  async cleanup(): Promise<void> {
    for (const server of [...this.running]) await server.stop().catch(() => undefined);
    this.running.clear();
    for (const proxy of this.proxies) await proxy.close().catch(() => undefined);
    await this.principals?.close().catch(() => undefined);
    useServerNode(null);
  }
}

function freshDir(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Distinct requests (caller, operation, variables) a workload draws from. */
function distinctRequests(workload: Workload): number {
  return Array.isArray(workload)
    ? new Set(workload.map((w) => `${w.url} ${w.body ?? ''} ${JSON.stringify(w.headers)}`)).size
    : 1;
}

function sameShape(a: GatewayShape, b: GatewayShape): boolean {
  return a.auth === b.auth && a.rateLimits === b.rateLimits && a.responseCache === b.responseCache;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
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
  const production = productionNodeMajor();
  let runtimes: RuntimeInfo[];
  try {
    runtimes = resolveRuntimes(options.runtimes ?? defaultRuntimeSpecs(options.mode, production), production);
  } catch (error) {
    console.error(errorMessage(error));
    return 64;
  }
  const cores = planCores(machine.nproc, options.pin);
  if (cores.pinned && cores.loadGenerator !== null && !pinProcess(process.pid, cores.loadGenerator)) {
    cores.note += ' (pinning the load generator failed)';
  }
  const started = Date.now();
  const results: BenchResults = {
    schemaVersion: 3,
    mode: options.mode,
    startedAt: new Date().toISOString(),
    finishedAt: '',
    durationSeconds: 0,
    machine,
    runtimes,
    productionNodeMajor: production,
    cores,
    budget: options.budget,
    groups: [...options.only],
    runs: [],
    warnings: [],
    processes: [],
    redisKeyPrefixes: [],
  };
  const invocation: Invocation = { warnings: results.warnings, prefixes: results.redisKeyPrefixes };
  log(`servers on ${runtimes.map(runtimeLabel).join(', then ')}: one pass each`);
  // Smoke mode measures nothing worth judging (and CI runs it under each of its Node.js versions).
  if (options.mode !== 'smoke' && production !== null && !runtimes.some((r) => r.production))
    results.warnings.push(
      `no pass on the production runtime (Node ${production}, the Dockerfile's): these targets are not production's`,
    );
  if (machine.loadAverage1m > 1.5)
    results.warnings.push(
      `load average ${machine.loadAverage1m} at start: other work on the machine skews the figures`,
    );
  freshDir(LOG_DIR);
  let fatal: unknown = null;
  for (const runtime of runtimes) {
    const bench = new Bench(options, cores, machine, runtime, invocation);
    results.runs.push(bench.run);
    try {
      await bench.measure();
    } catch (error) {
      fatal = error;
      results.warnings.push(`${runtime.id}: the run stopped: ${errorMessage(error)}`);
    } finally {
      await bench.cleanup();
    }
    bench.finish();
    if (fatal) break;
  }
  if (results.redisKeyPrefixes.length) {
    await deleteRedisKeys(options.redisUrl, results.redisKeyPrefixes).catch((error: unknown) =>
      results.warnings.push(`could not delete the benchmark's Redis keys: ${errorMessage(error)}`),
    );
  }
  results.processes = [...spawnedProcesses];
  results.finishedAt = new Date().toISOString();
  results.durationSeconds = round((Date.now() - started) / 1000, 1);

  for (const run of results.runs) {
    console.log(`\n${runtimeLabel(run.runtime)}, ${run.durationSeconds} s:\n${formatTable(run)}\n`);
    const details = formatDetails(run);
    if (details) console.log(`${details}\n`);
  }
  console.log(formatRuntimeTargets(results));
  for (const warning of results.warnings) console.log(`warning: ${warning}`);
  const missesOf = (runs: RuntimeRun[]) =>
    runs.flatMap((run) => run.targets).filter((t) => t.pass === false).length;
  const misses = missesOf(results.runs);
  if (misses && options.mode === 'full') {
    const production = missesOf(results.runs.filter((run) => run.runtime.production));
    console.log(
      `\n${misses} target(s) MISSED, ${production} of them on the production runtime: see above and bench/RESULTS.md`,
    );
  }

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
  const broken = results.runs.some(
    (run) =>
      run.rows.some((r) => r.status === 'error') ||
      run.passThrough.some((p) => p.status === 'error') ||
      run.stampede?.status === 'error' ||
      run.stampedeWarm?.status === 'error' ||
      run.stampedeWholeAnswer?.judged?.status === 'error' ||
      run.stampedeWholeAnswer?.warm?.status === 'error' ||
      run.subscriptions.some((s) => s.status === 'error'),
  );
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
