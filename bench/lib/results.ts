import type { CorePlan, MachineInfo } from './machine';
import type { Budget, Mode, ScenarioGroup } from './options';
import type { Summary } from './stats';

/** The shape of bench/results/latest.json (schemaVersion bumps on any incompatible change). */

export type ServerKind = 'limit' | 'peer' | 'gateway' | 'emulator';
export type Outcome = 'ok' | 'error';

/** How the server of a row was set up: every row carries it (the harness check fails a row without). */
export interface RowSettings {
  /** The whole-answer (hot-read) cache: off is CACHE_HOT_READ_TTL_MS=0; baselines have none. */
  responseCache: 'on' | 'off';
  /** The credentials the requests carried (`off`: gateway auth disabled; `none`: a baseline). */
  auth: 'api-key' | 'api-keys+jwt' | 'off' | 'none';
  /** Distinct callers (credentials) in the run. */
  callers: number;
  rateLimits: 'on' | 'off';
  /** Gateway mode (production refuses to start without auth); `baseline` for the baselines. */
  mode: 'production' | 'development' | 'baseline';
  /** Where the server's logs went, at which level. */
  logs: string;
  metrics: 'on' | 'off';
  /** GRAPHQL_QUERY_LANE of a gateway row (the product's default, on, unless the row says otherwise). */
  graphqlQueryLane?: 'on' | 'off';
}

/**
 * A ratio measured round by round: each round's figure of the row over the same round's figure of the
 * row named by `against` (the two measured back to back, the order alternating from round to round).
 */
export interface RoundRatios {
  /** The id of the row divided by (limit.rest-projects, peer.graphql-projects, ...). */
  against: string;
  /** What is divided: throughput (the judged ratios) or the server's CPU per request. */
  of: 'reqPerSec' | 'cpuMsPerRequest';
  /** Round by round, in the order measured. */
  ratios: number[];
  /** The verdict's figure; min and max are its spread. */
  median: number;
  min: number;
  max: number;
  /** Rounds measured (a round in which a side served nothing gives no ratio). */
  rounds: number;
  /** Rounds in which a side served under half its own best round's req/s: starved, not reliable. */
  starved: number;
}

/** The whole-answer cache's hits and misses over the measured run (gateway_hot_read_requests_total). */
export interface HotReadStats {
  hits: number;
  misses: number;
  /** hits / (hits + misses): of the reads it may answer. */
  hitRate: number | null;
  /** hits / requests of the run: of everything sent. */
  hitRateOfAll: number | null;
}

/**
 * A Node.js the servers of a run ran on. One invocation measures every server row on each runtime of
 * `--runtimes` in turn (by default the machine's and the production one), each against baselines started
 * on that same runtime.
 */
export interface RuntimeInfo {
  /** `node<major>`, e.g. node24: names its logs and profiles; every row, round and target carries it. */
  id: string;
  major: number;
  /** `node --version`, e.g. v24.22.3. */
  version: string;
  path: string;
  /** The Node.js the Dockerfile builds the production image on: its targets are the ones that count. */
  production: boolean;
  /** harness: the Node.js running the harness; cache: scripts/cached-node.sh's; path: named by --runtimes. */
  source: 'harness' | 'cache' | 'path';
}

