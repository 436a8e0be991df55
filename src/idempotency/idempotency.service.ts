import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { LruStore } from '../cache/lru.store';
import { ErrorCode, GatewayError, type ErrorDetails } from '../common/errors';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { SingleFlightLock } from '../redis/single-flight.lock';

/** Bump when the stored record's shape changes, so a deploy never misreads an older one. */
const RECORD_VERSION = 'v1';
const MAX_KEY_LENGTH = 255;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
const FINGERPRINT_SHAPE = /^[A-Za-z0-9+/=._:-]{1,255}$/;

interface StoredError {
  code: ErrorCode;
  message: string;
  details: ErrorDetails;
}

type PendingRecord = { state: 'pending'; fingerprint: string; owner: string };
type FinishedRecord =
  | { state: 'done'; fingerprint: string; json: string }
  | { state: 'failed'; fingerprint: string; error: StoredError };
type IdempotencyRecord = PendingRecord | FinishedRecord;

interface LocalRecord {
  record: FinishedRecord;
  expiresAtMs: number;
}

/**
 * One try at the work of a key, handed to the work so that it can record what it starts under this id.
 * `resumes` names the previous try when that one's owner went away before leaving a finished record: the
 * work must find out what that try did (e.g. from the execution ledger) before doing anything again.
 */
export interface IdempotencyAttempt {
  id: string;
  resumes?: string;
}

/** How soon a caller refused for an unreachable store may try again. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

interface InFlight {
  fingerprint: string;
  /** Resolves to the value's JSON; rejects with the error the first request got. */
  promise: Promise<string>;
}

function parseRecord(raw: string | null): IdempotencyRecord | undefined {
  if (raw === null) return undefined;
  try {
    const record = JSON.parse(raw) as IdempotencyRecord;
    if (typeof record?.fingerprint !== 'string') return undefined;
    if (record.state === 'pending' || record.state === 'done' || record.state === 'failed') return record;
  } catch {
    // An unreadable record counts as none.
  }
  return undefined;
}

/**
 * Errors after which the key is released so the client can retry: a GatewayError means the Maia client
 * knows nothing was created (it reconciles an unknown outcome, or reports UPSTREAM_OUTCOME_UNKNOWN).
 * UPSTREAM_OUTCOME_UNKNOWN and unexpected errors are remembered instead: the run may exist, and a retry
 * with the same key must never create a second one.
 */
function releasesKey(error: unknown): boolean {
  return error instanceof GatewayError && error.code !== ErrorCode.UPSTREAM_OUTCOME_UNKNOWN;
}

function parseAttempt(raw: string | null): string | undefined {
  if (raw === null) return undefined;
  try {
    const attempt = JSON.parse(raw) as { id?: unknown };
    return typeof attempt?.id === 'string' ? attempt.id : undefined;
  } catch {
    return undefined;
  }
}

/** The attempt record's value: the try's id. */
function attemptValue(attempt: IdempotencyAttempt): string {
  return JSON.stringify({ id: attempt.id });
}

/**
 * A released error that still leaves the try's outcome open: the caller gave up while the work was in
 * flight (`aborted`), so what it started may exist, and the next try must resolve it.
 */
function leftOpen(error: unknown): boolean {
  return error instanceof GatewayError && error.details.aborted === true;
}

function storedErrorOf(error: unknown): StoredError {
  if (error instanceof GatewayError)
    return { code: error.code, message: error.message, details: error.details };
  return {
    code: ErrorCode.INTERNAL,
    message: 'The first request with this idempotency key failed unexpectedly; its outcome is unknown',
    details: {},
  };
}

function errorFrom(stored: StoredError): GatewayError {
  return new GatewayError(stored.code, stored.message, stored.details);
}

