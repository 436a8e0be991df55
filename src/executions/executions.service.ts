import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { type Page } from '../common/http/pagination';
import { RequestContext } from '../common/request-context';
import { isSafeName } from '../common/validation';
import { fingerprintOf } from '../idempotency/fingerprint.util';
import { IdempotencyService, type IdempotencyAttempt } from '../idempotency/idempotency.service';
import {
  isTerminalStatus,
  MAIA_API,
  type ExecutePipelineRequest,
  type ExecutionListFilter,
  type ExecutionListPage,
  type MaiaApi,
  type MaiaExecution,
  type MaiaExecutionStatus,
  type MaiaStep,
} from '../maia/maia.types';
import { MAX_VARIABLE_VALUE_LENGTH, MAX_VARIABLES } from './dto/execution-limits';
import {
  decodeCursor,
  encodeCursor,
  filterHash,
  type ExecutionCursor,
  type UserFilter,
} from './execution-cursor';
import { ExecutionLaunchStore, type ExecutionLaunch } from './execution-launch.store';
import { ExecutionTagsStore } from './execution-tags.store';
import { ExecutionWatchPort } from './execution-watch.port';

/**
 * With neither bound given, GraphQL lists executions over this window (Maia scans slowly without one; the
 * schema says so). The REST face sends exactly what its caller sent.
 */
export const DEFAULT_EXECUTION_WINDOW_MS = 7 * 24 * 3600 * 1000;

export interface ExecutionEdge {
  cursor: string;
  node: MaiaExecution;
}

export interface ExecutionConnectionPage {
  edges: ExecutionEdge[];
  hasNextPage: boolean;
  endCursor: string | null;
  startCursor: string | null;
  /** The window asked of Maia: the caller's, or the default one the gateway chose. */
  window: { startedAfter?: string; startedBefore?: string };
}

export interface ExecuteOutcome {
  pipelineExecutionId: string;
  replayed: boolean;
}

/** Most projects `locate` reads an execution in before it gives up (each is one Maia call). */
export const MAX_LOCATE_PROBES = 20;

/** Maia calls a lookup may still make: one budget per GraphQL `node`/`nodes` call, shared by its ids. */
export class ProbeBudget {
  constructor(private remaining: number = MAX_LOCATE_PROBES) {}

  take(): boolean {
    if (this.remaining <= 0) return false;
    this.remaining -= 1;
    return true;
  }
}

/** A run whose launch the gateway did not record (or no longer has): it cannot be run again. */
export function launchUnknown(executionId: string): GatewayError {
  return new GatewayError(
    ErrorCode.LAUNCH_UNKNOWN,
    'The gateway has no record of how this execution was launched, so it cannot run it again',
    { executionId },
  );
}

/**
 * Executions: launching (idempotent when asked), reading, cancelling and listing. Executions are never
 * cached: every read goes to Maia.
 */
@Injectable()
export class ExecutionsService {
  constructor(
    @Inject(MAIA_API) private readonly maia: MaiaApi,
    private readonly idempotency: IdempotencyService,
    private readonly tags: ExecutionTagsStore,
    private readonly launches: ExecutionLaunchStore,
    private readonly watch: ExecutionWatchPort,
  ) {}

  async get(projectId: string, executionId: string): Promise<MaiaExecution> {
    return this.handedOut(await this.maia.getExecution(projectId, executionId));
  }

  /** The light poll (Maia's status route; the client falls back to the details when it is not understood). */
  status(projectId: string, executionId: string): Promise<MaiaExecutionStatus> {
    return this.maia.getExecutionStatus(projectId, executionId);
  }

  steps(projectId: string, executionId: string, page: number, size: number): Promise<Page<MaiaStep>> {
    return this.maia.listSteps(projectId, executionId, { page, size });
  }

  /**
   * Starts a run. With an idempotency key, the first call executes and repeats (any replica, 24 h) answer
   * the same run with `replayed: true`; the same key with another request is IDEMPOTENCY_KEY_REUSED.
   */
  async execute(
    projectId: string,
    request: ExecutePipelineRequest,
    idempotencyKey?: string,
  ): Promise<ExecuteOutcome> {
    checkVariables(request);
    return this.once('executePipeline', idempotencyKey, { projectId, ...request }, (attempt) =>
      this.launch(projectId, request, undefined, attempt),
    );
  }

