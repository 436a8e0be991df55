import { createHash, randomUUID } from 'node:crypto';
import { type RedisService } from '../redis/redis.service';

/** What an execute call is about: runs of one pipeline in one environment of one project. */
export interface ExecuteScope {
  projectId: string;
  pipelineName: string;
  environmentName: string;
}

export interface ExecuteIntent {
  id: string;
  scope: ExecuteScope;
  atMs: number;
}

const MAX_REMEMBERED_SCOPES = 1_000;
const KNOWN_TRIM_INTERVAL_MS = 1_000;

/**
 * What execute reconciliation must know about the other execute calls of the fleet, so that it never
 * hands out a run another call created:
 * - intents: execute calls in flight or with an unknown outcome, per scope. A reconciliation that sees
 *   another one overlapping its own cannot tell whose run is whose: it reports the outcome as unknown.
 * - known runs: ids that some call already got (answered or reconciled); never claimed again.
 * With Redis both are shared by every replica (sorted sets scored by time, trimmed to `horizonMs`);
 * without it they live in this process. Redis failures degrade to this process's view.
 */
export class ExecutionLedger {
  private readonly localIntents = new Map<string, ExecuteIntent>();
  private readonly localKnown = new Map<string, number>();
  private readonly knownKey: string;
  /** Redis keys of scopes' intents, by scope. */
  private readonly intentsKeys = new Map<string, string>();
  /** When the shared known set was last trimmed (see `settle`). */
  private knownTrimmedAtMs = 0;

  constructor(
    private readonly redis: RedisService,
    /** How long intents and known runs matter (the reconciliation window plus margins). */
    private readonly horizonMs: number,
  ) {
    this.knownKey = redis.key('maia', 'executions', 'known');
  }

  /** Records an execute call before its POST is sent. */
  async begin(scope: ExecuteScope): Promise<ExecuteIntent> {
    const intent: ExecuteIntent = { id: randomUUID(), scope, atMs: Date.now() };
    this.localIntents.set(intent.id, intent);
    await this.shared(() =>
      this.redis.sortedSetAdd(this.intentsKey(scope), intent.atMs, intent.id, this.horizonMs * 2),
    );
    return intent;
  }

  /** The call learnt its run: the intent is over and the run is known to everyone. */
  async settle(intent: ExecuteIntent, executionId: string): Promise<void> {
    this.localIntents.delete(intent.id);
    const now = Date.now();
    this.localKnown.set(executionId, now);
    this.pruneLocal(now);
    // Trimming what aged out of the horizon is housekeeping, not correctness (older runs are never
    // candidates): once per second per replica, not one more Redis command on every call.
    const trim = now - this.knownTrimmedAtMs >= KNOWN_TRIM_INTERVAL_MS;
    if (trim) this.knownTrimmedAtMs = now;
    await this.shared(() =>
      Promise.all([
        this.redis.sortedSetRemove(this.intentsKey(intent.scope), intent.id),
        this.redis.sortedSetAdd(this.knownKey, now, executionId, this.horizonMs * 2),
        trim ? this.redis.sortedSetRemoveByScore(this.knownKey, 0, now - this.horizonMs) : undefined,
      ]),
    );
  }

  /** The call certainly created nothing (Maia answered with an error, or it was never sent). */
  async abandon(intent: ExecuteIntent): Promise<void> {
    this.localIntents.delete(intent.id);
    await this.shared(() => this.redis.sortedSetRemove(this.intentsKey(intent.scope), intent.id));
  }

  /**
   * How many other calls of the same scope are in flight or unresolved and began within the window.
   * An intent whose outcome stayed unknown is kept until it ages out, so nobody claims its run either.
   */
  async othersOverlapping(intent: ExecuteIntent, sinceMs: number): Promise<number> {
    const now = Date.now();
    this.pruneLocal(now);
    let local = 0;
    for (const other of this.localIntents.values()) {
      if (other.id !== intent.id && sameScope(other.scope, intent.scope) && other.atMs >= sinceMs) local++;
    }
    const shared = await this.shared(async () => {
      const key = this.intentsKey(intent.scope);
      await this.redis.sortedSetRemoveByScore(key, 0, now - this.horizonMs);
      const ids = await this.redis.sortedSetRangeByScore(key, sinceMs);
      return ids.filter((id) => id !== intent.id).length;
    });
    return Math.max(local, shared ?? 0);
  }

  /** The ids among these that some call (any replica) already got. */
  async known(ids: string[]): Promise<Set<string>> {
    const found = new Set(ids.filter((id) => this.localKnown.has(id)));
    const rest = ids.filter((id) => !found.has(id));
    if (rest.length === 0) return found;
    const scores = await this.shared(() => this.redis.sortedSetScores(this.knownKey, rest));
    scores?.forEach((score, i) => {
      if (score !== null) found.add(rest[i]);
    });
    return found;
  }

  private intentsKey(scope: ExecuteScope): string {
    const name = `${scope.projectId}\n${scope.environmentName}\n${scope.pipelineName}`;
    let key = this.intentsKeys.get(name);
    if (key === undefined) {
      const digest = createHash('sha256').update(name).digest('hex').slice(0, 24);
      key = this.redis.key('maia', 'executions', 'intents', digest);
      // A dashboard launches few distinct pipelines: remembered (bounded), not hashed twice per call.
      if (this.intentsKeys.size >= MAX_REMEMBERED_SCOPES) this.intentsKeys.clear();
      this.intentsKeys.set(name, key);
    }
    return key;
  }

  private pruneLocal(now: number): void {
    for (const [id, intent] of this.localIntents)
      if (intent.atMs < now - this.horizonMs) this.localIntents.delete(id);
    for (const [id, atMs] of this.localKnown) {
      if (atMs >= now - this.horizonMs) break; // insertion order is time order
      this.localKnown.delete(id);
    }
  }

  private async shared<T>(work: () => Promise<T>): Promise<T | null> {
    if (!this.redis.available) return null;
    try {
      return await work();
    } catch {
      return null; // this process's view still holds
    }
  }
}

function sameScope(a: ExecuteScope, b: ExecuteScope): boolean {
  return (
    a.projectId === b.projectId &&
    a.pipelineName === b.pipelineName &&
    a.environmentName === b.environmentName
  );
}
