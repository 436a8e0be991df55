import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import { RequestContext } from '../common/request-context';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisService, SingleFlightLock } from '../redis';
import { CACHE_KEY_VERSION, CACHE_RESOURCES, isAuthoritative, type CacheResource } from './cache.constants';
import { emptyCounters, type CacheCounters } from './cache.counters';
import { EnvelopeReader, type CacheEnvelope } from './cache.envelope';
import { CacheGenerations } from './cache.generations';
import { ALL_GENERATION, CacheKeys, UNSCOPED_GROUP, type EntryRef } from './cache.keys';
import { CacheLoadCoordinator } from './cache-load.coordinator';
import { CacheMemoryTier } from './cache-memory.tier';
import { CacheSharedTier } from './cache-shared.tier';

export type { CacheCounters } from './cache.counters';

/** What a look at an entry found; each caller sharing the look counts it and answers from it. */
type Found =
  | { kind: 'hit' | 'revalidating' | 'stale'; envelope: CacheEnvelope }
  | { kind: 'loaded'; envelope: CacheEnvelope; saved: boolean }
  | { kind: 'failed'; error: unknown };

/** A look running in this process, under the generations this replica knew when it started. */
interface LookState {
  generation: string;
  /** Callers sharing it so far. */
  callers: number;
  /** It found nothing usable and loads: its callers have been counted as misses (and later ones are at once). */
  missed: boolean;
}
interface Look extends LookState {
  result: Promise<Found>;
}

/**
 * Two-level cache of Maia's answers (see docs/adr/0003-caching.md): L1 in this process, L2 shared through
 * Redis (or memory alone), generations for invalidation, one load per key across the fleet. It holds
 * Maia's answers to the gateway's one credential only: authorization filters above it.
 */
