import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { randomUUID } from 'node:crypto';
import { ErrorCode, GatewayError } from '../common/errors';
import { RequestContext } from '../common/request-context';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { CACHE_KEY_VERSION, CACHE_RESOURCES, type CacheResource } from './cache.constants';
import { ALL_GENERATION, CacheKeys, UNSCOPED_GROUP, type EntryRef } from './cache.keys';
import { LruStore } from './lru.store';

/** Counters per resource, for metrics. Every answer counts once as hit, staleWhileRevalidate or miss. */
export interface CacheCounters {
  /** Answered from a fresh entry (in-process or Redis). */
  hits: number;
  /** Answered at once from an entry past its TTL while one background refresh ran. */
  staleWhileRevalidate: number;
  /** Had no usable entry and waited for a load (this caller's, a shared one, or another replica's). */
  misses: number;
  /** Misses answered with a stale entry because the load failed (the request is marked stale). */
  stale: number;
  /** Loader calls made by this process, background refreshes included. */
  loads: number;
  /** Loader calls that failed. */
  loadErrors: number;
  /** Misses answered by a load this caller did not start (single-flight in-process or across replicas). */
  loadsSaved: number;
}

interface CacheEnvelope {
  /** The value as JSON text: every reader gets its own copy, and every level answers the same shape. */
  json: string;
  storedAtMs: number;
  freshUntilMs: number;
  /** Until when the entry may be served stale (refresh in the background, or Maia failing). */
  staleUntilMs: number;
  /** The generations it was loaded under (`<all>.<group>`); after an invalidation they no longer match. */
  generation: string;
}

interface L1Entry {
  envelope: CacheEnvelope;
  group: string;
  /** Answer from here without asking Redis until then (at most l1TtlSeconds, never past freshness). */
  trustUntilMs: number;
}

interface LoadOutcome {
  envelope: CacheEnvelope;
  /** False when another replica's load answered. */
  loadedHere: boolean;
}

type LockResult = { kind: 'acquired'; token: string } | { kind: 'held' } | { kind: 'unavailable' };

type CacheEvent = { t: 'done'; k: string } | { t: 'inv'; g: Record<string, number> };

/** How long the cache leaves Redis alone after a failed command (see redisUsable). */
const REDIS_SUSPEND_MS = 1_000;

/** Compare-and-delete: a lock is released only by the replica that holds it. */
const RELEASE_LOCK_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * Upstream errors that are answers, not outages: the thing is gone or may not be seen, or the request was
 * wrong. They drop the entry and reach the caller; stale data never hides them.
 */
const AUTHORITATIVE_CODES = new Set<ErrorCode>([
  ErrorCode.NOT_FOUND,
  ErrorCode.FORBIDDEN,
  ErrorCode.BAD_USER_INPUT,
]);

function isAuthoritative(error: unknown): boolean {
  return error instanceof GatewayError && AUTHORITATIVE_CODES.has(error.code);
}

function isEnvelope(value: unknown): value is CacheEnvelope {
  const e = value as Partial<CacheEnvelope> | null | undefined;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.json === 'string' &&
    typeof e.storedAtMs === 'number' &&
    typeof e.freshUntilMs === 'number' &&
    typeof e.staleUntilMs === 'number' &&
    typeof e.generation === 'string'
  );
}

