import type { Page } from '../common/http/pagination';
export type { Page };

/**
 * The typed face of the Maia client. Everything above `src/maia/` sees these shapes and `GatewayError`s,
 * never Axios objects or Maia's wire shapes.
 */

export const executionStatuses = [
  'RUNNING',
  'CANCELLING',
  'SUCCESS',
  'FAILED',
  'CANCELLED',
  'SKIPPED',
  'FORBIDDEN',
  'UNKNOWN',
] as const;
export type ExecutionStatus = (typeof executionStatuses)[number];

const terminal: ReadonlySet<ExecutionStatus> = new Set([
  'SUCCESS',
  'FAILED',
  'CANCELLED',
  'SKIPPED',
  'FORBIDDEN',
]);
export function isTerminalStatus(status: ExecutionStatus): boolean {
  return terminal.has(status);
}

/** Maps any upstream string to a known status; unknown strings become UNKNOWN (the raw one is kept apart). */
export function toExecutionStatus(raw: unknown): ExecutionStatus {
  return typeof raw === 'string' && (executionStatuses as readonly string[]).includes(raw)
    ? (raw as ExecutionStatus)
    : 'UNKNOWN';
}

export const executionTriggers = ['DESIGNER', 'API', 'SCHEDULE', 'SCHEDULE_RUN_NOW', 'UNKNOWN'] as const;
export type ExecutionTrigger = (typeof executionTriggers)[number];

/** A JSON object as Maia sent it. */
export type MaiaObject = Readonly<Record<string, unknown>>;

export interface PageRequest {
  /** 0-based; default 0. */
  page?: number;
  /** 1..100; default 25. */
  size?: number;
}

export interface MaiaProject {
  id: string;
  name: string;
  description: string | null;
  /**
   * The object exactly as Maia sent it (members and values unchanged, timestamps as written, members the
   * gateway does not know included), so the REST face can answer a Maia client as Maia would.
   */
  asSent?: MaiaObject;
}

export interface MaiaEnvironment {
  name: string;
  defaultAgentId: string | null;
  defaultAgentName: string | null;
  /**
   * The object exactly as Maia sent it (members and values unchanged, timestamps as written, members the
   * gateway does not know included), so the REST face can answer a Maia client as Maia would.
   */
  asSent?: MaiaObject;
}

export interface MaiaPublishedPipeline {
  name: string;
  /** ISO-8601 UTC, normalised to milliseconds (`asSent` keeps Maia's writing). */
  publishedTime: string | null;
  /**
   * The object exactly as Maia sent it (members and values unchanged, timestamps as written, members the
   * gateway does not know included), so the REST face can answer a Maia client as Maia would.
   */
  asSent?: MaiaObject;
}

/** A published version (Maia's "artifact") of a project, as published to one environment. */
export interface MaiaArtifact {
  /** The name execute takes as `versionName`. */
  versionName: string;
  environmentName: string | null;
  /** ISO-8601 UTC, normalised to milliseconds, when Maia sends it. */
  createdAt: string | null;
  /** False for a disabled artifact; null when Maia does not say. */
  enabled: boolean | null;
  asSent?: MaiaObject;
}

/** One published version and the pipelines it holds. */
export interface MaiaArtifactDetails {
  artifact: MaiaArtifact;
  pipelineNames: string[];
  asSent?: MaiaObject;
}

/** A runner (agent) of the account. */
export interface MaiaAgent {
  /** The id execute takes as `agentId`. */
  agentId: string;
  name: string | null;
  /** True for a runner that serves only the project/environment pairs on its allow list. */
  restricted: boolean | null;
  status: string | null;
  asSent?: MaiaObject;
}

export interface ExecutePipelineRequest {
  pipelineName: string;
  environmentName: string;
  versionName?: string;
  agentId?: string;
  executionTag?: string;
  scalarVariables?: Record<string, string>;
  gridVariables?: Record<string, string[][]>;
}

/** One try of an idempotency key (`IdempotencyAttempt`): its id, and the earlier try it resumes. */
export interface ExecuteAttempt {
  id: string;
  resumes?: string;
}

/**
 * Redis SETs (built with `RedisService.key()`) the caller wants written once the run's id is known, in the
 * same round trip as the execute ledger's settle; undefined for none.
 */
export type ExecuteRecordWith = (
  executionId: string,
) => { entries: readonly { key: string; value: string }[]; ttlMs: number } | undefined;

export interface ExecuteResult {
  pipelineExecutionId: string;
  /** True when the POST's outcome was unknown and the run was found by listing executions afterwards. */
  reconciled: boolean;
  /** With `recordWith`: true when the caller's SETs were written along with the ledger's settle. */
  recorded?: boolean;
}

export interface MaiaExecution {
  pipelineExecutionId: string;
  projectId: string;
  pipelineName: string | null;
  pipelineType: string | null;
  environmentName: string | null;
  status: ExecutionStatus;
  /** The string Maia sent, kept when `status` is UNKNOWN. */
  rawStatus: string;
  /** ISO-8601 UTC, normalised to milliseconds (`asSent` keeps Maia's writing). */
  startedAt: string | null;
  finishedAt: string | null;
  message: string | null;
  trigger: ExecutionTrigger | null;
  scheduleId: string | null;
  user: string | null;
  /**
   * The object exactly as Maia sent it (members and values unchanged, timestamps as written, members the
   * gateway does not know included), so the REST face can answer a Maia client as Maia would.
   */
  asSent?: MaiaObject;
}