  /**
   * Starts again what an earlier run launched (same pipeline, environment, version, runner, variables and
   * tag), by the same path as `execute`: idempotent with a key, reconciled, watched, itself recorded. A run
   * the gateway did not launch (or whose record expired, or of another project) is LAUNCH_UNKNOWN.
   */
  async rerun(projectId: string, executionId: string, idempotencyKey?: string): Promise<ExecuteOutcome> {
    // The fingerprint is the run to repeat: the same key for another run is IDEMPOTENCY_KEY_REUSED, and a
    // replay does not depend on the launch record still being there.
    return this.once(
      'rerunPipelineExecution',
      idempotencyKey,
      { projectId, executionId },
      async (attempt) => {
        const launch = await this.launchOf(projectId, executionId);
        if (!launch) throw launchUnknown(executionId);
        const request = requestOf(launch);
        checkVariables(request);
        return this.launch(projectId, request, executionId, attempt);
      },
    );
  }

  /** The launch of a run of `projectId`, when the gateway recorded it. */
  async launchOf(projectId: string, executionId: string): Promise<ExecutionLaunch | undefined> {
    return (await this.launchesOf([{ projectId, executionId }]))[0];
  }

  /** `launchOf` for several runs, in one round trip to the store. */
  async launchesOf(
    runs: readonly { projectId: string; executionId: string }[],
  ): Promise<(ExecutionLaunch | undefined)[]> {
    const launches = await this.launches.launchesOf(runs.map((run) => run.executionId));
    // A record of another project is none: the caller was checked against `projectId` only.
    return launches.map((launch, index) =>
      launch && launch.projectId.toLowerCase() === runs[index].projectId.toLowerCase() ? launch : undefined,
    );
  }

  /**
   * Reads an execution known only by its id, among the projects `visibleProjectIds` (the caller's): the
   * project the gateway recorded when it handed the id out, else one Maia call per visible project while
   * `budget` lasts. Undefined when not found (or only in a project the caller may not see).
   */
  async locate(
    executionId: string,
    visibleProjectIds: readonly string[],
    budget: ProbeBudget,
  ): Promise<MaiaExecution | undefined> {
    const visible = new Set(visibleProjectIds.map((id) => id.toLowerCase()));
    const recorded = await this.launches.projectOf(executionId);
    const candidates = recorded !== undefined ? [recorded] : [...visibleProjectIds];
    for (const projectId of candidates) {
      if (!visible.has(projectId.toLowerCase())) return undefined;
      if (recorded === undefined && !budget.take()) return undefined;
      try {
        return await this.get(projectId, executionId);
      } catch (error) {
        if (!GatewayError.is(error, ErrorCode.NOT_FOUND)) throw error;
      }
    }
    return undefined;
  }

  /** `work` once per (operation, caller, key) when a key is given; every time otherwise. */
  private async once(
    operation: string,
    idempotencyKey: string | undefined,
    request: object,
    work: (attempt?: IdempotencyAttempt) => Promise<string>,
  ): Promise<ExecuteOutcome> {
    if (idempotencyKey === undefined) return { pipelineExecutionId: await work(), replayed: false };
    // Keys are per caller: two clients may pick the same key without colliding.
    const scope = `${operation}:${RequestContext.current()?.principal?.id ?? 'anonymous'}`;
    const { value, replayed } = await this.idempotency.run(
      scope,
      idempotencyKey,
      fingerprintOf(request),
      async (attempt) => ({ pipelineExecutionId: await work(attempt) }),
    );
    return { pipelineExecutionId: value.pipelineExecutionId, replayed };
  }

  private async launch(
    projectId: string,
    request: ExecutePipelineRequest,
    rerunOf?: string,
    attempt?: IdempotencyAttempt,
  ): Promise<string> {
    try {
      const launchOf = (): ExecutionLaunch => ({
        projectId,
        ...request,
        launchedAt: new Date().toISOString(),
        ...(rerunOf !== undefined ? { rerunOf } : {}),
      });
      // The launch record goes to Redis in the same round trip as the execute ledger's settle (ADR 0042).
      const { pipelineExecutionId, recorded } = await this.maia.executePipeline(
        projectId,
        request,
        undefined,
        attempt,
        (executionId) => this.launches.launchWrites(executionId, launchOf()),
      );
      // Live status watches the run from its first second, subscribers or not.
      this.watch.notifyStarted(projectId, pipelineExecutionId);
      // Not written along (a reconciled run, Redis away or without Redis): recorded on its own, as before.
      if (recorded !== true) await this.launches.rememberLaunch(pipelineExecutionId, launchOf());
      if (request.executionTag !== undefined) {
        await this.tags.remember(
          projectId,
          request.environmentName,
          request.executionTag,
          pipelineExecutionId,
        );
      }
      return pipelineExecutionId;
    } catch (error) {
      if (GatewayError.is(error, ErrorCode.CONFLICT) && request.executionTag !== undefined) {
        throw await this.tagConflict(projectId, request, error);
      }
      throw error;
    }
  }

