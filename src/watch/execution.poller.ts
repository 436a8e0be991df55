import { ErrorCode, GatewayError } from '../common/errors';
import { isTerminalStatus, type MaiaApi, type MaiaExecution } from '../maia/maia.types';
import { type WatchConfig } from '../config';
import { sameAsListed, type LaunchedRunsBoard } from './launched-runs.board';
import { pollIntervalMs } from './poll-interval';
import { LeaseLostError, type LeaderContext, type TopicPoller } from './poll.loop';
import { type ExecutionEventKind } from './watch.types';

/**
 * The leader's polling of one execution: the light status call, and the details when the status changed,
 * when the light call failed, and every `detailsEveryPolls` polls (a message can change while the status
 * does not). One upstream call per round, two on a status change.
 */
export class ExecutionPoller implements TopicPoller {
  private last: MaiaExecution | null = null;
  /** When the current fast period began (launch, status change, cancel). */
  private referenceMs = Date.now();
  private consecutiveErrors = 0;
  private rounds = 0;

  constructor(
    private readonly projectId: string,
    private readonly executionId: string,
    private readonly context: LeaderContext,
    private readonly maia: MaiaApi,
    private readonly config: WatchConfig,
    /** Runs started here are observed through their project's listing while in their grace. */
    private readonly board?: LaunchedRunsBoard,
  ) {}

  async start(): Promise<void> {
    // Pick up where the previous leader stopped, so nothing is announced twice.
    const latest = await this.context.latest();
    if (!latest) return;
    this.last = latest.execution;
    this.referenceMs = Math.max(
      Date.parse(latest.execution.startedAt ?? '') || 0,
      Date.parse(latest.at) || 0,
    );
  }

  async poll(signal: AbortSignal): Promise<number | null> {
    if (this.last && isTerminalStatus(this.last.status)) return null;
    try {
      const details = await this.fetch(signal);
      this.consecutiveErrors = 0;
      if (details) await this.observe(details);
    } catch (error) {
      if (error instanceof LeaseLostError || signal.aborted) throw error;
      if (GatewayError.is(error, ErrorCode.NOT_FOUND)) {
        await this.context.fail(
          new GatewayError(ErrorCode.NOT_FOUND, 'Pipeline execution not found', {
            projectId: this.projectId,
            executionId: this.executionId,
          }),
        );
        return null;
      }
      // Subscribers stay connected; polling backs off until Maia answers again.
      this.consecutiveErrors += 1;
    }
    if (this.last && isTerminalStatus(this.last.status)) return null;
    return this.intervalMs();
  }

  nudge(): number {
    this.referenceMs = Date.now();
    this.consecutiveErrors = 0;
    return this.config.minIntervalMs;
  }

  /** The details when they are needed this round; null when the light call says nothing changed. */
  private async fetch(signal: AbortSignal): Promise<MaiaExecution | null> {
    const { projectId, executionId } = this;
    this.rounds += 1;
    if (!this.last) return this.maia.getExecution(projectId, executionId, { signal });
    const launchedAt = this.context.launchedAt;
    if (this.board && launchedAt !== null) {
      const seen = await this.board.observe(projectId, executionId, launchedAt);
      if (signal.aborted) throw new Error('poll aborted');
      // The listing carries status, message and finish: no call while they are as last seen, and the
      // details (what events carry) only for a change, or for a run that stopped going.
      if (seen.kind === 'listed' && sameAsListed(this.last, seen.run)) return null;
      if (seen.kind !== 'unknown') return this.maia.getExecution(projectId, executionId, { signal });
    }
    if (this.rounds % this.config.detailsEveryPolls === 0) {
      return this.maia.getExecution(projectId, executionId, { signal });
    }
    let status: string | null = null;
    try {
      status = (await this.maia.getExecutionStatus(projectId, executionId, { signal })).status;
    } catch (error) {
      if (GatewayError.is(error, ErrorCode.NOT_FOUND) || signal.aborted) throw error;
      // The light call failed: the details call decides.
    }
    if (status !== null && status === this.last.status) return null;
    return this.maia.getExecution(projectId, executionId, { signal });
  }

  private async observe(next: MaiaExecution): Promise<void> {
    const previous = this.last;
    if (
      previous &&
      previous.status === next.status &&
      previous.message === next.message &&
      previous.finishedAt === next.finishedAt
    ) {
      this.last = next;
      return;
    }
    const terminal = isTerminalStatus(next.status);
    let kind: ExecutionEventKind;
    if (previous) kind = terminal ? 'FINISHED' : 'CHANGED';
    else if (terminal) kind = 'FINISHED';
    else kind = this.context.launchedHere ? 'STARTED' : 'SNAPSHOT';
    const stored = await this.context.record({ at: new Date().toISOString(), kind, execution: next });
    if (!stored) throw new LeaseLostError();
    this.last = next;
    if (!previous) this.referenceMs = Date.parse(next.startedAt ?? '') || Date.now();
    else if (previous.status !== next.status) this.referenceMs = Date.now();
  }

  private intervalMs(): number {
    return pollIntervalMs({
      sinceMs: Date.now() - this.referenceMs,
      minIntervalMs: this.config.minIntervalMs,
      maxIntervalMs: this.config.maxIntervalMs,
      consecutiveErrors: this.consecutiveErrors,
    });
  }
}
