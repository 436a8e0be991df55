import { Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { UUID_PATTERN } from '../common/validation/uuid';
import { fingerprintOf } from '../idempotency/fingerprint.util';
import { badResponseError } from './maia-errors';
import { ExecuteReconciler } from './maia-execute.reconciler';
import { MaiaTransport, type MaiaResponse } from './maia.transport';
import {
  parseAgent,
  parseArtifact,
  parseArtifactDetails,
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
  type ParsedExecutionListPage,
  type ParsedPage,
} from './maia-wire';
import {
  type CallOptions,
  type ExecuteAttempt,
  type ExecutePipelineRequest,
  type ExecuteRecordWith,
  type ExecuteResult,
  type ExecutionListFilter,
  type ExecutionListPage,
  type MaiaAgent,
  type MaiaApi,
  type MaiaArtifact,
  type MaiaArtifactDetails,
  type MaiaEnvironment,
  type MaiaExecution,
  type MaiaExecutionStatus,
  type MaiaProject,
  type MaiaPublishedPipeline,
  type MaiaStep,
  type Page,
  type PageRequest,
} from './maia.types';

const iteratorPageSize = 100;
const maxIteratedPages = 10_000;

/**
 * The typed face of Maia's operations: validates input before any call, builds encoded paths, names the
 * route, parses answers into domain types. Sending is the transport's job; an execute whose answer was
 * lost is the reconciler's.
 */
@Injectable()
export class MaiaClient implements MaiaApi {
  constructor(
    private readonly transport: MaiaTransport,
    private readonly reconciler: ExecuteReconciler,
  ) {}

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
    environmentName: string | undefined,
    page?: PageRequest,
    options?: CallOptions,
  ): Promise<Page<MaiaPublishedPipeline>> {
    requireUuid(projectId, 'projectId');
    if (environmentName !== undefined) requireText(environmentName, 'environmentName');
    return publicPage(await this.fetchPublishedPipelines(projectId, environmentName, pageOf(page), options));
  }

  async executePipeline(
    projectId: string,
    request: ExecutePipelineRequest,
    options?: CallOptions,
    attempt?: ExecuteAttempt,
    recordWith?: ExecuteRecordWith,
  ): Promise<ExecuteResult> {
    requireUuid(projectId, 'projectId');
    requireText(request.pipelineName, 'pipelineName');
    requireText(request.environmentName, 'environmentName');
    if (request.executionTag !== undefined) requireText(request.executionTag, 'executionTag');
    const { pipelineName, environmentName, executionTag } = request;
    const body = toWireExecuteBody(request);
    return this.reconciler.execute({
      scope: { projectId, pipelineName, environmentName },
      fingerprint: fingerprintOf(body),
      executionTag,
      attempt,
      send: () =>
        this.transport.request({
          route: 'executePipeline',
          method: 'POST',
          path: `/v1/projects/${segment(projectId)}/pipeline-executions`,
          body,
          retry: 'never-after-send',
          executionTag,
          options,
        }),
      // A reconciliation listing is how an unanswered POST learns what it created: it passes an open
      // breaker (which a burst of such POSTs opens), bounded by the reconciler's own schedule.
      list: (filter, deadlineMs) => this.fetchExecutions(filter, options, deadlineMs, true),
      signal: options?.signal,
      recordWith,
    });
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
    const execution = parseExecutionDetails(json(response), projectId);
    requireSameId(execution.projectId, projectId, 'project');
    requireSameId(execution.pipelineExecutionId, executionId, 'execution');
    return execution;
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
    const answered = parseExecutionIdAnswer(response.body) ?? executionId;
    requireSameId(answered, executionId, 'execution');
    return { pipelineExecutionId: answered };
  }

  async listExecutions(filter: ExecutionListFilter, options?: CallOptions): Promise<ExecutionListPage> {
    const { results, more } = await this.fetchExecutions(filter, options);
    return { results, more };
  }

  async listArtifacts(
    projectId: string,
    environmentName: string | undefined,
    page?: PageRequest,
    options?: CallOptions,
  ): Promise<Page<MaiaArtifact>> {
    requireUuid(projectId, 'projectId');
    if (environmentName !== undefined) requireText(environmentName, 'environmentName');
    return publicPage(await this.fetchArtifacts(projectId, environmentName, pageOf(page), options));
  }

  async getArtifactDetails(
    projectId: string,
    environmentName: string,
    versionName: string,
    options?: CallOptions,
  ): Promise<MaiaArtifactDetails> {
    requireUuid(projectId, 'projectId');
    requireText(environmentName, 'environmentName');
    requireText(versionName, 'versionName');
    const response = await this.transport.request({
      route: 'getArtifactDetails',
      method: 'GET',
      path: `/v1/projects/${segment(projectId)}/artifacts/details`,
      query: { environmentName, versionName },
      retry: 'idempotent',
      options,
    });
    return parseArtifactDetails(json(response));
  }

  async listAgents(page?: PageRequest, options?: CallOptions): Promise<Page<MaiaAgent>> {
    return publicPage(await this.fetchAgents(pageOf(page), options));
  }

  async *allArtifacts(
    projectId: string,
    environmentName: string | undefined,
    options?: CallOptions,
  ): AsyncIterable<MaiaArtifact> {
    requireUuid(projectId, 'projectId');
    if (environmentName !== undefined) requireText(environmentName, 'environmentName');
    yield* walkPages((page) => this.fetchArtifacts(projectId, environmentName, page, options));
  }

  async *allAgents(options?: CallOptions): AsyncIterable<MaiaAgent> {
    yield* walkPages((page) => this.fetchAgents(page, options));
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
    environmentName: string | undefined,
    options?: CallOptions,
  ): AsyncIterable<MaiaPublishedPipeline> {
    requireUuid(projectId, 'projectId');
    if (environmentName !== undefined) requireText(environmentName, 'environmentName');
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
      path: `/v1/projects/${segment(projectId)}/environments`,
      query: { ...page },
      retry: 'idempotent',
      options,
    });
    return parsePage(json(response), page, parseEnvironment, 'environment list');
  }

  private async fetchPublishedPipelines(
    projectId: string,
    environmentName: string | undefined,
    page: RequestedPage,
    options?: CallOptions,
  ): Promise<ParsedPage<MaiaPublishedPipeline>> {
    const response = await this.transport.request({
      route: 'listPublishedPipelines',
      method: 'GET',
      path: `/v1/projects/${segment(projectId)}/published-pipelines`,
      query: { environmentName, ...page },
      retry: 'idempotent',
      options,
    });
    return parsePage(json(response), page, parsePublishedPipeline, 'published pipeline list');
  }

  private async fetchArtifacts(
    projectId: string,
    environmentName: string | undefined,
    page: RequestedPage,
    options?: CallOptions,
  ): Promise<ParsedPage<MaiaArtifact>> {
    const response = await this.transport.request({
      route: 'listArtifacts',
      method: 'GET',
      path: `/v1/projects/${segment(projectId)}/artifacts`,
      query: { environmentName, ...page },
      retry: 'idempotent',
      options,
    });
    return parsePage(json(response), page, parseArtifact, 'artifact list');
  }

  private async fetchAgents(page: RequestedPage, options?: CallOptions): Promise<ParsedPage<MaiaAgent>> {
    const response = await this.transport.request({
      route: 'listAgents',
      method: 'GET',
      path: '/v1/agents',
      query: { ...page },
      retry: 'idempotent',
      options,
    });
    return parsePage(json(response), page, parseAgent, 'agent list');
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
    passOpenBreaker = false,
  ): Promise<ParsedExecutionListPage> {
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
        timeFrame: filter.timeFrame,
      },
      retry: 'idempotent',
      options,
      deadlineMs,
      ...(passOpenBreaker ? { passOpenBreaker } : {}),
    });
    const page = parseExecutionList(json(response));
    if (filter.projectId !== undefined) {
      for (const execution of page.results) requireSameId(execution.projectId, filter.projectId, 'project');
    }
    return page;
  }
}

// --- helpers ---------------------------------------------------------------------------------------------

type RequestedPage = { page: number; size: number };

/** One path segment, encoded. */
function segment(value: string): string {
  return encodeURIComponent(value);
}

function executionPath(projectId: string, executionId: string): string {
  return `/v1/projects/${segment(projectId)}/pipeline-executions/${segment(executionId)}`;
}

function requireUuid(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || !UUID_PATTERN.test(value)) {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, `${field} must be a UUID`, { field });
  }
}

/**
 * Defence in depth: an answer about another project or execution than the one asked for is refused, never
 * shown (UUIDs compare in any case). The message names neither id: the other one may belong to a project
 * the caller must not learn of.
 */
function requireSameId(answered: string, asked: string, what: 'project' | 'execution'): void {
  if (answered.toLowerCase() !== asked.toLowerCase()) {
    throw badResponseError(`Maia answered about another ${what} than the one asked for`);
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