/**
 * Runs a side effect at most once per (caller, idempotency key), on any replica (see docs/adr/0003-caching.md).
 *
 * With Redis, the record key itself is the single-flight lock: its pending marker (renewed while the work
 * runs, so a crashed replica's claim lapses) carries the fingerprint, the finished record replaces it for
 * the TTL, and waiters on other replicas are woken when it lands. Each try also leaves its id under the
 * key's attempt record, so that a try whose owner died (its pending marker lapsed) is resolved by the next
 * one before anything runs again (see docs/adr/0021-idempotency-needs-the-shared-store.md).
 *
 * With Redis configured, Redis is the only store: while it is unreachable a keyed request is refused with
 * IDEMPOTENCY_UNAVAILABLE, never run on this replica's private memory, and nothing is replayed from memory
 * afterwards. Without Redis (one replica), the same rules hold in this process's memory.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyService.name);
  private readonly local: LruStore<LocalRecord>;
  private readonly inflight = new Map<string, InFlight>();
  private readonly flights: SingleFlightLock;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {
    this.local = new LruStore(config.cache.idempotency.l1MaxEntries);
    this.flights = new SingleFlightLock(redis, `${RECORD_VERSION}:idem:flights`);
  }

  async onModuleInit(): Promise<void> {
    await this.flights.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.flights.stop();
  }

  /** How many requests of this process wait for another replica's answer (for tests and metrics). */
  get waiting(): number {
    return this.flights.waiting;
  }

  /**
   * First call runs `work`; a repeat (same scope and key) within the TTL returns the stored value with
   * `replayed: true`; a repeat while the first runs waits for its answer (then CONFLICT if it takes longer
   * than the wait); the same key with another fingerprint → IDEMPOTENCY_KEY_REUSED. The value must be JSON
   * data; every caller gets its own copy of it.
   *
   * @param scope the caller's identity, so two clients' keys never collide
   * @param fingerprint a stable hash of the request (see `fingerprintOf`)
   */
  async run<T>(
    scope: string,
    key: string,
    fingerprint: string,
    work: (attempt: IdempotencyAttempt) => Promise<T>,
  ): Promise<{ value: T; replayed: boolean }> {
    this.validate(scope, key, fingerprint);
    const id = createHash('sha256').update(`${scope}\u0000${key}`).digest('hex');
    const deadlineMs = Date.now() + this.config.cache.idempotency.waitMs;

    const shared = this.redis.enabled;
    if (!shared) {
      const local = this.localRecord(id);
      if (local) return this.replay<T>(local, fingerprint);
    }
    const running = this.inflight.get(id);
    if (running) {
      this.checkFingerprint(running.fingerprint, fingerprint);
      const json = await this.withinDeadline(running.promise, deadlineMs);
      return { value: JSON.parse(json) as T, replayed: true };
    }
    if (!shared) return this.parsed<T>(this.execute(id, fingerprint, () => work({ id: randomUUID() })));
    if (!this.redis.available) throw this.unavailable();

    const recordKey = this.redis.key(RECORD_VERSION, 'idem', id);
    const { pendingTtlMs } = this.config.cache.idempotency;
    const outcome = await this.flights.run<FinishedRecord>({
      lockKey: recordKey,
      lockValue: JSON.stringify({ state: 'pending', fingerprint, owner: randomUUID() }),
      lockTtlMs: pendingTtlMs,
      keepRenewed: true,
      waitMs: Math.max(0, deadlineMs - Date.now()),
      pollMs: this.config.cache.lock.pollMs,
      lookup: () => this.sharedRecord(recordKey, fingerprint),
      work: async () => {
        const attempt = await this.nextAttempt(recordKey);
        try {
          return {
            state: 'done',
            fingerprint,
            json: await this.execute(id, fingerprint, () => work(attempt), recordKey),
          };
        } catch (error) {
          if (releasesKey(error) && !leftOpen(error)) await this.forgetAttempt(recordKey, attempt);
          throw error;
        }
      },
      // A released key's error goes to the waiters; a remembered one they read from the record.
      failureOf: (error) => (releasesKey(error) ? JSON.stringify(storedErrorOf(error)) : undefined),
    });
    switch (outcome.kind) {
      case 'worked': // the work's record is always 'done': its failures are thrown
        return { ...this.replay<T>(outcome.value, fingerprint), replayed: false };
      case 'found':
        return this.replay<T>(outcome.value, fingerprint);
      case 'failed':
        throw errorFrom(JSON.parse(outcome.failure) as StoredError);
      case 'busy':
        throw this.stillRunning();
      case 'unavailable':
        this.logger.warn(`Idempotency record unreachable in Redis (${outcome.error.message}); refused`);
        throw this.unavailable();
    }
  }

  /**
   * Records this try under the key's attempt record, naming the previous try when one is there: a
   * previous try that left no finished record was cut short (its owner died, or its record was never
   * saved), and the work must resolve it before running again. Unsaved, nothing runs.
   */
  private async nextAttempt(recordKey: string): Promise<IdempotencyAttempt> {
    const attemptKey = `${recordKey}:attempt`;
    try {
      const previous = parseAttempt(await this.redis.get(attemptKey));
      const attempt: IdempotencyAttempt = { id: randomUUID() };
      if (previous) attempt.resumes = previous;
      await this.redis.set(attemptKey, attemptValue(attempt), {
        ttlMs: this.config.cache.idempotency.ttlSeconds * 1000,
      });
      if (previous) this.logger.warn('Idempotency key: the previous try left no answer; resolving it first');
      return attempt;
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      this.logger.warn(`Idempotency attempt not recorded in Redis (${(error as Error).message}); refused`);
      throw this.unavailable();
    }
  }

  /**
   * The finished record another request left in Redis. A pending marker is the lock itself: it only says
   * whether the running request is this one's twin. An unreadable Redis counts as no record.
   */
  private async sharedRecord(recordKey: string, fingerprint: string): Promise<FinishedRecord | undefined> {
    let record: IdempotencyRecord | undefined;
    try {
      record = parseRecord(await this.redis.get(recordKey));
    } catch {
      return undefined;
    }
    if (record) this.checkFingerprint(record.fingerprint, fingerprint);
    return record?.state === 'pending' ? undefined : record;
  }

  private async parsed<T>(json: Promise<string>): Promise<{ value: T; replayed: boolean }> {
    return { value: JSON.parse(await json) as T, replayed: false };
  }

  /** Runs the work as this process's one flight for `id`, which concurrent repeats here join. */
  private execute<T>(
    id: string,
    fingerprint: string,
    work: () => Promise<T>,
    recordKey?: string,
  ): Promise<string> {
    // Started on the next microtask, so the in-flight entry exists before `work` can settle.
    const promise = Promise.resolve().then(() => this.perform(id, fingerprint, work, recordKey));
    const entry: InFlight = { fingerprint, promise };
    this.inflight.set(id, entry);
    const cleanup = () => {
      if (this.inflight.get(id) === entry) this.inflight.delete(id);
    };
    promise.then(cleanup, cleanup);
    return promise;
  }

  private async perform<T>(
    id: string,
    fingerprint: string,
    work: () => Promise<T>,
    recordKey?: string,
  ): Promise<string> {
    let json: string;
    try {
      json = JSON.stringify((await work()) ?? null);
    } catch (error) {
      // A released key is left to the lock's release; any other outcome is unknown and remembered.
      if (!releasesKey(error)) {
        await this.store(id, { state: 'failed', fingerprint, error: storedErrorOf(error) }, recordKey);
      }
      throw error;
    }
    await this.store(id, { state: 'done', fingerprint, json }, recordKey);
    return json;
  }

  /** Keeps a finished record in Redis for the TTL when the key was claimed there, here otherwise. */
  private async store(id: string, record: FinishedRecord, recordKey?: string): Promise<void> {
    if (!recordKey) {
      this.rememberLocally(id, record);
      return;
    }
    try {
      await this.redis.set(recordKey, JSON.stringify(record), {
        ttlMs: this.config.cache.idempotency.ttlSeconds * 1000,
      });
    } catch (error) {
      // The pending marker lapses; the next try finds this one's attempt record and resolves it first.
      this.logger.warn(`Idempotency record not saved to Redis: ${(error as Error).message}`);
    }
  }

  private replay<T>(record: FinishedRecord, fingerprint: string): { value: T; replayed: boolean } {
    this.checkFingerprint(record.fingerprint, fingerprint);
    if (record.state === 'failed') throw errorFrom(record.error);
    return { value: JSON.parse(record.json) as T, replayed: true };
  }

  private checkFingerprint(stored: string, given: string): void {
    if (stored !== given) {
      throw new GatewayError(
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        'This idempotency key was already used for a different request',
      );
    }
  }

  /**
   * A try that ended with a released key created nothing: the next try must resolve what was open before
   * it (the try it resumed, which may itself be unresolved), not this one, which may have no trace.
   */
  private async forgetAttempt(recordKey: string, attempt: IdempotencyAttempt): Promise<void> {
    const attemptKey = `${recordKey}:attempt`;
    try {
      if (attempt.resumes === undefined) await this.redis.deleteIfEquals(attemptKey, attemptValue(attempt));
      else
        await this.redis.set(attemptKey, attemptValue({ id: attempt.resumes }), {
          ttlMs: this.config.cache.idempotency.ttlSeconds * 1000,
        });
    } catch (error) {
      // Left in place, the next try resolves this one: conservative (UPSTREAM_OUTCOME_UNKNOWN at worst).
      this.logger.warn(`Idempotency attempt not reset in Redis (${(error as Error).message})`);
    }
  }

  private unavailable(): GatewayError {
    return new GatewayError(
      ErrorCode.IDEMPOTENCY_UNAVAILABLE,
      'The idempotency store is unreachable, so this request was not run; retry later with the same key',
      { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS },
    );
  }

  private stillRunning(): GatewayError {
    return new GatewayError(
      ErrorCode.CONFLICT,
      'A request with this idempotency key is still in progress; retry later with the same key',
    );
  }

  private async withinDeadline(promise: Promise<string>, deadlineMs: number): Promise<string> {
    const giveUp = new AbortController();
    try {
      return await Promise.race([
        promise,
        sleep(Math.max(0, deadlineMs - Date.now()), undefined, { signal: giveUp.signal }).then(() => {
          throw this.stillRunning();
        }),
      ]);
    } finally {
      giveUp.abort();
    }
  }

  private localRecord(id: string): FinishedRecord | undefined {
    const entry = this.local.get(id);
    if (!entry) return undefined;
    if (Date.now() >= entry.expiresAtMs) {
      this.local.delete(id);
      return undefined;
    }
    return entry.record;
  }

  private rememberLocally(id: string, record: FinishedRecord): void {
    this.local.set(id, { record, expiresAtMs: Date.now() + this.config.cache.idempotency.ttlSeconds * 1000 });
  }

  private validate(scope: string, key: string, fingerprint: string): void {
    if (
      typeof key !== 'string' ||
      key.length === 0 ||
      key.length > MAX_KEY_LENGTH ||
      CONTROL_CHARACTERS.test(key)
    ) {
      throw new GatewayError(
        ErrorCode.BAD_USER_INPUT,
        `An idempotency key must be 1 to ${MAX_KEY_LENGTH} characters without control characters`,
      );
    }
    // Scope and fingerprint come from the gateway itself: a bad one is a bug, not the client's fault.
    if (typeof scope !== 'string' || scope.length === 0 || scope.length > 512) {
      throw new Error('IdempotencyService.run needs a caller scope of 1 to 512 characters');
    }
    if (typeof fingerprint !== 'string' || !FINGERPRINT_SHAPE.test(fingerprint)) {
      throw new Error('IdempotencyService.run needs a fingerprint of 1 to 255 token characters');
    }
  }
}