@Injectable()
export class CacheService implements OnModuleInit, OnModuleDestroy {
  private readonly keys: CacheKeys;
  private readonly memory: CacheMemoryTier;
  private readonly shared: CacheSharedTier;
  private readonly generations: CacheGenerations;
  private readonly lock: SingleFlightLock;
  private readonly loads: CacheLoadCoordinator;
  private readonly reader = new EnvelopeReader();
  private readonly looks = new Map<string, Look>();
  private readonly counters = new Map<CacheResource, CacheCounters>(
    CACHE_RESOURCES.map((r) => [r, emptyCounters()]),
  );

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    redis: RedisService,
    @Inject(CACHE_MANAGER) store: Cache,
    @Inject(CACHE_KEY_VERSION) version: string,
  ) {
    const { ttlSeconds, l1MaxEntries, l1TtlSeconds } = config.cache;
    const ttlMs: Record<CacheResource, number> = {
      projects: ttlSeconds.projects * 1000,
      projectDirectory: ttlSeconds.projects * 1000,
      environments: ttlSeconds.environments * 1000,
      pipelines: ttlSeconds.pipelines * 1000,
      // Published versions change when pipelines are published, runners about as often as environments.
      artifacts: ttlSeconds.pipelines * 1000,
      agents: ttlSeconds.environments * 1000,
    };
    this.keys = new CacheKeys(redis, version);
    this.memory = new CacheMemoryTier(l1MaxEntries, l1TtlSeconds * 1000);
    this.generations = new CacheGenerations(redis, this.keys);
    this.generations.onChange((generations) => this.memory.dropGroups(generations));
    this.shared = new CacheSharedTier(redis, store, this.generations);
    this.lock = new SingleFlightLock(redis, this.keys.flightChannel());
    this.loads = new CacheLoadCoordinator(config.cache, ttlMs, this.memory, this.shared, this.lock, (r) =>
      this.countersOf(r),
    );
  }

  async onModuleInit(): Promise<void> {
    await Promise.all([this.generations.start(), this.lock.start()]);
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([this.generations.stop(), this.lock.stop()]);
  }

  /**
   * Returns the cached value or loads it. `key` identifies the entry within the resource (e.g.
   * `${projectId}:${environmentName}:${page}:${size}`); `projectId` groups it for invalidation.
   * The loader must return JSON data; every caller gets its own copy (undefined is cached as null), or
   * with `readOnly` one deep-frozen value shared by every reader of the same load.
   */
  async getOrLoad<T>(
    resource: CacheResource,
    key: string,
    loader: () => Promise<T>,
    options: { projectId?: string; readOnly?: boolean } = {},
  ): Promise<T> {
    return this.getOrLoadNow(resource, key, loader, options);
  }

  /**
   * `getOrLoad`, without a promise when this process's memory holds the entry and may answer it without
   * asking Redis (most reads of a busy replica): the value itself then, else `getOrLoad`'s promise. For
   * callers that answer synchronously when they can (the edge reads); the counters are the same.
   */
  getOrLoadNow<T>(
    resource: CacheResource,
    key: string,
    loader: () => Promise<T>,
    options: { projectId?: string; readOnly?: boolean } = {},
  ): T | Promise<T> {
    const ref = this.keys.entry(resource, key, options.projectId);
    const generation = this.generations.local(ref.group);
    const local = this.memory.read(ref.entryKey, generation);
    if (local?.trusted) {
      this.countersOf(resource).hits++;
      return this.reader.read<T>(local.envelope, options.readOnly ?? false);
    }
    return this.lookUp(ref, generation, local?.envelope, loader, options.readOnly ?? false);
  }

  /** The rest of `getOrLoadNow`: an entry this process may not answer alone (missing, or past its trust). */
  private async lookUp<T>(
    ref: EntryRef,
    generation: string,
    local: CacheEnvelope | undefined,
    loader: () => Promise<T>,
    readOnly: boolean,
  ): Promise<T> {
    const value = (envelope: CacheEnvelope): T => this.reader.read<T>(envelope, readOnly);
    const counters = this.countersOf(ref.resource);
    // One look per entry at a time in this process: callers that ask while one runs (a stampede) share
    // its result instead of each reading Redis, and get the loaded value in the same step as the first.
    let look = this.looks.get(ref.entryKey);
    const joined = look?.generation === generation;
    if (!look || !joined) {
      const state: LookState = { generation, callers: 0, missed: false };
      const started: Look = Object.assign(state, { result: this.look(state, ref, loader, local) });
      const done = (): void => {
        if (this.looks.get(ref.entryKey) === started) this.looks.delete(ref.entryKey);
      };
      void started.result.then(done, done);
      this.looks.set(ref.entryKey, started);
      look = started;
    }
    look.callers++;
    if (look.missed) counters.misses++;
    const found = await look.result;
    switch (found.kind) {
      case 'hit':
        counters.hits++;
        return value(found.envelope);
      case 'revalidating':
        counters.staleWhileRevalidate++;
        return value(found.envelope);
      case 'loaded':
        if (joined || found.saved) counters.loadsSaved++;
        return value(found.envelope);
      case 'stale':
        counters.stale++;
        // Marked in each caller's own request, which is why the look returns it instead of marking it.
        RequestContext.markStale(ref.resource);
        return value(found.envelope);
      case 'failed':
        throw found.error;
    }
  }

  /**
   * What the entry is now: L2 and the current generations (one round trip), then a hit, a stale answer
   * with a background refresh, or a load (single-flight across replicas). Never rejects: a failed load is
   * `stale` when a stale copy may answer, else `failed` with the load's error unchanged.
   */
  private async look<T>(
    look: LookState,
    ref: EntryRef,
    loader: () => Promise<T>,
    local: CacheEnvelope | undefined,
  ): Promise<Found> {
    let generation = look.generation;
    let candidate = local;
    if (this.shared.usable) {
      const shared = await this.shared.read(ref);
      if (shared.generation !== undefined) {
        generation = shared.generation;
        if (candidate && candidate.generation !== generation) candidate = undefined;
        const found = shared.envelope;
        if (found?.generation === generation && (!candidate || found.storedAtMs >= candidate.storedAtMs)) {
          candidate = found;
          this.memory.remember(ref, found);
        }
      }
    }

    const nowMs = Date.now();
    if (candidate && nowMs < candidate.freshUntilMs) return { kind: 'hit', envelope: candidate };
    if (candidate && nowMs < candidate.staleUntilMs && this.loads.mayRevalidate(ref)) {
      this.loads.refreshInBackground(ref, loader, generation);
      return { kind: 'revalidating', envelope: candidate };
    }
    // A miss for every caller: those sharing the look now, and those who join it while it loads.
    look.missed = true;
    this.countersOf(ref.resource).misses += look.callers;
    try {
      const outcome = await this.loads.load(ref, loader, generation);
      return { kind: 'loaded', envelope: outcome.envelope, saved: outcome.saved };
    } catch (error) {
      if (!isAuthoritative(error) && candidate && Date.now() < candidate.staleUntilMs)
        return { kind: 'stale', envelope: candidate };
      return { kind: 'failed', error };
    }
  }

  /**
   * Drops every entry (or those of one project, together with the entries grouped under no project, such
   * as project lists, which may name it) on every replica. Answers `{ invalidated: 'all' }` or the id.
   */
  async invalidate(scope: { projectId?: string } = {}): Promise<{ invalidated: string }> {
    const { projectId } = scope;
    await this.generations.bump(
      projectId === undefined ? [ALL_GENERATION] : [this.keys.groupOf(projectId), UNSCOPED_GROUP],
    );
    return { invalidated: projectId ?? 'all' };
  }

  /** Called after every invalidation this replica applies (its own or another replica's, via pub/sub). */
  onInvalidated(listener: () => void): void {
    this.generations.onChange(() => listener());
  }

  /** Counters per resource since start (copies). */
  stats(): Record<CacheResource, CacheCounters> {
    return Object.fromEntries(CACHE_RESOURCES.map((r) => [r, { ...this.countersOf(r) }])) as Record<
      CacheResource,
      CacheCounters
    >;
  }

  /** How many entries the in-process level holds (for metrics and tests). */
  get l1Size(): number {
    return this.memory.size;
  }

  private countersOf(resource: CacheResource): CacheCounters {
    return this.counters.get(resource) as CacheCounters;
  }
}
