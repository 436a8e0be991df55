import { Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { isTerminalStatus, type ExecutionStatus, type MaiaApi, type MaiaExecution } from '../maia/maia.types';
import { type WatchConfig } from '../config';
import { pollIntervalMs } from './poll-interval';
import { LeaseLostError, type LeaderContext, type TopicPoller } from './poll.loop';
import { type ExecutionEventKind } from './watch.types';

/** What the feed remembers of each execution, to tell what changed and how far down to page. */
type Brief = [
  status: ExecutionStatus,
  message: string | null,
  finishedAt: string | null,
  startedAt: string | null,
];

/** What the leader leaves in the store for its successor. */
interface FeedSnapshot {
  /** Gateway clock (ms) when the list this snapshot holds was requested: its state is newer than that. */
  listedAt: number;
  runs: [string, Brief][];
}

/** Maia's largest page. */
const PAGE_SIZE = 100;
/** A bound on one round's upstream calls (10 000 runs); past it, the rest waits for the next round. */
const MAX_PAGES_PER_ROUND = 100;
/**
 * The state name of the snapshot. Not `snapshot` (the form before token paging, a bare list without the
 * time it was taken): a replica of the previous release reading this one, or the reverse, would misread it.
 */
const SNAPSHOT_STATE = 'feed-snapshot';

function brief(execution: MaiaExecution): Brief {
  return [execution.status, execution.message, execution.finishedAt, execution.startedAt];
}

function sameBrief(a: Brief, b: Brief): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

function timeOf(iso: string | null): number {
  const ms = Date.parse(iso ?? '');
  return Number.isNaN(ms) ? Number.NaN : ms;
}

/**
 * The run as it was when it started, for a run first seen finished (it started and ended between two
 * polls): subscribers still get STARTED before FINISHED. What Maia sent (`asSent`) describes the finished
 * run, so it is left out.
 */
function asStarted(execution: MaiaExecution): MaiaExecution {
  const { asSent: _finishedForm, ...rest } = execution;
  return { ...rest, status: 'RUNNING', rawStatus: 'RUNNING', finishedAt: null, message: null };
}

/**
 * The leader's list poll of one project, shared by every `pipelineExecutionEvents` subscriber.
 *
 * Each round pages through Maia's list (newest first, token paging) until it has passed both every run it
 * has not seen yet and every run it knows as not finished, so nothing hides beyond the first 100. A new
 * run yields STARTED, and FINISHED too when it is already terminal (it started and ended between two
 * polls). Events are appended for the whole fleet; each subscriber keeps those that happened after it
 * subscribed (`FeedSubscriber`), so an old event is never delivered as new.
 *
 * A snapshot older than a leader handover can take (nobody polled for a while, or a leader stalled) is no
 * baseline for "changed since": the first round then announces only starts and finishes since that
 * snapshot was taken (it lives as long as the history), or without one, within a handover time before this
 * leader began, which covers every subscriber that could be waiting. Changes it cannot date are not
 * announced.
 */
export class ProjectFeedPoller implements TopicPoller {
  private readonly logger = new Logger(ProjectFeedPoller.name);
  private known = new Map<string, Brief>();
  /** When the list `known` reflects was requested; null when `known` is no baseline (none, or too old). */
  private listedAt: number | null = null;
  /** Events of runs that started or finished before this are not announced (a first round without baseline). */
  private cutoffMs: number;
  private referenceMs = Date.now();
  /** When the last round began (0: none yet): a nudge keeps Maia's floor of one list per min interval. */
  private lastRoundAt = 0;
  private consecutiveErrors = 0;

  constructor(
    private readonly projectId: string,
    private readonly context: LeaderContext,
    private readonly maia: MaiaApi,
    private readonly config: WatchConfig,
  ) {
    this.cutoffMs = Date.now() - this.handoverMs;
  }

  /** The longest a watched feed goes unpolled: a silent leader's lease lapses, then a poll interval. */
  private get handoverMs(): number {
    return 2 * this.config.leaseMs + this.config.maxIntervalMs;
  }

  async start(): Promise<void> {
    const raw = await this.context.getState(SNAPSHOT_STATE);
    if (!raw) return;
    try {
      const snapshot = JSON.parse(raw) as FeedSnapshot;
      this.known = new Map(snapshot.runs);
      if (Date.now() - snapshot.listedAt <= this.handoverMs) this.listedAt = snapshot.listedAt;
      // Announce every start and finish since the last list (each subscriber keeps what is new to it): a
      // leader stalled past the handover time still had subscribers waiting for them.
      else this.cutoffMs = Math.min(this.cutoffMs, snapshot.listedAt);
    } catch {
      this.known = new Map();
    }
  }

  async poll(signal: AbortSignal): Promise<number | null> {
    try {
      const listedAt = Date.now();
      this.lastRoundAt = listedAt;
      const floor = this.floorMs();
      const runs = await this.list(floor, signal);
      this.consecutiveErrors = 0;
      await this.observe(runs, floor, listedAt);
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

  /**
   * A run was just started or cancelled: list again as soon as the min interval since the last round
   * allows (at once after a quiet spell), not a whole min interval from now.
   */
  nudge(): number {
    const now = Date.now();
    this.referenceMs = now;
    this.consecutiveErrors = 0;
    return Math.max(0, this.lastRoundAt + this.config.minIntervalMs - now);
  }

  /** The runs of the window, newest first, down to the floor (see `floorMs`). */
  private async list(floor: number, signal: AbortSignal): Promise<MaiaExecution[]> {
    const startedAfter = new Date(Date.now() - this.config.feedWindowSeconds * 1000).toISOString();
    const runs: MaiaExecution[] = [];
    let paginationToken: string | undefined;
    for (let page = 0; page < MAX_PAGES_PER_ROUND; page += 1) {
      const { results, more } = await this.maia.listExecutions(
        { projectId: this.projectId, startedAfter, limit: PAGE_SIZE, paginationToken },
        { signal },
      );
      runs.push(...results);
      const oldest = timeOf(results.at(-1)?.startedAt ?? null);
      if (!more || results.length === 0 || oldest < floor) return runs;
      paginationToken = more;
    }
    this.logger.warn(
      `feed of project ${this.projectId}: more than ${MAX_PAGES_PER_ROUND * PAGE_SIZE} runs to read in one round; the rest waits for the next`,
    );
    return runs;
  }

  /**
   * How far down a round pages. With a baseline: past the newest run known (anything newer is new) and the
   * oldest run known as not finished (its finish must be seen). Without one: the whole window, since a run
   * still going may have started at any time in it (once per leader without a fresh snapshot).
   */
  private floorMs(): number {
    if (this.listedAt === null || this.known.size === 0) return Number.NEGATIVE_INFINITY;
    let floor = Number.POSITIVE_INFINITY;
    let newestKnown = Number.NEGATIVE_INFINITY;
    for (const [status, , , startedAt] of this.known.values()) {
      const started = timeOf(startedAt);
      if (Number.isNaN(started)) continue;
      newestKnown = Math.max(newestKnown, started);
      if (!isTerminalStatus(status)) floor = Math.min(floor, started);
    }
    return Math.min(floor, newestKnown);
  }

  private async observe(results: MaiaExecution[], floor: number, listedAt: number): Promise<void> {
    const baseline = this.listedAt !== null;
    const windowStart = Date.now() - this.config.feedWindowSeconds * 1000;
    // Maia lists newest first; announce oldest first.
    for (const execution of [...results].reverse()) {
      const id = execution.pipelineExecutionId;
      const before = this.known.get(id);
      const now = brief(execution);
      if (before && sameBrief(before, now)) continue;
      const terminal = isTerminalStatus(execution.status);
      const startedMs = timeOf(execution.startedAt);
      // Below the floor (the last page reaches past it): a finished run forgotten on purpose, see below.
      if (!before && startedMs < floor) continue;
      if (!before) {
        if (baseline || !(startedMs < this.cutoffMs)) {
          await this.record('STARTED', terminal ? asStarted(execution) : execution);
          if (terminal) await this.record('FINISHED', execution);
        } else if (terminal && !(timeOf(execution.finishedAt) < this.cutoffMs)) {
          await this.record('FINISHED', execution);
        }
      } else if (terminal && before[0] !== execution.status) {
        if (baseline || !(timeOf(execution.finishedAt) < this.cutoffMs))
          await this.record('FINISHED', execution);
      } else if (baseline) {
        // Without a baseline, a change cannot be dated: it may be older than every subscriber.
        await this.record('CHANGED', execution);
      }
      this.known.set(id, now);
    }
    this.listedAt = listedAt;
    // Forget finished runs below the next floor: no round pages down to them again, and the snapshot,
    // written every round, stays the size of what is new or going rather than of the whole window.
    const nextFloor = this.floorMs();
    for (const [id, [status, , , startedAt]] of this.known) {
      const started = timeOf(startedAt);
      if (started < windowStart || (isTerminalStatus(status) && started < nextFloor)) this.known.delete(id);
    }
    const snapshot: FeedSnapshot = { listedAt, runs: [...this.known] };
    if (!(await this.context.setState(SNAPSHOT_STATE, JSON.stringify(snapshot)))) throw new LeaseLostError();
  }

  private async record(kind: ExecutionEventKind, execution: MaiaExecution): Promise<void> {
    const stored = await this.context.record({ at: new Date().toISOString(), kind, execution });
    if (!stored) throw new LeaseLostError();
    if (kind !== 'CHANGED') this.referenceMs = Date.now();
  }
}