  /** Notes the project of executions handed out to a client (for `node(id:)`); never fails the read. */
  private handedOut<T extends MaiaExecution | readonly MaiaExecution[]>(executions: T): T {
    const list: readonly MaiaExecution[] = Array.isArray(executions)
      ? (executions as readonly MaiaExecution[])
      : [executions as MaiaExecution];
    void this.launches.rememberProjects(list).catch(() => undefined);
    return executions;
  }

  /** A 409 on a tagged launch: say which tag, and which run holds it when the gateway started that run. */
  private async tagConflict(
    projectId: string,
    request: ExecutePipelineRequest,
    cause: GatewayError,
  ): Promise<GatewayError> {
    const tag = request.executionTag as string;
    let existingExecutionId: string | undefined;
    const candidate = await this.tags.lookup(projectId, request.environmentName, tag);
    if (candidate) {
      try {
        const execution = await this.maia.getExecution(projectId, candidate);
        if (!isTerminalStatus(execution.status)) existingExecutionId = candidate;
      } catch {
        // The hint could not be checked: say nothing rather than something wrong.
      }
    }
    // Maia's own words when it gave some (its guide's 409 body), so a Maia client reads what Maia says.
    const message =
      cause.message || 'A pipeline execution with this tag is already running in this environment';
    return new GatewayError(
      ErrorCode.CONFLICT,
      message,
      { executionTag: tag, environmentName: request.environmentName, existingExecutionId },
      { cause },
    );
  }

  /** Cancels a run; a finished one answers ALREADY_FINISHED with its final status. */
  async cancel(
    projectId: string,
    executionId: string,
    force: boolean,
  ): Promise<{ pipelineExecutionId: string }> {
    try {
      await this.maia.cancelExecution(projectId, executionId, force);
      // Whoever polls this run polls fast again, so watchers see CANCELLING/CANCELLED promptly.
      await this.watch.nudge(projectId, executionId);
      return { pipelineExecutionId: executionId };
    } catch (error) {
      if (GatewayError.is(error, ErrorCode.CONFLICT)) {
        const execution = await this.maia.getExecution(projectId, executionId);
        if (isTerminalStatus(execution.status)) {
          throw new GatewayError(
            ErrorCode.ALREADY_FINISHED,
            `The pipeline execution has already finished (${execution.status})`,
            // `status` for GraphQL extensions; REST problems reserve `status` for the HTTP status.
            { status: execution.status, executionStatus: execution.status, executionId },
            { cause: error },
          );
        }
      }
      throw error;
    }
  }

  /**
   * One page of Maia's list, as Maia pages it (REST): exactly the window the caller asked for, none when it
   * asked for none, as a Maia client expects from Maia itself.
   */
  list(filter: ExecutionListFilter): Promise<ExecutionListPage> {
    checkWindowOrder(filter); // throws before any call
    return this.maia.listExecutions(filter).then((page) => {
      this.handedOut(page.results);
      return page;
    });
  }

  /** A Relay page over Maia's token paging (GraphQL). */
  async connection(
    filter: UserFilter,
    first: number,
    after: string | undefined,
    nowMs: number = Date.now(),
  ): Promise<ExecutionConnectionPage> {
    const hash = filterHash(filter);
    let position: ExecutionCursor;
    if (after !== undefined) {
      position = decodeCursor(after, hash);
      // Continuing at a page boundary may use a new page size; inside a page, refetch it as it was.
      if (position.offset === 0) position = { ...position, pageSize: first };
    } else {
      const window = resolveWindow(filter, nowMs);
      position = {
        version: 2,
        filterHash: hash,
        offset: 0,
        pageSize: first,
        startedAfter: window.startedAfter,
        startedBefore: window.startedBefore,
      };
    }
    const page = await this.maia.listExecutions({
      ...filter,
      startedAfter: position.startedAfter,
      startedBefore: position.startedBefore,
      limit: position.pageSize,
      paginationToken: position.pageToken,
    });
    const taken = this.handedOut(page.results.slice(position.offset, position.offset + first));
    const edges = taken.map((node, index) => {
      const offset = position.offset + index + 1;
      const atPageEnd = offset >= page.results.length;
      const next: ExecutionCursor =
        atPageEnd && page.more ? { ...position, pageToken: page.more, offset: 0 } : { ...position, offset };
      return { cursor: encodeCursor(next), node };
    });
    const restOnPage = page.results.length > position.offset + taken.length;
    const hasNextPage = restOnPage || page.more !== null;
    let endCursor = edges.length > 0 ? edges[edges.length - 1].cursor : null;
    if (endCursor === null && page.more) {
      endCursor = encodeCursor({ ...position, pageToken: page.more, offset: 0 });
    }
    return {
      edges,
      hasNextPage,
      endCursor,
      startCursor: edges.length > 0 ? edges[0].cursor : null,
      window: { startedAfter: position.startedAfter, startedBefore: position.startedBefore },
    };
  }
}

