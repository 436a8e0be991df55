import { Logger } from '@nestjs/common';
import { type MaiaApi, type MaiaExecution } from '../maia/maia.types';

/** What a listing says of a run: the fields whose change is an event (status, message, finish). */
export type RunBrief = Pick<MaiaExecution, 'status' | 'message' | 'finishedAt'>;

/**
 * What the board knows of one run launched here:
 * - `listed`: the latest listing has it, as `run`;
 * - `absent`: a listing that must have had it, were it still going, does not (it finished, or is gone);
 * - `unknown`: no listing covers it (the listing failed, or was cut short before reaching it): ask Maia
 *   about the run itself.
 */
export type BoardAnswer = { kind: 'listed'; run: RunBrief } | { kind: 'absent' } | { kind: 'unknown' };

/** Maia's largest page. */
const PAGE_SIZE = 100;
/**
 * A bound on one listing (5 000 runs still going). Past it, the runs the listing reached are still answered
 * from it, and only those it did not reach (the oldest: the listing is newest first) ask Maia one by one.
 */
const MAX_PAGES = 50;
/** How far Maia's `startedAt` may lie before the gateway's launch time (clock skew, rounding). */
const SKEW_MS = 60_000;
/** What a listing asks for: the runs still going. A run that finished is absent, and a details call tells how. */
const GOING: MaiaExecution['status'][] = ['RUNNING', 'CANCELLING'];

interface Listing {
  /** Gateway clock when the listing was requested: runs launched before that are in it, if still going. */
  requestedAt: number;
  /**
   * Resolves with the runs still going that it saw (by id) and whether it saw them all (false: cut short,
   * so a run not seen may still be going), or null when the listing failed.
   */
  runs: Promise<{ seen: Map<string, RunBrief>; complete: boolean } | null>;
}

/**
 * The runs started through this replica, observed in one listing per project instead of one status call
 * per run. Within their start grace (ADR 0004) such runs are polled about once a second whether anyone
 * subscribed or not; with many launches, most of the watch's upstream calls were those light status
 * calls. Each round of such a run asks the board instead: a listing of the project's runs still going,
 * started within the grace, at most one per `freshMs` per project, shared by every run of the project
 * whose round falls in that time. A run whose status, message and finish are as the listing says needs
 * no call at all; the poller fetches the details only for a change (so events carry what they carried
 * before), and asks Maia about the run itself whenever the board cannot answer.
 */
export class LaunchedRunsBoard {
  private readonly logger = new Logger(LaunchedRunsBoard.name);
  private readonly listings = new Map<string, Listing>();
  /** Projects whose latest listing was cut short (warned once until one is not). */
  private readonly cutShort = new Set<string>();

  constructor(
    private readonly maia: MaiaApi,
    private readonly options: {
      /** How old a listing may be and still answer a round. */
      freshMs: number;
      /** How long runs launched here are observed through the board (the start grace). */
      graceMs: number;
    },
  ) {}

  /** How many listings the board keeps (for leak checks). */
  get size(): number {
    return this.listings.size;
  }

  /** What a listing requested after the run's launch, and at most `freshMs` ago, says of the run. */
  async observe(projectId: string, executionId: string, launchedAtMs: number): Promise<BoardAnswer> {
    const key = projectId.toLowerCase();
    const now = Date.now();
    this.forgetStale(now);
    let listing = this.listings.get(key);
    if (!listing || listing.requestedAt < launchedAtMs || now - listing.requestedAt > this.options.freshMs) {
      listing = { requestedAt: now, runs: this.list(projectId, now) };
      this.listings.set(key, listing);
    }
    const runs = await listing.runs;
    if (!runs) return { kind: 'unknown' };
    const run = runs.seen.get(executionId.toLowerCase());
    if (run) return { kind: 'listed', run };
    return runs.complete ? { kind: 'absent' } : { kind: 'unknown' };
  }

  /** The project's runs still going that started within the grace, newest first, all pages. */
  private async list(
    projectId: string,
    requestedAt: number,
  ): Promise<{ seen: Map<string, RunBrief>; complete: boolean } | null> {
    const floor = requestedAt - this.options.graceMs - SKEW_MS;
    const startedAfter = new Date(floor).toISOString();
    const runs = new Map<string, RunBrief>();
    let paginationToken: string | undefined;
    try {
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const { results, more } = await this.maia.listExecutions({
          projectId,
          status: GOING,
          startedAfter,
          limit: PAGE_SIZE,
          paginationToken,
        });
        for (const run of results) {
          const { status, message, finishedAt } = run;
          runs.set(run.pipelineExecutionId.toLowerCase(), { status, message, finishedAt });
        }
        if (!more || results.length === 0) {
          this.cutShort.delete(projectId.toLowerCase());
          return { seen: runs, complete: true };
        }
        paginationToken = more;
      }
      this.warnCutShort(projectId);
      // Cut short: the runs seen are as listed; a run not seen cannot be said to be absent.
      return { seen: runs, complete: false };
    } catch (error) {
      this.logger.debug(`listing of project ${projectId} failed: ${(error as Error).message}`);
      // Failed (a page may have failed after others answered): nothing is said from it.
      return null;
    }
  }

  /** Once per project while its listings are cut short (twice a second otherwise), again after one is not. */
  private warnCutShort(projectId: string): void {
    const key = projectId.toLowerCase();
    if (this.cutShort.has(key)) return;
    this.cutShort.add(key);
    this.logger.warn(
      `runs launched in project ${projectId}: more than ${MAX_PAGES * PAGE_SIZE} still going; those past the listing's end are polled one by one`,
    );
  }

  /** Listings older than the grace answer nobody any more (no run of theirs is still in its grace). */
  private forgetStale(now: number): void {
    for (const [key, listing] of this.listings) {
      if (now - listing.requestedAt > this.options.graceMs + this.options.freshMs) {
        this.listings.delete(key);
        this.cutShort.delete(key);
      }
    }
  }
}

/** True when the run is as the listing says (no event to record, no details to fetch). */
export function sameAsListed(execution: MaiaExecution, listed: RunBrief): boolean {
  return (
    execution.status === listed.status &&
    execution.message === listed.message &&
    execution.finishedAt === listed.finishedAt
  );
}
