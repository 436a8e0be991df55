import { Inject, Injectable, Logger } from '@nestjs/common';
import { LruStore } from '../cache/lru.store';
import { APP_CONFIG, type AppConfig } from '../config';
import { type ExecutePipelineRequest } from '../maia/maia.types';
import { RedisService } from '../redis/redis.service';

/**
 * What the gateway sent Maia to start a run (Maia does not return it): enough to start the same run again.
 * Who launched it is not kept; neither is anything the gateway adds (credentials, idempotency keys).
 */
export interface ExecutionLaunch extends ExecutePipelineRequest {
  projectId: string;
  /** ISO-8601 UTC: when the gateway's execute call succeeded. */
  launchedAt: string;
  /** The execution this launch re-ran, when it was a re-run. */
  rerunOf?: string;
}

/** Bump when a stored record's shape changes, so a deploy never misreads an older one. */
const VERSION = 'v1';
/** Entries per replica without Redis (and while Redis is away): launches and the execution → project index. */
const MAX_MEMORY_ENTRIES = 10_000;
/** Projects already written to the index are not written again before this much of the TTL has passed. */
const REWRITE_AFTER_FRACTION = 0.5;

interface Expiring<T> {
  value: T;
  expiresAtMs: number;
}

function parseLaunch(raw: string | null): ExecutionLaunch | undefined {
  if (raw === null) return undefined;
  try {
    const launch = JSON.parse(raw) as ExecutionLaunch;
    const valid =
      typeof launch?.projectId === 'string' &&
      typeof launch.pipelineName === 'string' &&
      typeof launch.environmentName === 'string' &&
      typeof launch.launchedAt === 'string';
    return valid ? launch : undefined;
  } catch {
    return undefined; // unreadable: as if never recorded
  }
}

/**
 * Two records per execution id, both kept for `EXECUTION_LAUNCH_TTL_MS`:
 * - the launch (`ExecutionLaunch`) of every run the gateway started, for `PipelineExecution.launch` and
 *   `rerunPipelineExecution`;
 * - the project of every execution id the gateway handed out (started, read or listed), so `node(id:)` can
 *   read an execution from its bare id (Maia reads one only under its project).
 * Shared through Redis when configured (any replica answers), a bounded memory of this replica otherwise
 * and while Redis is away. Losing a record loses a convenience (a re-run answers LAUNCH_UNKNOWN, a node
 * lookup probes), never a run: writes are best effort and never fail the call that made them.
 */
@Injectable()
export class ExecutionLaunchStore {
  private readonly logger = new Logger(ExecutionLaunchStore.name);
  private readonly ttlMs: number;
  private readonly launches = new LruStore<Expiring<ExecutionLaunch>>(MAX_MEMORY_ENTRIES);
  private readonly projects = new LruStore<Expiring<string>>(MAX_MEMORY_ENTRIES);

  constructor(
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.ttlMs = config.cache.executionLaunchTtlMs;
  }

  private launchKey(executionId: string): string {
    return this.redis.key('exec-launch', VERSION, executionId.toLowerCase());
  }

  private projectKey(executionId: string): string {
    return this.redis.key('exec-project', VERSION, executionId.toLowerCase());
  }

  /** Records a launch (and its execution's project). */
  async rememberLaunch(executionId: string, launch: ExecutionLaunch): Promise<void> {
    const writes = this.launchWrites(executionId, launch);
    if (writes === undefined) return;
    try {
      await this.redis.setMany(writes.entries, writes.ttlMs);
    } catch (error) {
      this.logger.warn(`Could not record a launch in Redis: ${(error as Error).message}`);
    }
  }

  /**
   * Records a launch in this replica's memory and answers the Redis SETs that record it fleet-wide
   * (undefined without Redis), for a caller that sends them along with another write (the execute
   * ledger's settle, ADR 0042). When they were not written, `rememberLaunch` records it as usual.
   */
  launchWrites(
    executionId: string,
    launch: ExecutionLaunch,
  ): { entries: { key: string; value: string }[]; ttlMs: number } | undefined {
    const expiresAtMs = Date.now() + this.ttlMs;
    const id = executionId.toLowerCase();
    this.launches.set(id, { value: launch, expiresAtMs });
    this.projects.set(id, { value: launch.projectId, expiresAtMs });
    if (!this.redis.enabled) return undefined;
    return {
      entries: [
        { key: this.launchKey(id), value: JSON.stringify(launch) },
        { key: this.projectKey(id), value: launch.projectId },
      ],
      ttlMs: this.ttlMs,
    };
  }

  /** The launch of an execution, when the gateway started it within the TTL. */
  async launchOf(executionId: string): Promise<ExecutionLaunch | undefined> {
    return (await this.launchesOf([executionId]))[0];
  }

  /** The launches of several executions in one Redis round trip (a run list's `launch` fields). */
  async launchesOf(executionIds: readonly string[]): Promise<(ExecutionLaunch | undefined)[]> {
    const ids = executionIds.map((executionId) => executionId.toLowerCase());
    if (this.redis.enabled) {
      try {
        const raw = await this.redis.getMany(ids.map((id) => this.launchKey(id)));
        return raw.map((value) => parseLaunch(value));
      } catch {
        // Redis away: what this replica remembers.
      }
    }
    return ids.map((id) => this.fresh(this.launches, id));
  }

  /**
   * Records the project of each execution handed out to a client. An id this replica wrote recently is not
   * written again, so listing the same runs over and over costs Redis nothing.
   */
  async rememberProjects(executions: readonly { pipelineExecutionId: string; projectId: string }[]) {
    const nowMs = Date.now();
    const rewriteBeforeMs = nowMs + this.ttlMs * (1 - REWRITE_AFTER_FRACTION);
    const due = executions.filter(({ pipelineExecutionId, projectId }) => {
      const known = this.projects.get(pipelineExecutionId.toLowerCase());
      return !known || known.value !== projectId || known.expiresAtMs < rewriteBeforeMs;
    });
    if (due.length === 0) return;
    for (const { pipelineExecutionId, projectId } of due) {
      this.projects.set(pipelineExecutionId.toLowerCase(), {
        value: projectId,
        expiresAtMs: nowMs + this.ttlMs,
      });
    }
    if (!this.redis.enabled) return;
    try {
      await this.redis.setMany(
        due.map(({ pipelineExecutionId, projectId }) => ({
          key: this.projectKey(pipelineExecutionId),
          value: projectId,
        })),
        this.ttlMs,
      );
    } catch (error) {
      // Forget what was not written, so the next listing tries again.
      for (const { pipelineExecutionId } of due) this.projects.delete(pipelineExecutionId.toLowerCase());
      this.logger.debug(`Could not index executions in Redis: ${(error as Error).message}`);
    }
  }

  /** The project of an execution id the gateway handed out within the TTL. */
  async projectOf(executionId: string): Promise<string | undefined> {
    const id = executionId.toLowerCase();
    if (this.redis.enabled) {
      try {
        const projectId = await this.redis.get(this.projectKey(id));
        if (projectId) return projectId;
      } catch {
        // Redis away: what this replica remembers.
      }
    }
    return this.fresh(this.projects, id);
  }

  private fresh<T>(store: LruStore<Expiring<T>>, id: string): T | undefined {
    const entry = store.get(id);
    if (!entry) return undefined;
    if (entry.expiresAtMs > Date.now()) return entry.value;
    store.delete(id);
    return undefined;
  }
}
