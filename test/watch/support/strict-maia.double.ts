import { ErrorCode, GatewayError } from '../../../src/common/errors';
import {
  type ExecutionListFilter,
  type ExecutionListPage,
  type MaiaApi,
  type MaiaExecution,
  type MaiaExecutionStatus,
} from '../../../src/maia/maia.types';

type Method = keyof MaiaApi;

/**
 * A strict `MaiaApi` double for the watcher's unit specs: it knows a few executions whose state the test
 * changes, counts every call, can fail the next calls of a method, and throws (failing the test through
 * `unexpected`) on any method the watcher has no business calling.
 */
export class StrictMaiaDouble implements MaiaApi {
  readonly runs = new Map<string, MaiaExecution>();
  readonly calls: { method: Method; at: number; args: unknown[] }[] = [];
  readonly unexpected: string[] = [];
  private readonly failures = new Map<Method, GatewayError[]>();
  /** Upstream latency of every call, in ms. */
  latencyMs = 0;

  addRun(projectId: string, executionId: string, patch: Partial<MaiaExecution> = {}): MaiaExecution {
    const run: MaiaExecution = {
      pipelineExecutionId: executionId,
      projectId,
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      pipelineType: 'ORCHESTRATION',
      environmentName: 'Dev',
      status: 'RUNNING',
      rawStatus: 'RUNNING',
      startedAt: new Date().toISOString(),
      finishedAt: null,
      message: null,
      trigger: 'API',
      scheduleId: null,
      user: null,
      ...patch,
    };
    this.runs.set(executionId, run);
    return run;
  }

  /** Changes a run as Maia would (status, message, finishedAt). */
  update(executionId: string, patch: Partial<MaiaExecution>): void {
    const run = this.runs.get(executionId);
    if (!run) throw new Error(`no run ${executionId}`);
    const next = { ...run, ...patch };
    if (patch.status) next.rawStatus = patch.status;
    this.runs.set(executionId, next);
  }

  failNext(method: Method, error: GatewayError, times = 1): void {
    const list = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i += 1) list.push(error);
    this.failures.set(method, list);
  }

  count(...methods: Method[]): number {
    return this.calls.filter((c) => methods.includes(c.method)).length;
  }

  async getExecution(projectId: string, executionId: string): Promise<MaiaExecution> {
    await this.enter('getExecution', [projectId, executionId]);
    return { ...this.find(projectId, executionId) };
  }

  async getExecutionStatus(projectId: string, executionId: string): Promise<MaiaExecutionStatus> {
    await this.enter('getExecutionStatus', [projectId, executionId]);
    const run = this.find(projectId, executionId);
    return { status: run.status, rawStatus: run.rawStatus };
  }

  async listExecutions(filter: ExecutionListFilter): Promise<ExecutionListPage> {
    await this.enter('listExecutions', [filter]);
    const after = filter.startedAfter ? Date.parse(filter.startedAfter) : 0;
    // Token paging as Maia does it, newest first; the token here is the offset of the next page.
    const offset = filter.paginationToken ? Number(filter.paginationToken) : 0;
    const limit = filter.limit ?? 25;
    const all = [...this.runs.values()]
      .filter((r) => r.projectId === filter.projectId && Date.parse(r.startedAt ?? '') >= after)
      .filter((r) => !filter.status?.length || filter.status.includes(r.status))
      .sort((a, b) => Date.parse(b.startedAt ?? '') - Date.parse(a.startedAt ?? ''));
    const results = all.slice(offset, offset + limit).map((r) => ({ ...r }));
    return { results, more: offset + limit < all.length ? String(offset + limit) : null };
  }

  listProjects = this.refuse('listProjects');
  listEnvironments = this.refuse('listEnvironments');
  listPublishedPipelines = this.refuse('listPublishedPipelines');
  executePipeline = this.refuse('executePipeline');
  listSteps = this.refuse('listSteps');
  cancelExecution = this.refuse('cancelExecution');
  allProjects = this.refuse('allProjects');
  allEnvironments = this.refuse('allEnvironments');
  allPublishedPipelines = this.refuse('allPublishedPipelines');
  allSteps = this.refuse('allSteps');
  allExecutions = this.refuse('allExecutions');
  listArtifacts = this.refuse('listArtifacts');
  getArtifactDetails = this.refuse('getArtifactDetails');
  listAgents = this.refuse('listAgents');
  allArtifacts = this.refuse('allArtifacts');
  allAgents = this.refuse('allAgents');

  private find(projectId: string, executionId: string): MaiaExecution {
    const run = this.runs.get(executionId);
    if (!run || run.projectId !== projectId) {
      throw new GatewayError(ErrorCode.NOT_FOUND, 'Pipeline execution not found');
    }
    return run;
  }

  private async enter(method: Method, args: unknown[]): Promise<void> {
    this.calls.push({ method, at: Date.now(), args });
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    const failure = this.failures.get(method)?.shift();
    if (failure) throw failure;
  }

  private refuse(method: Method): never {
    // Returned as a property so any call records the violation and throws.
    return ((...args: unknown[]) => {
      this.unexpected.push(`${method}(${JSON.stringify(args)})`);
      throw new Error(`StrictMaiaDouble: unexpected call ${method}`);
    }) as never;
  }
}
