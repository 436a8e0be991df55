import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { APP_CONFIG, type AppConfig, type MaiaConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { sleep } from './maia-async';
import { ExecutionLedger, type ExecuteIntent, type ExecuteScope } from './maia-execution-ledger';
import { OutcomeUnknownError, type MaiaResponse } from './maia.transport';
import { parseExecutionIdAnswer, type ParsedExecution, type ParsedExecutionListPage } from './maia-wire';
import { type ExecuteResult, type ExecutionListFilter } from './maia.types';

/** One execute call, as the client hands it over. */
export interface ExecuteCall {
  scope: ExecuteScope;
  /** Tells runs apart when the listing echoes it. */
  executionTag?: string;
  /** Sends the POST; called once. */
  send: () => Promise<MaiaResponse>;
  /** Lists executions within `deadlineMs`. */
  list: (filter: ExecutionListFilter, deadlineMs: number) => Promise<ParsedExecutionListPage>;
  signal?: AbortSignal;
}

const listingPages = 5;
/** Waits between listings while the new run may not be visible yet. */
const listingDelaysMs = [0, 250, 750];

/**
 * Sends an execute POST at most once and learns the id of the run it created. When the answer is lost
 * (timeout, dropped connection, a proxy's 502/504, an unreadable 2xx) it looks the run up instead of
 * sending again, and hands it out only when it can only be this call's (see `reconcile`).
 */
@Injectable()
export class ExecuteReconciler {
  private readonly logger = new Logger(ExecuteReconciler.name);
  private readonly config: MaiaConfig;
  /** Execute calls in flight and runs already handed out, fleet-wide with Redis. */
  private readonly ledger: ExecutionLedger;

  constructor(@Inject(APP_CONFIG) appConfig: AppConfig, redis: RedisService) {
    this.config = appConfig.maia;
    const { reconcileWindowMs, reconcileClockSkewMs, deadlineMs } = this.config;
    this.ledger = new ExecutionLedger(redis, reconcileWindowMs + reconcileClockSkewMs + deadlineMs);
  }

  async execute(call: ExecuteCall): Promise<ExecuteResult> {
    const intent = await this.ledger.begin(call.scope);
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
    await this.ledger.settle(intent, id);
    return { pipelineExecutionId: id, reconciled: false };
  }

  /**
   * Looks for the run among those of the call's project, pipeline and environment, and returns it only
   * when it started (Maia's clock) no earlier than `reconcileClockSkewMs` before the call, was triggered by
   * the API, was not handed out to another call (the ledger), and is the only candidate with no other call
   * of that scope overlapping; a unique `executionTag` match decides when the listing echoes tags.
   * Anything ambiguous, or nothing found after a few listings, is UPSTREAM_OUTCOME_UNKNOWN, never a guess.
   * Known limit: a run started within the skew by a client the gateway cannot see looks like ours.
   */
  private async reconcile(intent: ExecuteIntent, call: ExecuteCall, reason: string): Promise<ExecuteResult> {
    const { executionTag } = call;
    this.logger.warn(`executePipeline: outcome unknown (${reason}); looking for the run it may have created`);
    const giveUpAtMs = Date.now() + this.config.deadlineMs;
    const startedAfter = new Date(intent.atMs - this.config.reconcileWindowMs).toISOString();
    const overlapSinceMs = intent.atMs - this.config.reconcileClockSkewMs - this.config.deadlineMs;
    for (const delayMs of listingDelaysMs) {
      if (delayMs > 0) {
        if (Date.now() + delayMs >= giveUpAtMs) break;
        await sleep(delayMs, call.signal);
      }
      let listed: ParsedExecution[];
      try {
        listed = await this.listRecent(intent.scope, startedAfter, giveUpAtMs, call.list);
      } catch (error) {
        this.logger.warn(
          `executePipeline: reconciliation listing failed (${error instanceof GatewayError ? error.code : 'error'})`,
        );
        break;
      }
      const eligible = this.eligible(listed, intent, executionTag);
      const known = await this.ledger.known(eligible.map((run) => run.pipelineExecutionId));
      const unclaimed = eligible.filter((run) => !known.has(run.pipelineExecutionId));
      const tagged =
        executionTag === undefined ? [] : unclaimed.filter((run) => run.executionTag === executionTag);
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
        throw outcomeUnknown(unclaimed.length);
      }
    }
    throw outcomeUnknown(0);
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

function outcomeUnknown(candidates: number): GatewayError {
  return new GatewayError(
    ErrorCode.UPSTREAM_OUTCOME_UNKNOWN,
    'Maia may or may not have started the pipeline; check its executions before trying again',
    { candidates },
  );
}
