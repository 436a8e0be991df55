import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { APP_CONFIG, type AppConfig, type MaiaConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { sleep } from './maia-async';
import {
  ExecutionLedger,
  type ExecuteIntent,
  type ExecuteScope,
  type IntentRecord,
} from './maia-execution-ledger';
import { OutcomeUnknownError, type MaiaResponse } from './maia.transport';
import { parseExecutionIdAnswer, type ParsedExecution, type ParsedExecutionListPage } from './maia-wire';
import { type ExecuteRecordWith, type ExecuteResult, type ExecutionListFilter } from './maia.types';

/** One execute call, as the client hands it over. */
export interface ExecuteCall {
  scope: ExecuteScope;
  /** A hash of what the POST asks for: calls with the same one create interchangeable runs. */
  fingerprint: string;
  /** Tells runs apart when the listing echoes it. */
  executionTag?: string;
  /**
   * The idempotency try this call is (its id becomes the ledger's intent id), and the earlier try it
   * resumes when that one's owner went away without an answer.
   */
  attempt?: { id: string; resumes?: string };
  /** Sends the POST; called once. */
  send: () => Promise<MaiaResponse>;
  /** Lists executions within `deadlineMs`. */
  list: (filter: ExecutionListFilter, deadlineMs: number) => Promise<ParsedExecutionListPage>;
  signal?: AbortSignal;
  /**
   * SETs of the caller's to send along with the ledger's settle when the POST answers its run's id (one
   * round trip for both); `ExecuteResult.recorded` says whether they were written.
   */
  recordWith?: ExecuteRecordWith;
}

const listingPages = 5;
/** Waits between listings while the new run may not be visible yet. */
const listingDelaysMs = [0, 250, 750, 1_500];
/** Waits between listings while another call that may have created the runs still waits for its answer. */
const inFlightPollMs = 300;

/** What a reconciliation can do with the runs it sees. */
type Choice =
  | { kind: 'claim'; runs: ParsedExecution[] }
  /** Another call that may have created one of these runs is still waiting for its answer. */
  | { kind: 'wait' }
  /** Nothing to claim yet (no unclaimed run could be this call's). */
  | { kind: 'none' }
  /** Runs that another kind of call, or a caller the gateway cannot see, may have created. */
  | { kind: 'ambiguous' };

/**
 * Sends an execute POST at most once and learns the id of the run it created. When the answer is lost
 * (timeout, dropped connection, a proxy's 502/504, an unreadable 2xx) it looks the run up instead of
 * sending again, and hands it out only when it can only be this call's or a twin's (see `reconcile`).
 */
@Injectable()
export class ExecuteReconciler {
  private readonly logger = new Logger(ExecuteReconciler.name);
  private readonly config: MaiaConfig;
  /** Execute calls in flight and runs already handed out, fleet-wide with Redis. */
  private readonly ledger: ExecutionLedger;
  /** How long the record of an idempotency try is kept: as long as its key may be retried. */
  private readonly attemptKeepMs: number;

  constructor(@Inject(APP_CONFIG) appConfig: AppConfig, redis: RedisService) {
    this.config = appConfig.maia;
    const { reconcileWindowMs, reconcileClockSkewMs, deadlineMs } = this.config;
    this.ledger = new ExecutionLedger(redis, reconcileWindowMs + reconcileClockSkewMs + deadlineMs);
    this.attemptKeepMs = appConfig.cache.idempotency.ttlSeconds * 1000;
  }

  async execute(call: ExecuteCall): Promise<ExecuteResult> {
    if (call.attempt?.resumes !== undefined) {
      const resolved = await this.resume(call.attempt.resumes, call);
      if (resolved) return resolved;
    }
    const intent = await this.ledger.begin(call.scope, call.fingerprint, {
      id: call.attempt?.id,
      keepMs: call.attempt ? this.attemptKeepMs : undefined,
    });
    let response: MaiaResponse;
    try {
      response = await call.send();
    } catch (error) {
      if (error instanceof OutcomeUnknownError) return this.reconcile(intent, call, error.reason);
      // Maia answered with an error, or nothing was sent. A caller that gave up mid-flight leaves the
      // intent in place: its run may exist and must not be claimed by another call.
      if (!GatewayError.is(error) || error.details.aborted !== true) await this.ledger.abandon(intent);
      throw error;
    }
    const id = parseExecutionIdAnswer(response.body);
    // A 2xx means the run exists; only its id was lost in an unreadable answer.
    if (id === null) return this.reconcile(intent, call, 'unreadable-answer');
    // Maia has started the run: nothing the caller adds to the settle may fail the call now.
    let also: ReturnType<NonNullable<typeof call.recordWith>> | undefined;
    try {
      also = call.recordWith?.(id);
    } catch {
      also = undefined;
    }
    const recorded = await this.ledger.settle(intent, id, also);
    return { pipelineExecutionId: id, reconciled: false, ...(also !== undefined ? { recorded } : {}) };
  }

  /**
   * An earlier try of the same idempotency key left no answer (its replica died, or its record was never
   * saved). What the ledger knows decides: its run (settled), nothing created (abandoned: `undefined`, a
   * new POST may go), or a reconciliation on its behalf, which answers its run or UPSTREAM_OUTCOME_UNKNOWN.
   * Never a second POST while the first one's outcome is open.
   */
  private async resume(previousId: string, call: ExecuteCall): Promise<ExecuteResult | undefined> {
    let previous: IntentRecord | undefined;
    try {
      previous = await this.ledger.record(previousId);
    } catch {
      throw new GatewayError(
        ErrorCode.IDEMPOTENCY_UNAVAILABLE,
        'The execution ledger is unreachable, so the earlier try with this idempotency key cannot be resolved; retry later with the same key',
        { retryAfterSeconds: 2 },
      );
    }
    if (!previous) {
      // Cut short before its POST was recorded, or the record is gone (a Redis restart): a guess either way.
      this.logger.warn('executePipeline: an earlier try of this idempotency key left no ledger record');
      throw outcomeUnknown(0);
    }
    if (previous.state === 'abandoned') return undefined;
    if (previous.state === 'settled' && previous.executionId !== undefined) {
      return { pipelineExecutionId: previous.executionId, reconciled: true };
    }
    // Its POST may still be under way until its deadline: look once the run could be visible.
    const postEndsAtMs = previous.atMs + this.config.deadlineMs;
    if (Date.now() < postEndsAtMs) await sleep(postEndsAtMs - Date.now(), call.signal);
    const { id, scope, atMs, fingerprint } = previous;
    return this.reconcile({ id, scope, atMs, fingerprint }, call, 'earlier try cut short');
  }

  /**
   * Looks for the run among those of the call's project, pipeline and environment that started (Maia's
   * clock) no earlier than `reconcileClockSkewMs` before the call, were triggered by the API and were not
   * handed out to another call (the ledger). A unique `executionTag` match decides when the listing echoes
   * tags. Otherwise a run may be handed out when every other unsettled call that could have created it
   * (began within the skew before its start, or up to its own deadline plus the skew after) asked for the
   * same thing (its twin): twins' runs are interchangeable, so each twin claims a different one, in order of
   * start. It waits while such a call still waits for its own answer (so that answer is never handed out
   * twice), and it answers UPSTREAM_OUTCOME_UNKNOWN, never a guess, when more runs than calls could match
   * (a foreign one is among them), when a different call could have made them, or when nothing is found.
   * Known limit: a run started within the skew by a client the gateway cannot see looks like ours.
   */
  private async reconcile(intent: ExecuteIntent, call: ExecuteCall, reason: string): Promise<ExecuteResult> {
    const { executionTag } = call;
    this.logger.warn(`executePipeline: outcome unknown (${reason}); looking for the run it may have created`);
    await this.ledger.reconciling(intent);
    const { deadlineMs, reconcileWindowMs, reconcileClockSkewMs } = this.config;
    const giveUpAtMs = Date.now() + deadlineMs;
    const startedAfter = new Date(intent.atMs - reconcileWindowMs).toISOString();
    const othersSinceMs = intent.atMs - reconcileClockSkewMs - deadlineMs;
    let candidates = 0;
    let emptyRounds = 0;
    let waiting = false;
    for (let round = 0; ; round++) {
      if (round > 0) {
        const delayMs = waiting ? inFlightPollMs : listingDelaysMs[emptyRounds];
        if (delayMs === undefined || Date.now() + delayMs >= giveUpAtMs) break;
        await sleep(delayMs, call.signal);
      }
      let listed: ParsedExecution[];
      try {
        listed = await this.listRecent(intent.scope, startedAfter, giveUpAtMs, call.list);
      } catch (error) {
        this.logger.warn(
          `executePipeline: reconciliation listing failed (${error instanceof GatewayError ? error.code : 'error'})`,
        );
        emptyRounds++; // looked at nothing: look again while the schedule lasts
        waiting = false;
        continue;
      }
      const eligible = this.eligible(listed, intent, executionTag);
      // The other calls are read before the claimed runs: a call claims its run before it is marked
      // settled, so a call seen settled here never leaves its run looking unclaimed below.
      const others = await this.ledger.others(intent, othersSinceMs);
      const known = await this.ledger.known(eligible.map((run) => run.pipelineExecutionId));
      const unclaimed = eligible.filter((run) => !known.has(run.pipelineExecutionId));
      candidates = unclaimed.length;
      const tagged =
        executionTag === undefined ? [] : unclaimed.filter((run) => run.executionTag === executionTag);
      const choice: Choice =
        tagged.length === 1
          ? { kind: 'claim', runs: tagged }
          : unclaimed.length === 0
            ? { kind: 'none' }
            : this.choose(intent, unclaimed, others);
      waiting = choice.kind === 'wait';
      if (choice.kind === 'ambiguous') {
        this.logger.debug(
          `executePipeline: ${unclaimed.length} run(s) could be another call's; not guessing`,
        );
      }
      if (choice.kind === 'none' || choice.kind === 'ambiguous') emptyRounds++;
      if (choice.kind !== 'claim') continue;
      for (const run of choice.runs) {
        if (!(await this.ledger.claim(intent, run.pipelineExecutionId))) continue;
        this.logger.log(
          `executePipeline: reconciled the run ${run.pipelineExecutionId} of an unanswered POST`,
        );
        return { pipelineExecutionId: run.pipelineExecutionId, reconciled: true };
      }
      emptyRounds++; // a twin claimed them first: look again
    }
    await this.ledger.unknown(intent);
    this.logger.warn(
      `executePipeline: run not found among ${candidates} candidate(s); the outcome stays unknown`,
    );
    throw outcomeUnknown(candidates, intent.atMs);
  }

  /** Which unclaimed runs this call may take, in the order to try them (see `reconcile`). */
  private choose(intent: ExecuteIntent, unclaimed: ParsedExecution[], others: IntentRecord[]): Choice {
    const { deadlineMs, reconcileClockSkewMs: skewMs } = this.config;
    const now = Date.now();
    const couldHaveCreated = (other: IntentRecord, startedMs: number) =>
      startedMs >= other.atMs - skewMs && startedMs <= other.atMs + deadlineMs + skewMs;
    const pool: ParsedExecution[] = [];
    const contenders = new Map<string, ExecuteIntent>([[intent.id, intent]]);
    let foreign = false;
    for (const run of unclaimed) {
      const startedMs = startedMsOf(run);
      const creators = others.filter((other) => couldHaveCreated(other, startedMs));
      if (creators.some((other) => other.state === 'sent' && other.atMs + deadlineMs > now)) {
        return { kind: 'wait' };
      }
      if (creators.every((other) => other.fingerprint === intent.fingerprint)) {
        pool.push(run);
        for (const other of creators) contenders.set(other.id, other);
      } else {
        foreign = true;
      }
    }
    if (pool.length === 0) return foreign ? { kind: 'ambiguous' } : { kind: 'none' };
    if (pool.length > contenders.size) return { kind: 'ambiguous' };
    // The n-th twin to begin takes the n-th run to start, then any other one left.
    const byStart = [...pool].sort(
      (a, b) => startedMsOf(a) - startedMsOf(b) || a.pipelineExecutionId.localeCompare(b.pipelineExecutionId),
    );
    const rank = [...contenders.values()]
      .sort((a, b) => a.atMs - b.atMs || a.id.localeCompare(b.id))
      .findIndex((contender) => contender.id === intent.id);
    const first = Math.min(rank, byStart.length - 1);
    return { kind: 'claim', runs: [...byStart.slice(first), ...byStart.slice(0, first).reverse()] };
  }

  private async listRecent(
    scope: ExecuteScope,
    startedAfter: string,
    giveUpAtMs: number,
    list: ExecuteCall['list'],
  ): Promise<ParsedExecution[]> {
    const listed: ParsedExecution[] = [];
    let paginationToken: string | undefined;
    for (let pages = 0; pages < listingPages; pages++) {
      const page = await list(
        { ...scope, startedAfter, limit: 100, paginationToken },
        Math.max(1, giveUpAtMs - Date.now()),
      );
      listed.push(...page.parsed);
      if (page.more === null || page.parsed.length === 0) break;
      paginationToken = page.more;
    }
    return listed;
  }

  /** Runs that could be the one created: scope, trigger, start time and (when echoed) tag. Unique ids. */
  private eligible(
    listed: ParsedExecution[],
    intent: ExecuteIntent,
    executionTag: string | undefined,
  ): ParsedExecution[] {
    const { projectId, pipelineName, environmentName } = intent.scope;
    const earliestMs = intent.atMs - this.config.reconcileClockSkewMs;
    const runs = listed.filter((run) => {
      const startedMs = run.startedAt === null ? Number.NaN : Date.parse(run.startedAt);
      return (
        run.projectId === projectId &&
        run.pipelineName === pipelineName &&
        run.environmentName === environmentName &&
        (run.trigger === null || run.trigger === 'API' || run.trigger === 'UNKNOWN') &&
        startedMs >= earliestMs &&
        (executionTag === undefined || run.executionTag === null || run.executionTag === executionTag)
      );
    });
    return [...new Map(runs.map((run) => [run.pipelineExecutionId, run])).values()];
  }
}

function startedMsOf(run: ParsedExecution): number {
  return run.startedAt === null ? Number.NaN : Date.parse(run.startedAt);
}

/** What is known: how many runs might be it, and since when to look (`startedAfter`) when the call is known. */
function outcomeUnknown(candidates: number, callAtMs?: number): GatewayError {
  return new GatewayError(
    ErrorCode.UPSTREAM_OUTCOME_UNKNOWN,
    'Maia may or may not have started the pipeline; check its executions before trying again',
    callAtMs === undefined ? { candidates } : { candidates, startedAfter: new Date(callAtMs).toISOString() },
  );
}