export interface ScenarioRow {
  id: string;
  /** The RuntimeInfo.id the server of the row ran on. */
  runtime: string;
  settings: RowSettings;
  group: ScenarioGroup;
  title: string;
  server: ServerKind;
  status: Outcome;
  error?: string;
  /** Closed-loop throughput; null for the one-at-a-time latency rows. */
  reqPerSec: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** The server's resident set size right after the run. */
  rssMb: number | null;
  /**
   * The server's own CPU time (user + system, /proc) per request of the measured run, in ms: unlike
   * req/s it barely moves when other work shares the machine, so it is the figure to compare builds by.
   */
  cpuMsPerRequest?: number | null;
  /** reqPerSec over the baseline's (limit: raw node:http; peer: plain Apollo on the same query shape). */
  ratioToLimit: number | null;
  ratioToPeer: number | null;
  requests?: number;
  /** The warm-up actually run: until throughput held steady, at most the budget's. */
  warmupSeconds?: number;
  errors?: number;
  timeouts?: number;
  non2xx?: number;
  /** Upstream (emulator) calls by route made during the measured run. */
  upstreamCalls?: Record<string, number>;
  hotRead?: HotReadStats;
  /** Requests the GraphQL query lane served in the measured run(s) (the gateway's /metrics). */
  laneServed?: number;
  /** Bytes of log the server wrote per request of the measured run. */
  logBytesPerRequest?: number;
  /** Distinct requests (caller, operation, variables) the workload drew from. */
  distinctRequests?: number;
  /**
   * Rows measured in several rounds interleaved with another row's (the judged ratio rows with their
   * baseline, the dashboard mix with auth on and off): each round's figures; the row's own figures
   * (req/s, latencies, CPU per request) are their medians. The executePipeline row measured in windows
   * back to back: each window's figures (null: a window that served nothing); the row's own are the whole
   * run's (CPU and req/s over every window, p50 the median window's, p99 the worst window's).
   */
  rounds?: { cpuMsPerRequest: (number | null)[]; reqPerSec: number[] };
  /**
   * The row's ratio to another row, round by round: the judged ratio rows' throughput over their
   * baseline's (ratioToLimit or ratioToPeer is then its median, not the ratio of the medians), the
   * dashboard mix with the GraphQL query lane off against the same mix with it on (CPU per request).
   */
  ratioRounds?: RoundRatios;
  notes?: string;
}

export interface PassThroughResult {
  id: string;
  runtime: string;
  settings?: RowSettings;
  title: string;
  status: Outcome;
  error?: string;
  direct?: Summary;
  gateway?: Summary;
  /** Gateway p50 minus direct p50, in ms. */
  addedP50Ms?: number;
  failures?: number;
}

export interface StampedeResult {
  /** Set by the harness around the scenario (as `settings` is): the RuntimeInfo.id. */
  runtime?: string;
  settings?: RowSettings;
  /** fresh: the first thing a new gateway process sees; warm: a running one, right after an invalidation. */
  process?: 'fresh' | 'warm';
  status: Outcome;
  error?: string;
  requests: number;
  answeredOk?: number;
  /** Of the stampede's requests, those the GraphQL query lane served (the gateway's /metrics). */
  laneServed?: number;
  /** Upstream listProjects calls the stampede caused. */
  listProjectsCalls?: number;
  /** From each query sent to its answer read. */
  latency?: Summary;
  totalMs?: number;
  /** The gateway's CPU time (user + system) from the first query sent to the last answer read. */
  gatewayCpuMs?: number;
  /** Of it: until the upstream call reached Maia, and after its answer was back (10 ms resolution). */
  gatewayCpuBeforeUpstreamMs?: number;
  gatewayCpuAfterUpstreamMs?: number;
  /** The harness's own CPU time (client and recording proxy) from the first query sent to the last answer. */
  harnessCpuMs?: number;
  /**
   * The harness's longest event-loop delay meanwhile (ms, 5 ms resolution): answers read late because the
   * harness did not get its core show here, not in the gateway's CPU or profile.
   */
  harnessLoopDelayMaxMs?: number;
  /** Opening the connections beforehand (one /health/live each, all at once), measured apart. */
  connectionSetup?: { connections: number; allOpenMs: number; firstRequest: Summary };
  /** The upstream listProjects call, on the harness's clock from the first query sent. */
  upstreamCall?: { startAfterMs: number; durationMs: number };
  /** Every upstream call of the stampede (token included), in order. */
  upstreamLog?: { call: string; startAfterMs: number; durationMs: number }[];
  /** Each answer's arrival after the upstream call's answer reached the gateway (ms; the target's p99). */
  afterUpstreamEnd?: Summary;
  /**
   * The same moments on CLOCK_MONOTONIC in microseconds (the clock of a `--cpu-prof` profile's timestamps):
   * `node dist/bench/stampede-profile.js` cuts a profiled gateway's samples at them.
   */
  monotonicUs?: { firstQuery: number; upstreamStart?: number; upstreamEnd?: number; lastAnswer: number };
}

