import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { APP_CONFIG, type AppConfig, type MaiaConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { sleep } from './maia-async';
import { ExecutionLedger, type ExecuteIntent } from './maia-execution-ledger';
import { badResponseError } from './maia-errors';
import { MaiaTransport, OutcomeUnknownError, type MaiaResponse } from './maia-transport';
import {
  parseEnvironment,
  parseExecutionDetails,
  parseExecutionIdAnswer,
  parseExecutionList,
  parseExecutionStatus,
  parsePage,
  parseProject,
  parsePublishedPipeline,
  parseStep,
  toWireExecuteBody,
  type ParsedExecution,
  type ParsedPage,
} from './maia-wire';
import {
  type CallOptions,
  type ExecutePipelineRequest,
  type ExecuteResult,
  type ExecutionListFilter,
  type ExecutionListPage,
  type MaiaApi,
  type MaiaEnvironment,
  type MaiaExecution,
  type MaiaExecutionStatus,
  type MaiaProject,
  type MaiaPublishedPipeline,
  type MaiaStep,
  type Page,
  type PageRequest,
} from './maia.types';
import { UUID_PATTERN } from '../common/validation/uuid';

const iteratorPageSize = 100;
const maxIteratedPages = 10_000;
const reconcileListingPages = 5;
/** Waits between reconciliation listings while the new run may not be visible yet. */
const reconcileDelaysMs = [0, 250, 750];

/**
 * `MaiaApi` over HTTP: validates input before any call, builds encoded paths, parses answers into domain
 * types, and makes sure an execute POST is never sent twice (an unknown outcome is reconciled).
 */
@Injectable()
export class MaiaClient implements MaiaApi {
  private readonly logger = new Logger(MaiaClient.name);
  private readonly config: MaiaConfig;
  /** Execute calls in flight and runs already handed out, fleet-wide with Redis (see reconcile). */
  private readonly ledger: ExecutionLedger;

  constructor(
    @Inject(APP_CONFIG) appConfig: AppConfig,
    private readonly transport: MaiaTransport,
    redis: RedisService,
  ) {
    this.config = appConfig.maia;
    const { reconcileWindowMs, reconcileClockSkewMs, deadlineMs } = this.config;
    this.ledger = new ExecutionLedger(redis, reconcileWindowMs + reconcileClockSkewMs + deadlineMs);
  }

  async listProjects(page?: PageRequest, options?: CallOptions): Promise<Page<MaiaProject>> {
    return publicPage(await this.fetchProjects(pageOf(page), options));
  }

  async listEnvironments(
    projectId: string,
    page?: PageRequest,
    options?: CallOptions,
  ): Promise<Page<MaiaEnvironment>> {
    requireUuid(projectId, 'projectId');
    return publicPage(await this.fetchEnvironments(projectId, pageOf(page), options));
  }

  async listPublishedPipelines(
    projectId: string,
    environmentName: string,
    page?: PageRequest,
    options?: CallOptions,
  ): Promise<Page<MaiaPublishedPipeline>> {
    requireUuid(projectId, 'projectId');
    requireText(environmentName, 'environmentName');
    return publicPage(await this.fetchPublishedPipelines(projectId, environmentName, pageOf(page), options));
  }

  async executePipeline(
    projectId: string,
    request: ExecutePipelineRequest,
    options?: CallOptions,
  ): Promise<ExecuteResult> {
    requireUuid(projectId, 'projectId');
    requireText(request.pipelineName, 'pipelineName');
    requireText(request.environmentName, 'environmentName');
    if (request.executionTag !== undefined) requireText(request.executionTag, 'executionTag');
    const intent = await this.ledger.begin({
      projectId,
      pipelineName: request.pipelineName,
      environmentName: request.environmentName,
    });
    let response: MaiaResponse;
    try {
      response = await this.transport.request({
        route: 'executePipeline',
        method: 'POST',
        path: `/v1/projects/${seg(projectId)}/pipeline-executions`,
        body: toWireExecuteBody(request),
        retry: 'never-after-send',
        executionTag: request.executionTag,
        options,
      });
    } catch (error) {
      if (error instanceof OutcomeUnknownError) return this.reconcile(intent, request, error.reason, options);
      // Maia answered with an error, or nothing was sent. A caller that gave up mid-flight leaves the
      // intent in place: its run may exist and must not be claimed by another call.
      if (!GatewayError.is(error) || error.details.aborted !== true) await this.ledger.abandon(intent);
      throw error;
    }
    const id = parseExecutionIdAnswer(response.body);
    // A 2xx means the run exists; only its id was lost in an unreadable answer.
    if (id === null) return this.reconcile(intent, request, 'unreadable-answer', options);
    await this.ledger.settle(intent, id);
    return { pipelineExecutionId: id, reconciled: false };
  }

  async getExecution(projectId: string, executionId: string, options?: CallOptions): Promise<MaiaExecution> {
    requireUuid(projectId, 'projectId');
    requireUuid(executionId, 'executionId');
    const response = await this.transport.request({
      route: 'getExecution',
      method: 'GET',
      path: executionPath(projectId, executionId),
      retry: 'idempotent',
      options,
    });
    return parseExecutionDetails(json(response), projectId);
  }

  async getExecutionStatus(
    projectId: string,
    executionId: string,
    options?: CallOptions,
  ): Promise<MaiaExecutionStatus> {
    requireUuid(projectId, 'projectId');
    requireUuid(executionId, 'executionId');
    let light: MaiaExecutionStatus | null = null;
    try {
      const response = await this.transport.request({
        route: 'getExecutionStatus',
        method: 'GET',
        path: `${executionPath(projectId, executionId)}/status`,
        retry: 'idempotent',
        options,
      });
      light = response.readable ? parseExecutionStatus(response.body) : null;
    } catch (error) {
      // The light route is undocumented: a 404 there may mean the route is missing, not the run.
      if (!GatewayError.is(error, ErrorCode.NOT_FOUND)) throw error;
    }
    if (light) return light;
    const details = await this.getExecution(projectId, executionId, options);
    return { status: details.status, rawStatus: details.rawStatus };
  }

  async listSteps(
    projectId: string,
    executionId: string,
    page?: PageRequest,
    options?: CallOptions,
  ): Promise<Page<MaiaStep>> {
    requireUuid(projectId, 'projectId');
    requireUuid(executionId, 'executionId');
    return publicPage(await this.fetchSteps(projectId, executionId, pageOf(page), options));
  }

  async cancelExecution(
    projectId: string,
    executionId: string,
    force: boolean,
    options?: CallOptions,
  ): Promise<{ pipelineExecutionId: string }> {
    requireUuid(projectId, 'projectId');
    requireUuid(executionId, 'executionId');
    const response = await this.transport.request({
      route: 'cancelExecution',
      method: 'PATCH',
      path: executionPath(projectId, executionId),
      body: { status: 'CANCELLED', forceUpdate: force === true },
      retry: 'once',
      options,
    });
    return { pipelineExecutionId: parseExecutionIdAnswer(response.body) ?? executionId };
  }

  async listExecutions(filter: ExecutionListFilter, options?: CallOptions): Promise<ExecutionListPage> {
    const { results, more } = await this.fetchExecutions(filter, options);
    return { results, more };
  }

  async *allProjects(options?: CallOptions): AsyncIterable<MaiaProject> {
    yield* walkPages((page) => this.fetchProjects(page, options));
  }

  async *allEnvironments(projectId: string, options?: CallOptions): AsyncIterable<MaiaEnvironment> {
    requireUuid(projectId, 'projectId');
    yield* walkPages((page) => this.fetchEnvironments(projectId, page, options));
  }

  async *allPublishedPipelines(
    projectId: string,
    environmentName: string,
    options?: CallOptions,
  ): AsyncIterable<MaiaPublishedPipeline> {
    requireUuid(projectId, 'projectId');
    requireText(environmentName, 'environmentName');
    yield* walkPages((page) => this.fetchPublishedPipelines(projectId, environmentName, page, options));
  }

  async *allSteps(projectId: string, executionId: string, options?: CallOptions): AsyncIterable<MaiaStep> {
    requireUuid(projectId, 'projectId');
    requireUuid(executionId, 'executionId');
    yield* walkPages((page) => this.fetchSteps(projectId, executionId, page, options));
  }

  async *allExecutions(filter: ExecutionListFilter, options?: CallOptions): AsyncIterable<MaiaExecution> {
    let paginationToken = filter.paginationToken;
    for (let pages = 0; pages < maxIteratedPages; pages++) {
      const page = await this.fetchExecutions({ ...filter, paginationToken }, options);
      yield* page.results;
      if (page.more === null || page.results.length === 0) return;
      paginationToken = page.more;
    }
  }

  // --- fetchers (parsed pages with totalKnown, for the iterators) ----------------------------------------

  private async fetchProjects(page: RequestedPage, options?: CallOptions): Promise<ParsedPage<MaiaProject>> {
    const response = await this.transport.request({
      route: 'listProjects',
      method: 'GET',
      path: '/v1/projects',
      query: { ...page },
      retry: 'idempotent',
      options,
    });
    return parsePage(json(response), page, parseProject, 'project list');
  }

  private async fetchEnvironments(
    projectId: string,
    page: RequestedPage,
    options?: CallOptions,
  ): Promise<ParsedPage<MaiaEnvironment>> {
    const response = await this.transport.request({
      route: 'listEnvironments',
      method: 'GET',
      path: `/v1/projects/${seg(projectId)}/environments`,
      query: { ...page },
      retry: 'idempotent',
      options,
    });
    return parsePage(json(response), page, parseEnvironment, 'environment list');
  }

  private async fetchPublishedPipelines(
    projectId: string,
    environmentName: string,
    page: RequestedPage,
    options?: CallOptions,
  ): Promise<ParsedPage<MaiaPublishedPipeline>> {
    const response = await this.transport.request({
      route: 'listPublishedPipelines',
      method: 'GET',
      path: `/v1/projects/${seg(projectId)}/published-pipelines`,
      query: { environmentName, ...page },
      retry: 'idempotent',
      options,
    });
    return parsePage(json(response), page, parsePublishedPipeline, 'published pipeline list');
  }

  private async fetchSteps(
    projectId: string,
    executionId: string,
    page: RequestedPage,
    options?: CallOptions,
  ): Promise<ParsedPage<MaiaStep>> {
    const response = await this.transport.request({
      route: 'listSteps',
      method: 'GET',
      path: `${executionPath(projectId, executionId)}/steps`,
      query: { ...page },
      retry: 'idempotent',
      options,
    });
    return parsePage(json(response), page, parseStep, 'step list');
  }

  private async fetchExecutions(
    filter: ExecutionListFilter,
    options?: CallOptions,
    deadlineMs?: number,
  ): Promise<ExecutionListPage & { parsed: ParsedExecution[] }> {
    if (filter.projectId !== undefined) requireUuid(filter.projectId, 'projectId');
    for (const field of ['startedAfter', 'startedBefore'] as const) {
      const value = filter[field];
      if (value !== undefined && Number.isNaN(Date.parse(value))) {
        throw new GatewayError(ErrorCode.BAD_USER_INPUT, `${field} must be an ISO-8601 timestamp`, { field });
      }
    }
    const response = await this.transport.request({
      route: 'listExecutions',
      method: 'GET',
      path: '/v1/pipeline-executions',
      query: {
        projectId: filter.projectId,
        pipelineName: filter.pipelineName,
        environmentName: filter.environmentName,
        status: filter.status,
        scheduleId: filter.scheduleId,
        startedAfter: filter.startedAfter,
        startedBefore: filter.startedBefore,
        limit: filter.limit === undefined ? undefined : clampInt(filter.limit, 1, 100, 'limit'),
        paginationToken: filter.paginationToken,
      },
      retry: 'idempotent',
      options,
      deadlineMs,
    });
    return parseExecutionList(json(response));
  }

  // --- execute reconciliation --------------------------------------------------------------------------

  /**
   * The POST may have created a run whose id never reached us. Looks for it among the runs of that
   * project, pipeline and environment, and returns it only when it can only be ours:
   * - started (Maia's clock) no earlier than `reconcileClockSkewMs` before the call;
   * - exactly the requested pipeline and environment (the upstream filter is a partial match), triggered
   *   by the API (or with no trigger given);
   * - not a run any call already got (the ledger: this process, and every replica with Redis);
   * - exactly one such run, and no other execute call of that scope in flight or unresolved (with Redis,
   *   on any replica): otherwise nobody can tell whose run is whose;
   * - when the request had an `executionTag` and the listing echoes tags, a unique tag match decides.
   * Anything ambiguous is UPSTREAM_OUTCOME_UNKNOWN, never a guess; so is finding nothing after a few
   * listings (a new run may take a moment to be listed). The POST itself is never repeated.
   * Known limit: a run started within the skew by a client the gateway cannot see (a script using the
   * same credential, a replica without Redis) is indistinguishable from ours.
   */
  private async reconcile(
    intent: ExecuteIntent,
    request: ExecutePipelineRequest,
    reason: string,
    options?: CallOptions,
  ): Promise<ExecuteResult> {
    this.logger.warn(`executePipeline: outcome unknown (${reason}); looking for the run it may have created`);
    const { projectId } = intent.scope;
    const giveUpAtMs = Date.now() + this.config.deadlineMs;
    const startedAfter = new Date(intent.atMs - this.config.reconcileWindowMs).toISOString();
    const overlapSinceMs = intent.atMs - this.config.reconcileClockSkewMs - this.config.deadlineMs;
    for (const delayMs of reconcileDelaysMs) {
      if (delayMs > 0) {
        if (Date.now() + delayMs >= giveUpAtMs) break;
        await sleep(delayMs, options?.signal);
      }
      let listed: ParsedExecution[];
      try {
        listed = await this.listForReconcile(projectId, request, startedAfter, giveUpAtMs, options);
      } catch (error) {
        this.logger.warn(
          `executePipeline: reconciliation listing failed (${error instanceof GatewayError ? error.code : 'error'})`,
        );
        break;
      }
      const eligible = this.eligible(listed, projectId, request, intent.atMs);
      const known = await this.ledger.known(eligible.map((run) => run.pipelineExecutionId));
      const unclaimed = eligible.filter((run) => !known.has(run.pipelineExecutionId));
      const tagged =
        request.executionTag === undefined
          ? []
          : unclaimed.filter((run) => run.executionTag === request.executionTag);
      const others = unclaimed.length > 0 ? await this.ledger.othersOverlapping(intent, overlapSinceMs) : 0;
      const found =
        tagged.length === 1 ? tagged[0] : unclaimed.length === 1 && others === 0 ? unclaimed[0] : null;
      if (found) {
        await this.ledger.settle(intent, found.pipelineExecutionId);
        this.logger.log(
          `executePipeline: reconciled the run ${found.pipelineExecutionId} of an unanswered POST`,
        );
        return { pipelineExecutionId: found.pipelineExecutionId, reconciled: true };
      }
      if (unclaimed.length > 0) {
        this.logger.warn(
          `executePipeline: ${unclaimed.length} run(s) and ${others} other call(s) could match; not guessing`,
        );
        throw outcomeUnknown({ candidates: unclaimed.length });
      }
    }
    throw outcomeUnknown({ candidates: 0 });
  }

  private async listForReconcile(
    projectId: string,
    request: ExecutePipelineRequest,
    startedAfter: string,
    giveUpAtMs: number,
    options?: CallOptions,
  ): Promise<ParsedExecution[]> {
    const listed: ParsedExecution[] = [];
    let paginationToken: string | undefined;
    for (let pages = 0; pages < reconcileListingPages; pages++) {
      const page = await this.fetchExecutions(
        {
          projectId,
          pipelineName: request.pipelineName,
          environmentName: request.environmentName,
          startedAfter,
          limit: 100,
          paginationToken,
        },
        options,
        Math.max(1, giveUpAtMs - Date.now()),
      );
      listed.push(...page.parsed);
      if (page.more === null || page.results.length === 0) break;
      paginationToken = page.more;
    }
    return listed;
  }

  /** Runs that could be the one created: scope, trigger, start time and (when echoed) tag. Unique ids. */
  private eligible(
    listed: ParsedExecution[],
    projectId: string,
    request: ExecutePipelineRequest,
    calledAtMs: number,
  ): ParsedExecution[] {
    const earliestMs = calledAtMs - this.config.reconcileClockSkewMs;
    const runs = listed.filter((run) => {
      const startedMs = run.startedAt === null ? Number.NaN : Date.parse(run.startedAt);
      return (
        run.projectId === projectId &&
        run.pipelineName === request.pipelineName &&
        run.environmentName === request.environmentName &&
        (run.trigger === null || run.trigger === 'API' || run.trigger === 'UNKNOWN') &&
        startedMs >= earliestMs &&
        (request.executionTag === undefined ||
          run.executionTag === null ||
          run.executionTag === request.executionTag)
      );
    });
    return [...new Map(runs.map((run) => [run.pipelineExecutionId, run])).values()];
  }
}

// --- helpers ---------------------------------------------------------------------------------------------

type RequestedPage = { page: number; size: number };

function outcomeUnknown(details: { candidates: number }): GatewayError {
  return new GatewayError(
    ErrorCode.UPSTREAM_OUTCOME_UNKNOWN,
    'Maia may or may not have started the pipeline; check its executions before trying again',
    details,
  );
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

function executionPath(projectId: string, executionId: string): string {
  return `/v1/projects/${seg(projectId)}/pipeline-executions/${seg(executionId)}`;
}

function requireUuid(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || !UUID_PATTERN.test(value)) {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, `${field} must be a UUID`, { field });
  }
}

