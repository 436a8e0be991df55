import { createHash, randomUUID } from 'node:crypto';
import { type RedisService, type TimedWrites } from '../redis/redis.service';
import { RedisScript } from '../redis/redis.script';

/** What an execute call is about: runs of one pipeline in one environment of one project. */
export interface ExecuteScope {
  projectId: string;
  pipelineName: string;
  environmentName: string;
}

/**
 * Where an execute call stands: `sent` (its POST may be on the way), `reconciling` (its answer was lost
 * and it is looking for its run), `settled` (it learnt its run), `abandoned` (it certainly created
 * nothing), `unknown` (it gave up looking: its run may exist).
 */
export type IntentState = 'sent' | 'reconciling' | 'settled' | 'abandoned' | 'unknown';

export interface ExecuteIntent {
  id: string;
  scope: ExecuteScope;
  /** When the call began (gateway clock), before its POST was sent. */
  atMs: number;
  /**
   * A hash of what the POST asked for (pipeline, environment, version, runner, tag, variables): two
   * calls with the same fingerprint create runs nobody can tell apart, and either may have either run.
   */
  fingerprint: string;
}

export interface IntentRecord extends ExecuteIntent {
  state: IntentState;
  /** The run the call learnt (`settled`). */
  executionId?: string;
}

const MAX_REMEMBERED_SCOPES = 1_000;

/**
 * `begin` in one command: the intent's record (KEYS[1], ARGV[1], expiring in ARGV[2] ms) and its place in
 * the scope's set of unsettled calls (KEYS[2], member ARGV[4] at score ARGV[3], the set expiring in
 * ARGV[5] ms). Both keys are built with `key()`: one slot on a cluster.
 */
export const LEDGER_BEGIN = new RedisScript(`redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1`);

/**
 * A state change in one command: with KEYS[3], the run is claimed first (SET KEYS[3] ARGV[4] PX ARGV[5],
 * unconditionally: Maia said so); the record (KEYS[1]) takes ARGV[1], keeping its expiry, only while it
 * exists (an expired record stays gone); when ARGV[2] is '1' the call leaves the scope's set (KEYS[2],
 * member ARGV[3]).
 */
export const LEDGER_UPDATE =
  new RedisScript(`if KEYS[3] then redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5]) end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL') end
if ARGV[2] == '1' then redis.call('ZREM', KEYS[2], ARGV[3]) end
return 1`);

/**
 * What execute reconciliation must know about the other execute calls of the fleet, so that it never
 * hands out a run another call created:
 * - intents: one record per execute call (its scope, start, fingerprint and state), and per scope the
 *   calls that are not settled, so a reconciliation sees who else may have created the runs it finds;
 * - claimed runs: ids some call already got (answered or reconciled); a run is claimed once, atomically.
 * With Redis both are shared by every replica; without it they live in this process. Redis failures
 * degrade to this process's view, except `record` (resolving another replica's call needs the shared
 * view, so it says when it cannot read it).
 */
export class ExecutionLedger {
  private readonly localIntents = new Map<string, IntentRecord>();
  private readonly localClaims = new Map<string, { intentId: string; atMs: number }>();
  /** Redis keys of scopes' intents, by scope. */
  private readonly intentsKeys = new Map<string, string>();

  constructor(
    private readonly redis: RedisService,
    /** How long intents and claimed runs matter (the reconciliation window plus margins). */
    private readonly horizonMs: number,
  ) {}