/** GraphQL's window: the caller's, or the last 7 days when neither bound is given; bounds in order. */
export function resolveWindow(
  filter: { startedAfter?: string; startedBefore?: string },
  nowMs: number,
): { startedAfter?: string; startedBefore?: string } {
  const { startedAfter, startedBefore } = filter;
  if (startedAfter === undefined && startedBefore === undefined) {
    return { startedAfter: new Date(nowMs - DEFAULT_EXECUTION_WINDOW_MS).toISOString() };
  }
  checkWindowOrder(filter);
  return { startedAfter, startedBefore };
}

function checkWindowOrder({
  startedAfter,
  startedBefore,
}: {
  startedAfter?: string;
  startedBefore?: string;
}) {
  if (
    startedAfter !== undefined &&
    startedBefore !== undefined &&
    Date.parse(startedAfter) > Date.parse(startedBefore)
  ) {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'startedAfter must not be later than startedBefore');
  }
}

/** The execute request a recorded launch repeats: every parameter it sent, nothing else. */
function requestOf(launch: ExecutionLaunch): ExecutePipelineRequest {
  const {
    pipelineName,
    environmentName,
    versionName,
    agentId,
    executionTag,
    scalarVariables,
    gridVariables,
  } = launch;
  return Object.fromEntries(
    Object.entries({
      pipelineName,
      environmentName,
      versionName,
      agentId,
      executionTag,
      scalarVariables,
      gridVariables,
    }).filter(([, value]) => value !== undefined),
  ) as unknown as ExecutePipelineRequest;
}

/** Variables arrive as objects on REST and as lists on GraphQL; both end here as Maia's objects. */
function checkVariables(request: ExecutePipelineRequest): void {
  const bad = (message: string) => new GatewayError(ErrorCode.BAD_USER_INPUT, message);
  const scalar = request.scalarVariables ?? {};
  const grid = request.gridVariables ?? {};
  if (typeof scalar !== 'object' || Array.isArray(scalar))
    throw bad('scalarVariables must be an object of strings');
  if (typeof grid !== 'object' || Array.isArray(grid))
    throw bad('gridVariables must be an object of string rows');
  if (Object.keys(scalar).length + Object.keys(grid).length > MAX_VARIABLES) {
    throw bad(`At most ${MAX_VARIABLES} variables`);
  }
  for (const [name, value] of Object.entries(scalar)) {
    if (!isSafeName(name)) throw bad('A scalar variable name is empty, too long or has control characters');
    if (typeof value !== 'string' || value.length > MAX_VARIABLE_VALUE_LENGTH) {
      throw bad(
        `scalarVariables.${name} must be a string of at most ${MAX_VARIABLE_VALUE_LENGTH} characters`,
      );
    }
  }
  for (const [name, rows] of Object.entries(grid)) {
    if (!isSafeName(name)) throw bad('A grid variable name is empty, too long or has control characters');
    const valid =
      Array.isArray(rows) &&
      rows.every(
        (row) =>
          Array.isArray(row) &&
          row.every((cell) => typeof cell === 'string' && cell.length <= MAX_VARIABLE_VALUE_LENGTH),
      );
    if (!valid) throw bad(`gridVariables.${name} must be a list of rows, each a list of strings`);
  }
}

/** GraphQL's name/value lists → Maia's objects; a name given twice is refused rather than silently merged. */
export function variablesFromLists(
  scalar: { name: string; value: string }[] | undefined,
  grid: { name: string; rows: string[][] }[] | undefined,
): Pick<ExecutePipelineRequest, 'scalarVariables' | 'gridVariables'> {
  const toRecord = <T>(
    items: { name: string }[],
    value: (item: never) => T,
    kind: string,
  ): Record<string, T> => {
    // A Map, then fromEntries: a variable named "__proto__" stays a plain own property.
    const out = new Map<string, T>();
    for (const item of items) {
      if (out.has(item.name)) {
        throw new GatewayError(
          ErrorCode.BAD_USER_INPUT,
          `The ${kind} variable "${item.name}" is given twice`,
        );
      }
      out.set(item.name, value(item as never));
    }
    return Object.fromEntries(out);
  };
  return {
    ...(scalar ? { scalarVariables: toRecord(scalar, (v: { value: string }) => v.value, 'scalar') } : {}),
    ...(grid ? { gridVariables: toRecord(grid, (v: { rows: string[][] }) => v.rows, 'grid') } : {}),
  };
}