export interface MaiaExecutionStatus {
  status: ExecutionStatus;
  rawStatus: string;
}

export interface MaiaStep {
  id: string;
  name: string;
  status: ExecutionStatus;
  rawStatus: string;
  startedAt: string | null;
  finishedAt: string | null;
  message: string | null;
  /** Present when the step ran a child pipeline; passed through as Maia sent it. */
  childPipeline: unknown;
  /**
   * The object exactly as Maia sent it (members and values unchanged, timestamps as written, members the
   * gateway does not know included), so the REST face can answer a Maia client as Maia would.
   */
  asSent?: MaiaObject;
}

export interface ExecutionListFilter {
  projectId?: string;
  /** Case-insensitive partial match upstream. */
  pipelineName?: string;
  environmentName?: string;
  status?: ExecutionStatus[];
  scheduleId?: string;
  /** Inclusive ISO-8601 bounds. */
  startedAfter?: string;
  startedBefore?: string;
  /** 1..100; default 25. */
  limit?: number;
  paginationToken?: string;
  /** Maia's own time-frame filter, passed on as given. */
  timeFrame?: string;
}

export interface ExecutionListPage {
  results: MaiaExecution[];
  /** Token of the next page; null on the last page. */
  more: string | null;
}

export interface CallOptions {
  /** Correlation id sent to Maia (`x-request-id`). */
  requestId?: string;
  /** Aborts the call (client went away, shutdown). */
  signal?: AbortSignal;
}

/**
 * Every endpoint of the contract in `maia-api.md`. Implemented by `MaiaClient`; tests of higher layers may
 * use a strict double of it.
 */
export interface MaiaApi {
  listProjects(page?: PageRequest, options?: CallOptions): Promise<Page<MaiaProject>>;
  listEnvironments(
    projectId: string,
    page?: PageRequest,
    options?: CallOptions,
  ): Promise<Page<MaiaEnvironment>>;
  /** Without an environment, Maia lists what is published to any environment of the project. */
  listPublishedPipelines(
    projectId: string,
    environmentName: string | undefined,
    page?: PageRequest,
    options?: CallOptions,
  ): Promise<Page<MaiaPublishedPipeline>>;
  /**
   * Never sent twice; an unknown outcome is reconciled or fails with UPSTREAM_OUTCOME_UNKNOWN. `attempt`:
   * the idempotency try this is, and the earlier try it must resolve before sending anything.
   */
  executePipeline(
    projectId: string,
    request: ExecutePipelineRequest,
    options?: CallOptions,
    attempt?: ExecuteAttempt,
    recordWith?: ExecuteRecordWith,
  ): Promise<ExecuteResult>;
  getExecution(projectId: string, executionId: string, options?: CallOptions): Promise<MaiaExecution>;
  /** The light poll; falls back to the details call when the light one is not understood. */
  getExecutionStatus(
    projectId: string,
    executionId: string,
    options?: CallOptions,
  ): Promise<MaiaExecutionStatus>;
  listSteps(
    projectId: string,
    executionId: string,
    page?: PageRequest,
    options?: CallOptions,
  ): Promise<Page<MaiaStep>>;
  cancelExecution(
    projectId: string,
    executionId: string,
    force: boolean,
    options?: CallOptions,
  ): Promise<{ pipelineExecutionId: string }>;
  listExecutions(filter: ExecutionListFilter, options?: CallOptions): Promise<ExecutionListPage>;

  /** Published versions of the project; without an environment, of every environment the credential sees. */
  listArtifacts(
    projectId: string,
    environmentName: string | undefined,
    page?: PageRequest,
    options?: CallOptions,
  ): Promise<Page<MaiaArtifact>>;
  getArtifactDetails(
    projectId: string,
    environmentName: string,
    versionName: string,
    options?: CallOptions,
  ): Promise<MaiaArtifactDetails>;
  /** The account's runners (not scoped to a project). */
  listAgents(page?: PageRequest, options?: CallOptions): Promise<Page<MaiaAgent>>;

  /** Iterators that walk every page. */
  allProjects(options?: CallOptions): AsyncIterable<MaiaProject>;
  allEnvironments(projectId: string, options?: CallOptions): AsyncIterable<MaiaEnvironment>;
  allPublishedPipelines(
    projectId: string,
    environmentName: string | undefined,
    options?: CallOptions,
  ): AsyncIterable<MaiaPublishedPipeline>;
  allArtifacts(
    projectId: string,
    environmentName: string | undefined,
    options?: CallOptions,
  ): AsyncIterable<MaiaArtifact>;
  allAgents(options?: CallOptions): AsyncIterable<MaiaAgent>;
  allSteps(projectId: string, executionId: string, options?: CallOptions): AsyncIterable<MaiaStep>;
  allExecutions(filter: ExecutionListFilter, options?: CallOptions): AsyncIterable<MaiaExecution>;
}

/** Injection token of the `MaiaApi` implementation. */
export const MAIA_API = Symbol('MAIA_API');
