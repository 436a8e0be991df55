import { ErrorCode, GatewayError } from '../common/errors';
import { isTerminalStatus, type MaiaApi, type MaiaExecution } from '../maia/maia.types';
import { type WatchConfig } from '../config';
import { pollIntervalMs } from './poll-interval';
import { LeaseLostError, type LeaderContext, type TopicPoller } from './poll.loop';
import { type ExecutionEventKind } from './watch.types';

/** What the feed remembers of each execution, to tell what changed. */
type Brief = [status: string, message: string | null, finishedAt: string | null];

function brief(execution: MaiaExecution): Brief {
  return [execution.status, execution.message, execution.finishedAt];
}

/** The leader's list poll of one project, shared by every `pipelineExecutionEvents` subscriber. */
export class ProjectFeedPoller implements TopicPoller {
  /** null until the first list: the first list is the baseline and announces nothing. */
  private known: Map<string, Brief> | null = null;
  private referenceMs = Date.now();
  private consecutiveErrors = 0;

  constructor(
    private readonly projectId: string,
    private readonly context: LeaderContext,
    private readonly maia: MaiaApi,
    private readonly config: WatchConfig,
  ) {}

  async start(): Promise<void> {
    const raw = await this.context.getState('snapshot');
    if (raw) this.known = new Map(JSON.parse(raw) as [string, Brief][]);
  }

  async poll(signal: AbortSignal): Promise<number | null> {
    try {
      const startedAfter = new Date(Date.now() - this.config.feedWindowSeconds * 1000).toISOString();
      const page = await this.maia.listExecutions(
        { projectId: this.projectId, startedAfter, limit: 100 },
        { signal },
      );
      this.consecutiveErrors = 0;
      await this.observe(page.results);
    } catch (error) {
      if (error instanceof LeaseLostError || signal.aborted) throw error;
      if (GatewayError.is(error, ErrorCode.NOT_FOUND)) {
        await this.context.fail(
          new GatewayError(ErrorCode.NOT_FOUND, 'Project not found', { projectId: this.projectId }),
        );
        return null;
      }
      this.consecutiveErrors += 1;
    }
    return pollIntervalMs({
      sinceMs: Date.now() - this.referenceMs,
      minIntervalMs: this.config.minIntervalMs,
      maxIntervalMs: this.config.maxIntervalMs,
      consecutiveErrors: this.consecutiveErrors,
    });
  }

  nudge(): number {
    this.referenceMs = Date.now();
    this.consecutiveErrors = 0;
    return this.config.minIntervalMs;
  }

  private async observe(results: MaiaExecution[]): Promise<void> {
    const next = new Map(results.map((e) => [e.pipelineExecutionId, brief(e)] as const));
    const known = this.known;
    if (known) {
      // Maia lists newest first; announce oldest first.
      for (const execution of [...results].reverse()) {
        const before = known.get(execution.pipelineExecutionId);
        const now = brief(execution);
        if (before && before.every((v, i) => v === now[i])) continue;
        const terminal = isTerminalStatus(execution.status);
        let kind: ExecutionEventKind;
        if (!before) kind = terminal ? 'FINISHED' : 'STARTED';
        else kind = terminal && before[0] !== execution.status ? 'FINISHED' : 'CHANGED';
        const stored = await this.context.record({ at: new Date().toISOString(), kind, execution });
        if (!stored) throw new LeaseLostError();
        if (!before || before[0] !== execution.status) this.referenceMs = Date.now();
      }
    }
    this.known = next;
    if (!(await this.context.setState('snapshot', JSON.stringify([...next])))) throw new LeaseLostError();
  }
}
