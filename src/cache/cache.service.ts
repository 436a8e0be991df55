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
import { ALL_GENERATION, CacheKeys, UNSCOPED_GROUP } from './cache.keys';
import { CacheLoadCoordinator } from './cache-load.coordinator';
import { CacheMemoryTier } from './cache-memory.tier';
import { CacheSharedTier } from './cache-shared.tier';

export type { CacheCounters } from './cache.counters';

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
    const value = (envelope: CacheEnvelope): T => this.reader.read<T>(envelope, options.readOnly ?? false);
    const ref = this.keys.entry(resource, key, options.projectId);
    const counters = this.countersOf(resource);

    let generation = this.generations.local(ref.group);
    const local = this.memory.read(ref.entryKey, generation);
    if (local?.trusted) {
      counters.hits++;
      return value(local.envelope);
    }
    let candidate = local?.envelope;
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
    if (candidate && nowMs < candidate.freshUntilMs) {
      counters.hits++;
      return value(candidate);
    }
    if (candidate && nowMs < candidate.staleUntilMs && this.loads.mayRevalidate(ref)) {
      counters.staleWhileRevalidate++;
      this.loads.refreshInBackground(ref, loader, generation);
      return value(candidate);
    }

    counters.misses++;
    try {
      const outcome = await this.loads.load(ref, loader, generation);
      if (outcome.saved) counters.loadsSaved++;
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