  /**
   * Records an execute call before its POST is sent. `id` is the caller's own (an idempotency attempt),
   * `keepMs` how long its record must outlive the horizon (so a later try can resolve it).
   */
  async begin(
    scope: ExecuteScope,
    fingerprint: string,
    options: { id?: string; keepMs?: number } = {},
  ): Promise<ExecuteIntent> {
    const intent: ExecuteIntent = { id: options.id ?? randomUUID(), scope, atMs: Date.now(), fingerprint };
    const record: IntentRecord = { ...intent, state: 'sent' };
    this.localIntents.set(intent.id, record);
    await this.shared(() =>
      this.redis.runScript(
        LEDGER_BEGIN,
        [this.recordKey(intent.id), this.intentsKey(scope)],
        [
          JSON.stringify(record),
          Math.ceil(Math.max(this.horizonMs * 2, options.keepMs ?? 0)),
          intent.atMs,
          intent.id,
          Math.ceil(this.horizonMs * 2),
        ],
      ),
    );
    return intent;
  }

  /** The call's answer was lost: it is looking for its run (no longer "in flight" for the others). */
  async reconciling(intent: ExecuteIntent): Promise<void> {
    await this.update(intent, 'reconciling');
  }

  /**
   * The call learnt its run: the intent is over and the run is claimed (unconditionally: Maia said so).
   * `also`: the caller's own SETs, sent in the same round trip (ADR 0042); true when they were written.
   */
  async settle(intent: ExecuteIntent, executionId: string, also?: TimedWrites): Promise<boolean> {
    const now = Date.now();
    this.localClaims.set(executionId, { intentId: intent.id, atMs: now });
    this.pruneLocal(now);
    // The claim, the record and the scope's set in one script (one round trip, one socket write).
    return this.update(intent, 'settled', executionId, this.claimKey(executionId), also);
  }

  /**
   * Claims a run found by reconciliation for this call, unless another call has it: true when this call
   * has it now. Fleet-wide with Redis (SET NX), so two reconciliations never get the same run.
   */
  async claim(intent: ExecuteIntent, executionId: string): Promise<boolean> {
    const local = this.localClaims.get(executionId);
    if (local && local.intentId !== intent.id) return false;
    // Held here before Redis is asked, so no other call of this process passes the check meanwhile.
    this.localClaims.set(executionId, { intentId: intent.id, atMs: Date.now() });
    const claimed = await this.shared(async () => {
      const key = this.claimKey(executionId);
      if (await this.redis.set(key, intent.id, { ttlMs: this.horizonMs * 2, onlyIfAbsent: true }))
        return true;
      return (await this.redis.get(key)) === intent.id;
    });
    if (claimed === false) {
      // Another replica's: remembered as claimed, so this process does not ask again.
      this.localClaims.set(executionId, { intentId: '', atMs: Date.now() });
      return false;
    }
    await this.update(intent, 'settled', executionId);
    return true;
  }

  /** The call certainly created nothing (Maia answered with an error, or it was never sent). */
  async abandon(intent: ExecuteIntent): Promise<void> {
    await this.update(intent, 'abandoned');
  }

  /** The call gave up looking for its run: it stays among the others, so nobody claims its run blindly. */
  async unknown(intent: ExecuteIntent): Promise<void> {
    await this.update(intent, 'unknown');
  }

  /**
   * The other calls of the same scope that began since `sinceMs` and are not over (sent, reconciling or
   * unknown): the calls that may have created an unclaimed run. This process's and the fleet's.
   */
  async others(intent: ExecuteIntent, sinceMs: number): Promise<IntentRecord[]> {
    const now = Date.now();
    this.pruneLocal(now);
    const found = new Map<string, IntentRecord>();
    for (const other of this.localIntents.values()) {
      if (other.id !== intent.id && sameScope(other.scope, intent.scope) && other.atMs >= sinceMs)
        found.set(other.id, other);
    }
    await this.shared(async () => {
      const key = this.intentsKey(intent.scope);
      await this.redis.sortedSetRemoveByScore(key, 0, now - this.horizonMs);
      const ids = (await this.redis.sortedSetRangeByScore(key, sinceMs)).filter((id) => id !== intent.id);
      const records = await this.redis.getMany(ids.map((id) => this.recordKey(id)));
      records.forEach((raw, i) => {
        const record = parseRecord(raw);
        // A member whose record is gone counts as in flight (the worst case) until it ages out.
        found.set(ids[i], record ?? found.get(ids[i]) ?? missingRecord(ids[i], intent));
      });
    });
    return [...found.values()].filter((other) => other.state !== 'settled' && other.state !== 'abandoned');
  }

