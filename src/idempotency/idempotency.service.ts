import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, GatewayError, type ErrorDetails } from '../common/errors';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { LruStore } from '../cache/lru.store';

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

interface InFlight {
  fingerprint: string;
  /** Resolves to the value's JSON; rejects with the error the first request got. */
  promise: Promise<string>;
}

/** A finished-or-released notice: `e` carries the error of a released key to the requests waiting on it. */
interface IdempotencyEvent {
  i: string;
  e?: StoredError;
}

interface Claim {
  redisKey: string;
  pendingValue: string;
}

const RENEW_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

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
 * With Redis, a `SET NX PX` pending marker claims the key across replicas (renewed while the work runs, so
 * a crashed replica's claim lapses), the finished record is kept for the TTL, and pub/sub wakes the
 * requests waiting on it (polling covers a lost message). Without Redis, or while it is unreachable, the
 * same rules hold in this process's memory; finished records are also kept there, so a replica keeps
 * replaying what it did itself through a Redis outage.
 */
@Injectable()
export class IdempotencyService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyService.name);
  private readonly local: LruStore<LocalRecord>;
  private readonly inflight = new Map<string, InFlight>();
  private readonly waiters = new Map<string, Set<(event: IdempotencyEvent | undefined) => void>>();
  private unsubscribe?: () => Promise<void>;
  private readonly channel = `${RECORD_VERSION}:idem:events`;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {
    this.local = new LruStore(config.cache.idempotency.l1MaxEntries);
  }

  async onModuleInit(): Promise<void> {
    // The provider bounds the wait and re-subscribes after an outage, so a Redis outage never holds up the start.
    this.unsubscribe = await this.redis.subscribe(this.channel, (message) => this.onEvent(message));
  }

  async onModuleDestroy(): Promise<void> {
    await this.unsubscribe?.().catch(() => undefined);
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
    work: () => Promise<T>,
  ): Promise<{ value: T; replayed: boolean }> {
    this.validate(scope, key, fingerprint);
    const id = createHash('sha256').update(`${scope}\u0000${key}`).digest('hex');
    const deadlineMs = Date.now() + this.config.cache.idempotency.waitMs;

    for (;;) {
      const local = this.localRecord(id);
      if (local) return this.replay<T>(local, fingerprint);

      const running = this.inflight.get(id);
      if (running) {
        this.checkFingerprint(running.fingerprint, fingerprint);
        const json = await this.withinDeadline(running.promise, deadlineMs);
        return { value: JSON.parse(json) as T, replayed: true };
      }

      const client = this.redis.client;
      if (!client || !this.redis.available) return this.execute<T>(id, fingerprint, work);

      const redisKey = this.redis.key(RECORD_VERSION, 'idem', id);
      const pendingValue = JSON.stringify({ state: 'pending', fingerprint, owner: randomUUID() });
      let existing: IdempotencyRecord | undefined;
      try {
        const claimed = await client.set(
          redisKey,
          pendingValue,
          'PX',
          this.config.cache.idempotency.pendingTtlMs,
          'NX',
        );
        if (claimed === 'OK') return this.execute<T>(id, fingerprint, work, { redisKey, pendingValue });
        existing = parseRecord(await client.get(redisKey));
      } catch (error) {
        this.logger.warn(
          `Idempotency record unreachable in Redis (${(error as Error).message}); using memory`,
        );
        if (this.inflight.has(id) || this.localRecord(id)) continue;
        return this.execute<T>(id, fingerprint, work);
      }
      if (!existing) continue; // released or expired between the two commands: claim again
      this.checkFingerprint(existing.fingerprint, fingerprint);
      if (existing.state !== 'pending') {
        this.rememberLocally(id, existing);
        return this.replay<T>(existing, fingerprint);
      }
      // Another replica (or request) is running it: wait for its answer.
      if (Date.now() >= deadlineMs) throw this.stillRunning();
      const event = await this.nextEvent(
        id,
        Math.min(this.config.cache.lock.pollMs, Math.max(0, deadlineMs - Date.now())),
      );
      if (event?.e) throw errorFrom(event.e);
    }
  }

  private execute<T>(
    id: string,
    fingerprint: string,
    work: () => Promise<T>,
    claim?: Claim,
  ): Promise<{ value: T; replayed: boolean }> {
    // Started on the next microtask, so the in-flight entry exists before `work` can settle.
    const promise = Promise.resolve().then(() => this.perform(id, fingerprint, work, claim));
    const entry: InFlight = { fingerprint, promise };
    this.inflight.set(id, entry);
    const cleanup = () => {
      if (this.inflight.get(id) === entry) this.inflight.delete(id);
    };
    promise.then(cleanup, cleanup);
    return promise.then((json) => ({ value: JSON.parse(json) as T, replayed: false }));
  }

  private async perform<T>(
    id: string,
    fingerprint: string,
    work: () => Promise<T>,
    claim?: Claim,
  ): Promise<string> {
    const client = this.redis.client;
    const { pendingTtlMs } = this.config.cache.idempotency;
    const heartbeat =
      claim && client
        ? setInterval(
            () => {
              client
                .eval(RENEW_SCRIPT, 1, claim.redisKey, claim.pendingValue, pendingTtlMs)
                .catch(() => undefined);
            },
            Math.max(100, Math.floor(pendingTtlMs / 3)),
          )
        : undefined;
    let event: IdempotencyEvent = { i: id };
    try {
      let json: string;
      try {
        json = JSON.stringify((await work()) ?? null);
      } catch (error) {
        if (releasesKey(error)) {
          event = { i: id, e: storedErrorOf(error) };
          if (claim && client) {
            await client.eval(RELEASE_SCRIPT, 1, claim.redisKey, claim.pendingValue).catch(() => undefined);
          }
        } else {
          await this.store(id, { state: 'failed', fingerprint, error: storedErrorOf(error) }, claim);
        }
        throw error;
      }
      await this.store(id, { state: 'done', fingerprint, json }, claim);
      return json;
    } finally {
      clearInterval(heartbeat);
      if (claim) await this.redis.publish(this.channel, JSON.stringify(event)).catch(() => undefined);
    }
  }

  /** Keeps a finished record here and, when the key was claimed in Redis, there for the TTL. */
  private async store(id: string, record: FinishedRecord, claim?: Claim): Promise<void> {
    this.rememberLocally(id, record);
    if (!claim || !this.redis.client) return;
    try {
      await this.redis.client.set(
        claim.redisKey,
        JSON.stringify(record),
        'PX',
        this.config.cache.idempotency.ttlSeconds * 1000,
      );
    } catch (error) {
      // Other replicas may run it again once the pending marker lapses; this one still replays it.
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

  private rememberLocally(id: string, record: IdempotencyRecord): void {
    if (record.state === 'pending') return;
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

  /** Resolves on the next event for `id` (its payload), or with undefined after `timeoutMs`. */
  private nextEvent(id: string, timeoutMs: number): Promise<IdempotencyEvent | undefined> {
    return new Promise((resolve) => {
      let set = this.waiters.get(id);
      if (!set) {
        set = new Set();
        this.waiters.set(id, set);
      }
      const waiters = set;
      const done = (event: IdempotencyEvent | undefined): void => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(id) === waiters) this.waiters.delete(id);
        resolve(event);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      waiters.add(done);
    });
  }

  private onEvent(message: string): void {
    let event: IdempotencyEvent;
    try {
      event = JSON.parse(message) as IdempotencyEvent;
    } catch {
      return;
    }
    if (typeof event?.i !== 'string') return;
    for (const wake of [...(this.waiters.get(event.i) ?? [])]) wake(event);
  }
}
