import type { CorePlan, MachineInfo } from './machine';
import type { Budget, Mode, ScenarioGroup } from './options';
import type { Summary } from './stats';

/** The shape of bench/results/latest.json (schemaVersion bumps on any incompatible change). */

export type ServerKind = 'limit' | 'peer' | 'gateway' | 'emulator';
export type Outcome = 'ok' | 'error';

export interface ScenarioRow {
  id: string;
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
  notes?: string;
}

export interface PassThroughResult {
  id: string;
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
  status: Outcome;
  error?: string;
  requests: number;
  answeredOk?: number;
  /** Upstream listProjects calls the stampede caused. */
  listProjectsCalls?: number;
  latency?: Summary;
  totalMs?: number;
}

export interface SubscriptionRound {
  subscribers: number;
  status: Outcome;
  error?: string;
  /** Scripted length of the watched run (from its start), in ms. */
  runMs?: number;
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
  description: string;
  target: string;
  measured: string;
  /** null: not measured (scenario skipped or failed). */
  pass: boolean | null;
}

export interface BenchResults {
  schemaVersion: 1;
  mode: Mode;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  cores: CorePlan;
  budget: Budget;
  groups: ScenarioGroup[];
  rows: ScenarioRow[];
  passThrough: PassThroughResult[];
  stampede: StampedeResult | null;
  subscriptions: SubscriptionRound[];
  targets: TargetCheck[];
  warnings: string[];
  /** Every server process the run started, all stopped by the end. */
  processes: { name: string; pid: number }[];
  /** Redis key prefixes the gateways used, all deleted by the end. */
  redisKeyPrefixes: string[];
}