  /** The ids among these that some call (any replica) already got. */
  async known(ids: string[]): Promise<Set<string>> {
    const found = new Set(ids.filter((id) => this.localClaims.has(id)));
    const rest = ids.filter((id) => !found.has(id));
    if (rest.length === 0) return found;
    const values = await this.shared(() => this.redis.getMany(rest.map((id) => this.claimKey(id))));
    values?.forEach((value, i) => {
      if (value !== null) found.add(rest[i]);
    });
    return found;
  }

  /**
   * Another call's record, by its id (e.g. an idempotency try whose owner died). `undefined` when no
   * record is known; throws when the shared ledger cannot be read (the answer would be a guess).
   */
  async record(id: string): Promise<IntentRecord | undefined> {
    const local = this.localIntents.get(id);
    if (!this.redis.enabled) return local;
    if (!this.redis.available) throw new Error('the execution ledger is unreachable');
    return parseRecord(await this.redis.get(this.recordKey(id))) ?? local;
  }

  /** With `claimKey`, the run is also claimed for this call (unconditionally), in the same script. */
  private async update(
    intent: ExecuteIntent,
    state: IntentState,
    executionId?: string,
    claimKey?: string,
    also?: TimedWrites,
  ): Promise<boolean> {
    const record: IntentRecord = { ...intent, state, ...(executionId ? { executionId } : {}) };
    const over = state === 'settled' || state === 'abandoned';
    if (over) this.localIntents.delete(intent.id);
    else this.localIntents.set(intent.id, record);
    const keys = [this.recordKey(intent.id), this.intentsKey(intent.scope)];
    // Only the record's value changes: its expiry (set at `begin`) is kept.
    const args: (string | number)[] = [JSON.stringify(record), over ? '1' : '0', intent.id];
    if (claimKey !== undefined) {
      keys.push(claimKey);
      args.push(intent.id, Math.ceil(this.horizonMs * 2));
    }
    if (also === undefined) {
      await this.shared(() => this.redis.runScript(LEDGER_UPDATE, keys, args));
      return false;
    }
    const sent = await this.shared(() => this.redis.runScriptAlong(LEDGER_UPDATE, keys, args, also));
    return sent?.written ?? false;
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

  private recordKey(intentId: string): string {
    return this.redis.key('maia', 'executions', 'intent', intentId);
  }

  private claimKey(executionId: string): string {
    return this.redis.key('maia', 'executions', 'claimed', executionId.toLowerCase());
  }

  private pruneLocal(now: number): void {
    for (const [id, intent] of this.localIntents)
      if (intent.atMs < now - this.horizonMs) this.localIntents.delete(id);
    for (const [id, claim] of this.localClaims) {
      if (claim.atMs >= now - this.horizonMs) break; // insertion order is time order
      this.localClaims.delete(id);
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

function parseRecord(raw: string | null): IntentRecord | undefined {
  if (raw === null) return undefined;
  try {
    const record = JSON.parse(raw) as IntentRecord;
    if (typeof record?.id === 'string' && typeof record.atMs === 'number' && typeof record.state === 'string')
      return record;
  } catch {
    // unreadable: as if absent
  }
  return undefined;
}

/** A call known only by its place in the scope's set: its fingerprint is unknown, so it matches nobody. */
function missingRecord(id: string, like: ExecuteIntent): IntentRecord {
  return { id, scope: like.scope, atMs: like.atMs, fingerprint: '', state: 'sent' };
}

function sameScope(a: ExecuteScope, b: ExecuteScope): boolean {
  return (
    a.projectId === b.projectId &&
    a.pipelineName === b.pipelineName &&
    a.environmentName === b.environmentName
  );
}