function emptyCounters(): CacheCounters {
  return { hits: 0, staleWhileRevalidate: 0, misses: 0, stale: 0, loads: 0, loadErrors: 0, loadsSaved: 0 };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Two-level cache of Maia's answers (see docs/adr/0003-caching.md).
 *
 * L1 is a small LRU in this process; L2 is cache-manager over Redis (a Keyv store on the one ioredis
 * connection), or over a bounded in-memory store when no Redis is configured. It holds Maia's answers to
 * the gateway's one credential only: authorization filters above it, so no caller's view is ever cached.
 */
@Injectable()
export class CacheService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(CacheService.name);
  private readonly keys: CacheKeys;
  private readonly l1: LruStore<L1Entry>;
  /** Keys whose last background refresh failed: the next caller loads (and is marked stale on failure). */
  private readonly refreshFailed: LruStore<true>;
  private readonly flights = new Map<string, Promise<LoadOutcome>>();
  private readonly refreshing = new Set<string>();
  /** Values handed to `readOnly` readers, per envelope (gone with the envelope). */
  private readonly frozenValues = new WeakMap<CacheEnvelope, unknown>();
  private readonly fillWaiters = new Map<string, Set<() => void>>();
  /** Last known generation numbers (Redis holds the truth when configured). */
  private readonly generations = new Map<string, number>();
  private readonly counters = new Map<CacheResource, CacheCounters>(
    CACHE_RESOURCES.map((r) => [r, emptyCounters()]),
  );
  private unsubscribe?: () => Promise<void>;
  private redisSuspendedUntilMs = 0;
  private readonly ttlMs: Record<CacheResource, number>;
  private readonly staleMaxAgeMs: number;
  private readonly l1TtlMs: number;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
    @Inject(CACHE_MANAGER) private readonly l2: Cache,
    @Inject(CACHE_KEY_VERSION) version: string,
  ) {
    const { ttlSeconds, staleMaxAgeSeconds, l1MaxEntries, l1TtlSeconds } = config.cache;
    this.keys = new CacheKeys(redis, version);
    this.l1 = new LruStore(l1MaxEntries);
    this.refreshFailed = new LruStore(Math.max(l1MaxEntries, 100));
    this.ttlMs = {
      projects: ttlSeconds.projects * 1000,
      projectDirectory: ttlSeconds.projects * 1000,
      environments: ttlSeconds.environments * 1000,
      pipelines: ttlSeconds.pipelines * 1000,
    };
    this.staleMaxAgeMs = staleMaxAgeSeconds * 1000;
    this.l1TtlMs = l1TtlSeconds * 1000;
    // A fresh connection ends any pause taken after failed commands.
    redis.client?.on('ready', () => (this.redisSuspendedUntilMs = 0));
  }

  async onModuleInit(): Promise<void> {
    // The provider bounds the wait and re-subscribes after an outage, so a Redis outage never holds up the start.
    this.unsubscribe = await this.redis.subscribe(this.keys.channel(), (message) => this.onEvent(message));
  }

  async onModuleDestroy(): Promise<void> {
    await this.unsubscribe?.().catch(() => undefined);
  }

  /**
   * Returns the cached value or loads it. `key` identifies the entry within the resource (e.g.
   * `${projectId}:${environmentName}:${page}:${size}`); `projectId` groups it for invalidation.
   * The loader must return JSON data; every caller gets its own copy (undefined is cached as null).
   */
  async getOrLoad<T>(
    resource: CacheResource,
    key: string,
    loader: () => Promise<T>,
    options: { projectId?: string; readOnly?: boolean } = {},
  ): Promise<T> {
    const value = (envelope: CacheEnvelope): T =>
      options.readOnly ? this.frozen<T>(envelope) : this.parse<T>(envelope);
    const ref = this.keys.entry(resource, key, options.projectId);
    const counters = this.counters.get(resource) as CacheCounters;

    const local = this.l1.get(ref.entryKey);
    let generation = this.localGeneration(ref.group);
    let candidate = local?.envelope.generation === generation ? local.envelope : undefined;
    if (local && candidate && Date.now() < local.trustUntilMs) {
      counters.hits++;
      return value(candidate);
    }

    if (this.sharedLevelUsable()) {
      const shared = await this.readShared(ref);
      if (shared.generation !== undefined) {
        generation = shared.generation;
        if (candidate && candidate.generation !== generation) candidate = undefined;
        const found = shared.envelope;
        if (found?.generation === generation && (!candidate || found.storedAtMs >= candidate.storedAtMs)) {
          candidate = found;
          this.remember(ref, found);
        }
      }
    }

    const nowMs = Date.now();
    if (candidate && nowMs < candidate.freshUntilMs) {
      counters.hits++;
      return value(candidate);
    }
    if (
      candidate &&
      nowMs < candidate.staleUntilMs &&
      this.ttlMs[resource] > 0 &&
      !this.refreshFailed.has(ref.entryKey)
    ) {
      counters.staleWhileRevalidate++;
      this.refreshInBackground(ref, loader, generation);
      return value(candidate);
    }

    counters.misses++;
    let joined = false;
    let flight = this.flights.get(ref.entryKey);
    if (flight) {
      joined = true;
    } else {
      flight = this.loadAcrossReplicas(ref, loader, generation).finally(() =>
        this.flights.delete(ref.entryKey),
      );
      this.flights.set(ref.entryKey, flight);
    }
    try {
      const outcome = await flight;
      if (joined || !outcome.loadedHere) counters.loadsSaved++;
      return value(outcome.envelope);
    } catch (error) {
      if (!isAuthoritative(error) && candidate && Date.now() < candidate.staleUntilMs) {
        counters.stale++;
        RequestContext.markStale(resource);
        return value(candidate);
      }
      throw error;
    }
  }

  /**
   * Drops every entry (or those of one project, together with the entries grouped under no project, such
   * as project lists, which may name it) on every replica: generations in Redis make old entries misses,
   * and a pub/sub message clears each replica's L1. Answers `{ invalidated: 'all' }` or the project id.
   */
  async invalidate(scope: { projectId?: string } = {}): Promise<{ invalidated: string }> {
    const { projectId } = scope;
    const names = projectId === undefined ? [ALL_GENERATION] : [this.keys.groupOf(projectId), UNSCOPED_GROUP];
    const client = this.redis.client;
    let generations: Record<string, number>;
    if (client) {
      try {
        const multi = client.multi();
        for (const name of names) multi.incr(this.keys.generation(name));
        const results = (await multi.exec()) ?? [];
        const numbers = names.map((_, i) => Number(results[i]?.[1]));
        if (results.some(([error]) => error) || numbers.some((n) => !Number.isFinite(n))) {
          throw new Error('INCR failed');
        }
        generations = Object.fromEntries(names.map((name, i) => [name, numbers[i]]));
      } catch {
        this.applyInvalidation(this.bumpLocally(names));
        throw new GatewayError(
          ErrorCode.UPSTREAM_UNAVAILABLE,
          "The shared cache is unavailable: only this replica's cache was cleared",
        );
      }
    } else {
      generations = this.bumpLocally(names);
    }
    this.applyInvalidation(generations);
    const event: CacheEvent = { t: 'inv', g: generations };
    await this.redis.publish(this.keys.channel(), JSON.stringify(event)).catch((error: Error) => {
      this.logger.warn(`Invalidation not broadcast (${error.message}); other replicas converge by TTL`);
    });
    return { invalidated: projectId ?? 'all' };
  }

  /** Counters per resource since start (copies). */
  stats(): Record<CacheResource, CacheCounters> {
    return Object.fromEntries(CACHE_RESOURCES.map((r) => [r, { ...this.counters.get(r) }])) as Record<
      CacheResource,
      CacheCounters
    >;
  }

  /** How many entries the in-process level holds (for metrics and tests). */
  get l1Size(): number {
    return this.l1.size;
  }

  // --- loading ------------------------------------------------------------------------------------------

  /**
   * One load per key across replicas: the replica that takes the Redis lock loads; the others wait for
   * its answer (pub/sub wake-up, polling as a fallback) and load themselves only if the lock holder gives
   * up without an answer or the bounded wait ends. Without a usable Redis, the in-process flight suffices.
   */
  private async loadAcrossReplicas<T>(
    ref: EntryRef,
    loader: () => Promise<T>,
    generation: string,
  ): Promise<LoadOutcome> {
    if (!this.redisUsable()) return this.loadHere(ref, loader, generation);
    const waitStartedAtMs = Date.now();
    const deadlineMs = waitStartedAtMs + this.config.cache.lock.waitMs;
    for (;;) {
      const lock = await this.tryLock(ref);
      if (lock.kind === 'acquired') {
        const done = await this.loadedMeanwhile(ref, waitStartedAtMs);
        if (done) {
          await this.releaseLock(ref, lock.token);
          return { envelope: done, loadedHere: false };
        }
        return this.loadHere(ref, loader, generation, lock.token);
      }
      if (lock.kind === 'unavailable') return this.loadHere(ref, loader, generation);
      const filled = await this.waitForOtherReplica(ref, waitStartedAtMs, deadlineMs);
      if (filled === 'timeout') return this.loadHere(ref, loader, generation);
      if (filled !== 'released') return { envelope: filled, loadedHere: false };
    }
  }

  private async loadHere<T>(
    ref: EntryRef,
    loader: () => Promise<T>,
    generation: string,
    lockToken?: string,
  ): Promise<LoadOutcome> {
    const counters = this.counters.get(ref.resource) as CacheCounters;
    counters.loads++;
    try {
      const value = await loader();
      const envelope = this.envelopeOf(ref.resource, value, generation);
      if (Date.now() < envelope.staleUntilMs) {
        this.remember(ref, envelope);
        await this.writeShared(ref, envelope);
      }
      this.refreshFailed.delete(ref.entryKey);
      return { envelope, loadedHere: true };
    } catch (error) {
      counters.loadErrors++;
      if (isAuthoritative(error)) await this.drop(ref);
      throw error;
    } finally {
      if (lockToken) await this.releaseLock(ref, lockToken);
      if (this.redisUsable()) {
        const event: CacheEvent = { t: 'done', k: ref.entryKey };
        await this.redis.publish(this.keys.channel(), JSON.stringify(event)).catch(() => undefined);
      }
    }
  }

  /** Stale-while-revalidate: one refresh per key at a time, in this process and across replicas. */
  private refreshInBackground<T>(ref: EntryRef, loader: () => Promise<T>, generation: string): void {
    if (this.refreshing.has(ref.entryKey) || this.flights.has(ref.entryKey)) return;
    this.refreshing.add(ref.entryKey);
    const refresh = async (): Promise<void> => {
      let token: string | undefined;
      if (this.redisUsable()) {
        const startedAtMs = Date.now();
        const lock = await this.tryLock(ref);
        if (lock.kind === 'held') return; // another replica is refreshing this key
        if (lock.kind === 'acquired') {
          token = lock.token;
          if (await this.loadedMeanwhile(ref, startedAtMs)) return this.releaseLock(ref, token);
        }
      }
      // The failure is flagged as soon as the loader fails, before the lock release and event that follow.
      const flagged = async (): Promise<T> => {
        try {
          return await loader();
        } catch (error) {
          if (!isAuthoritative(error)) this.refreshFailed.set(ref.entryKey, true);
          throw error;
        }
      };
      await this.loadHere(ref, flagged, generation, token);
    };
    refresh()
      .catch((error: Error) => {
        this.logger.debug(`Background refresh of ${ref.resource} failed: ${error.message}`);
      })
      .finally(() => this.refreshing.delete(ref.entryKey));
  }

  /**
   * Double-check after taking the lock: another replica may have stored a fresh answer between our read
   * and our lock (it writes before it releases), and loading again would break "one load per key".
   */
  private async loadedMeanwhile(ref: EntryRef, sinceMs: number): Promise<CacheEnvelope | undefined> {
    const shared = await this.readShared(ref);
    const found = shared.envelope;
    if (found && found.generation === shared.generation && this.answers(found, sinceMs)) {
      this.remember(ref, found);
      return found;
    }
    return undefined;
  }

  /** Fresh, or (for a TTL of 0) stored since the caller started waiting. */
  private answers(envelope: CacheEnvelope, sinceMs: number): boolean {
    return Date.now() < envelope.freshUntilMs || envelope.storedAtMs >= sinceMs;
  }

  private async waitForOtherReplica(
    ref: EntryRef,
    waitStartedAtMs: number,
    deadlineMs: number,
  ): Promise<CacheEnvelope | 'released' | 'timeout'> {
    while (Date.now() < deadlineMs) {
      await this.nextSignal(ref.entryKey, Math.min(this.config.cache.lock.pollMs, deadlineMs - Date.now()));
      const [shared, lockHeld] = await Promise.all([this.readShared(ref), this.lockHeld(ref)]);
      const found = shared.envelope;
      if (found && found.generation === shared.generation && this.answers(found, waitStartedAtMs)) {
        this.remember(ref, found);
        return found;
      }
      if (!lockHeld) return 'released';
    }
    return 'timeout';
  }

  /** Resolves on the next "load done" event for the key, or after `timeoutMs`. */
  private nextSignal(entryKey: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let waiters = this.fillWaiters.get(entryKey);
      if (!waiters) {
        waiters = new Set();
        this.fillWaiters.set(entryKey, waiters);
      }
      const set = waiters;
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.fillWaiters.get(entryKey) === set) this.fillWaiters.delete(entryKey);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      set.add(done);
    });
  }

  // --- Redis and L1 plumbing ----------------------------------------------------------------------------

  /** L2 is usable in memory mode, and with Redis only while the connection is ready (fail fast otherwise). */
  private sharedLevelUsable(): boolean {
    return !this.redis.enabled || this.redisUsable();
  }

  /**
   * Redis is configured, connected, and did not just fail a command. A dead Redis drops the connection and
   * `available` turns false at once; a hung one only times commands out, so after a failure the cache leaves
   * Redis alone for a moment instead of making every request wait for its own timeout.
   */
  private redisUsable(): boolean {
    return this.redis.client !== null && this.redis.available && Date.now() >= this.redisSuspendedUntilMs;
  }

  private redisFailed(what: string, error: unknown): void {
    this.redisSuspendedUntilMs = Date.now() + REDIS_SUSPEND_MS;
    this.logger.debug(`${what} failed: ${(error as Error).message}`);
  }

  /** The L2 entry and the current generation, read together; `generation` is undefined when Redis failed. */
  private async readShared(ref: EntryRef): Promise<{ envelope?: CacheEnvelope; generation?: string }> {
    const client = this.redis.client;
    try {
      if (!client) {
        const found = await this.l2.get<unknown>(ref.entryKey);
        return {
          envelope: isEnvelope(found) ? found : undefined,
          generation: this.localGeneration(ref.group),
        };
      }
      const [found, numbers] = await Promise.all([
        this.l2.get<unknown>(ref.entryKey),
        client.mget(this.keys.generation(ALL_GENERATION), this.keys.generation(ref.group)),
      ]);
      const all = Number(numbers[0] ?? 0);
      const group = Number(numbers[1] ?? 0);
      // Redis is the truth (it may even have been flushed): adopt what it says.
      this.generations.set(ALL_GENERATION, all);
      this.generations.set(ref.group, group);
      return { envelope: isEnvelope(found) ? found : undefined, generation: `${all}.${group}` };
    } catch (error) {
      this.redisFailed('Shared cache read', error);
      return {};
    }
  }

  private async writeShared(ref: EntryRef, envelope: CacheEnvelope): Promise<void> {
    if (!this.sharedLevelUsable()) return;
    try {
      await this.l2.set(ref.entryKey, envelope, envelope.staleUntilMs - Date.now());
    } catch (error) {
      this.redisFailed('Shared cache write', error);
    }
  }

  private async drop(ref: EntryRef): Promise<void> {
    this.l1.delete(ref.entryKey);
    if (!this.sharedLevelUsable()) return;
    await this.l2.del(ref.entryKey).catch(() => undefined);
  }

  private async tryLock(ref: EntryRef): Promise<LockResult> {
    const client = this.redis.client;
    if (!client) return { kind: 'unavailable' };
    const token = randomUUID();
    try {
      const ok = await client.set(ref.lockKey, token, 'PX', this.config.cache.lock.ttlMs, 'NX');
      return ok === 'OK' ? { kind: 'acquired', token } : { kind: 'held' };
    } catch (error) {
      this.redisFailed('Cache lock', error);
      return { kind: 'unavailable' };
    }
  }

  private async lockHeld(ref: EntryRef): Promise<boolean> {
    try {
      return ((await this.redis.client?.exists(ref.lockKey)) ?? 0) > 0;
    } catch {
      return false;
    }
  }

  private async releaseLock(ref: EntryRef, token: string): Promise<void> {
    try {
      await this.redis.client?.eval(RELEASE_LOCK_SCRIPT, 1, ref.lockKey, token);
    } catch {
      // The lock expires by itself.
    }
  }

  private remember(ref: EntryRef, envelope: CacheEnvelope): void {
    this.l1.set(ref.entryKey, {
      envelope,
      group: ref.group,
      trustUntilMs: Math.min(envelope.freshUntilMs, Date.now() + this.l1TtlMs),
    });
  }

  private envelopeOf(resource: CacheResource, value: unknown, generation: string): CacheEnvelope {
    const storedAtMs = Date.now();
    const ttlMs = this.ttlMs[resource];
    return {
      json: JSON.stringify(value ?? null),
      storedAtMs,
      freshUntilMs: storedAtMs + ttlMs,
      staleUntilMs: storedAtMs + Math.max(ttlMs, this.staleMaxAgeMs),
      generation,
    };
  }

  private parse<T>(envelope: CacheEnvelope): T {
    return JSON.parse(envelope.json) as T;
  }

  /**
   * One deep-frozen value per envelope, shared by every reader of it (`readOnly`): a large entry read on
   * every request (the project directory, walked by the guard) is parsed once per load, not per read.
   */
  private frozen<T>(envelope: CacheEnvelope): T {
    let value = this.frozenValues.get(envelope);
    if (value === undefined) {
      value = deepFreeze(JSON.parse(envelope.json) as unknown);
      this.frozenValues.set(envelope, value);
    }
    return value as T;
  }

  private localGeneration(group: string): string {
    return `${this.generations.get(ALL_GENERATION) ?? 0}.${this.generations.get(group) ?? 0}`;
  }

  private bumpLocally(names: string[]): Record<string, number> {
    return Object.fromEntries(names.map((name) => [name, (this.generations.get(name) ?? 0) + 1]));
  }

  /** Adopts newer generations and drops the L1 entries they cover. Idempotent (own messages come back). */
  /** Called after every invalidation this replica applies (its own or another replica's, via pub/sub). */
  onInvalidated(listener: () => void): void {
    this.invalidationListeners.push(listener);
  }

  private readonly invalidationListeners: (() => void)[] = [];

  private applyInvalidation(generations: Record<string, number>): void {
    for (const listener of this.invalidationListeners) listener();
    for (const [name, value] of Object.entries(generations)) {
      if (Number.isFinite(value) && value > (this.generations.get(name) ?? 0))
        this.generations.set(name, value);
    }
    if (ALL_GENERATION in generations) {
      this.l1.clear();
      return;
    }
    for (const [entryKey, entry] of [...this.l1.entries()]) {
      if (entry.group in generations) this.l1.delete(entryKey);
    }
  }

  private onEvent(message: string): void {
    let event: CacheEvent;
    try {
      event = JSON.parse(message) as CacheEvent;
    } catch {
      return;
    }
    if (event?.t === 'done' && typeof event.k === 'string') {
      for (const wake of [...(this.fillWaiters.get(event.k) ?? [])]) wake();
    } else if (event?.t === 'inv' && typeof event.g === 'object' && event.g !== null) {
      this.applyInvalidation(event.g);
    }
  }
}