export interface SubscriptionRound {
  /** Set by the harness around the scenario (as `settings` is): the RuntimeInfo.id. */
  runtime?: string;
  settings?: RowSettings;
  subscribers: number;
  status: Outcome;
  error?: string;
  /** Length of the watched run, from its start to the cancel that ends it, in ms. */
  runMs?: number;
  /** Load-generator processes the subscribers were spread over. */
  generatorProcesses?: number;
  connected?: number;
  /** From the first connect to the last subscriber's first event. */
  connectAllMs?: number;
  /** One subscriber: WebSocket open + connection_init/ack + subscribe + first event. */
  connect?: Summary;
  rssBeforeMb?: number;
  rssAfterMb?: number;
  rssPeakMb?: number;
  rssPerSubscriberKb?: number;
  /** Subscribers that received the terminal event. */
  delivered?: number;
  /** Subscribers whose first event was already terminal (they joined after the run ended). */
  late?: number;
  failed?: number;
  firstError?: string;
  /** From the upstream change (the run's scripted end: its finishedAt) to each subscriber; includes polling. */
  fromUpstream?: Summary;
  /** From the leader's observation (the event's `at`) to each subscriber: the fan-out alone. */
  fanOut?: Summary;
  /** The gateway's CPU time from the upstream change to the last receipt, per subscriber, in µs. */
  fanOutCpuUsPerSubscriber?: number;
  /** The generator processes' CPU time over the same stretch, per subscriber, in µs. */
  generatorCpuUsPerSubscriber?: number;
  windowMs?: number;
  /** Upstream calls for this execution during the window. */
  statusCalls?: number;
  detailsCalls?: number;
  /** The most polls one poller could make in the window (window / minimum interval + 1). */
  maxPollsOfOnePoller?: number;
  /** The largest number of light status calls in any one second of the window. */
  maxStatusCallsPerSecond?: number;
}

export interface TargetCheck {
  id: string;
  runtime: string;
  description: string;
  target: string;
  measured: string;
  /** null: not measured (scenario skipped or failed). */
  pass: boolean | null;
}

/** Everything measured on one runtime: its rows' ratios are to the baselines of the same runtime. */
/** The stampedes of one cache setting: every fresh run, the one of median p99 (judged), the warm one. */
export interface StampedeGroup {
  fresh: StampedeResult[];
  judged: StampedeResult | null;
  warm: StampedeResult | null;
}

export interface RuntimeRun {
  runtime: RuntimeInfo;
  rows: ScenarioRow[];
  passThrough: PassThroughResult[];
  stampede: StampedeResult | null;
  /**
   * Every fresh-gateway stampede of the run, in order (one fresh gateway each); `stampede` is the one of
   * median p99 after the upstream call, the one the target is judged on. Absent in older results.
   */
  stampedeFreshRuns?: StampedeResult[];
  stampedeWarm: StampedeResult | null;
  /**
   * The same stampedes with the whole-answer cache on, where identical reads in flight together are
   * answered once (ADR 0037): reported in rows of their own, never judged in the engine's place (the three
   * fields above are the engine's, cache off). Absent in older results.
   */
  stampedeWholeAnswer?: StampedeGroup;
  subscriptions: SubscriptionRound[];
  targets: TargetCheck[];
  durationSeconds: number;
}

export interface BenchResults {
  schemaVersion: 3;
  mode: Mode;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  /** `machine.node` is the harness's (the load generator's) Node.js; the servers ran on `runtimes`. */
  machine: MachineInfo;
  /** In the order they were measured. */
  runtimes: RuntimeInfo[];
  /** The Dockerfile's Node.js major (the production runtime), null when the Dockerfile does not say. */
  productionNodeMajor: number | null;
  cores: CorePlan;
  budget: Budget;
  groups: ScenarioGroup[];
  /** One per runtime, in the order of `runtimes`. */
  runs: RuntimeRun[];
  warnings: string[];
  /** Every server process the run started, all stopped by the end. */
  processes: { name: string; pid: number }[];
  /** Redis key prefixes the gateways used, all deleted by the end. */
  redisKeyPrefixes: string[];
}