function requireText(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 1024) {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, `${field} must be a non-empty string`, { field });
  }
}

function clampInt(value: number, min: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < min) {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, `${field} must be an integer of at least ${min}`, {
      field,
    });
  }
  return Math.min(value, max); // Maia clamps larger sizes too
}

function pageOf(request?: PageRequest): RequestedPage {
  const page = request?.page ?? 0;
  if (!Number.isInteger(page) || page < 0) {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'page must be an integer of at least 0', {
      field: 'page',
    });
  }
  return { page, size: clampInt(request?.size ?? 25, 1, 100, 'size') };
}

function json(response: MaiaResponse): unknown {
  if (!response.readable) throw badResponseError();
  return response.body;
}

function publicPage<T>(page: ParsedPage<T>): Page<T> {
  return { page: page.page, size: page.size, total: page.total, results: page.results };
}

/**
 * Walks page-based lists. Stops on an empty page, or when `(page+1)*size >= total` for a trusted total;
 * with the docs' `total: 0` slip, on the first short page instead.
 */
async function* walkPages<T>(fetch: (page: RequestedPage) => Promise<ParsedPage<T>>): AsyncGenerator<T> {
  for (let index = 0; index < maxIteratedPages; index++) {
    const page = await fetch({ page: index, size: iteratorPageSize });
    yield* page.results;
    if (page.results.length === 0) return;
    if (page.totalKnown ? (page.page + 1) * page.size >= page.total : page.results.length < page.size) return;
  }
}
