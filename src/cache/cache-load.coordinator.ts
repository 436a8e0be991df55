import { Logger } from '@nestjs/common';
import type { AppConfig } from '../config';
import type { FlightPlan, SingleFlightLock } from '../redis';
import { isAuthoritative, type CacheResource } from './cache.constants';
import type { CacheCounters } from './cache.counters';
import { answersSince, envelopeOf, type CacheEnvelope } from './cache.envelope';
import type { EntryRef } from './cache.keys';
import type { CacheMemoryTier } from './cache-memory.tier';
import type { CacheSharedTier } from './cache-shared.tier';
import { LruStore } from './lru.store';

export interface LoadOutcome {
  envelope: CacheEnvelope;
  /** True when this caller's own load did not answer (it joined another's, here or on another replica). */
  saved: boolean;
}

/**
 * The load lock of an entry under given generations: a load started before an invalidation neither makes
 * the loads after it wait (they would not take its value) nor is woken by them.
 */
function lockKeyOf(ref: EntryRef, generation: string): string {
  return `${ref.lockKey}:g${generation}`;
}

/** A load running in this process: what its callers share. */
interface Flight {
  /** Settles as soon as the value is in L1 (before the shared write's answer, the lock release, the wake-up). */
  outcome: Promise<LoadOutcome>;
  /** The generations it loads under: a caller that knows newer ones must not take its value. */
  generation: string;
}

/**
 * Loads entries: one load per key in this process (shared promise) and across replicas (the Redis
 * single-flight lock), and stale-while-revalidate refreshes, one per key at a time.
 */
export class CacheLoadCoordinator {
  private readonly logger = new Logger(CacheLoadCoordinator.name);
  private readonly flights = new Map<string, Flight>();
  private readonly refreshing = new Set<string>();
  /** Keys whose last background refresh failed: the next caller loads (and is marked stale on failure). */
  private readonly refreshFailed: LruStore<true>;

  constructor(
    private readonly config: AppConfig['cache'],
    private readonly ttlMs: Record<CacheResource, number>,
    private readonly memory: CacheMemoryTier,
    private readonly shared: CacheSharedTier,
    private readonly lock: SingleFlightLock,
    private readonly counters: (resource: CacheResource) => CacheCounters,
  ) {
    this.refreshFailed = new LruStore(Math.max(config.l1MaxEntries, 100));
  }

  /** Whether stale-while-revalidate may answer for this key (its last background refresh did not fail). */
  mayRevalidate(ref: EntryRef): boolean {
    return this.ttlMs[ref.resource] > 0 && !this.refreshFailed.has(ref.entryKey);
  }

  /**
   * Loads the entry, sharing one load with every concurrent caller of this process and of the fleet.
   * Callers of this process get the value as soon as it is in L1 (one promise settles for them all); the
   * shared write, the lock release and the other replicas' wake-up (three Redis round trips) follow
   * without holding them.
   * A load under older generations (started before an invalidation) is not joined: its value is not current.
   */
  async load<T>(ref: EntryRef, loader: () => Promise<T>, generation: string): Promise<LoadOutcome> {
    const running = this.flights.get(ref.entryKey);
    if (running?.generation === generation)
      return { envelope: (await running.outcome).envelope, saved: true };
    let handOver!: (envelope: CacheEnvelope) => void;
    const handedOver = new Promise<LoadOutcome>((resolve) => {
      handOver = (envelope) => resolve({ envelope, saved: false });
    });
    const whole = this.loadAcrossReplicas(ref, loader, generation, (envelope) => handOver(envelope));
    const flight: Flight = { outcome: Promise.race([handedOver, whole]), generation };
    const done = (): void => {
      if (this.flights.get(ref.entryKey) === flight) this.flights.delete(ref.entryKey);
    };
    // The value is in L1 when the flight settles: later callers find it there, not in the flight.
    flight.outcome.then(done, done);
    this.flights.set(ref.entryKey, flight);
    return flight.outcome;
  }

  /** Stale-while-revalidate: one refresh per key at a time, here and across replicas; nobody waits for it. */
  refreshInBackground<T>(ref: EntryRef, loader: () => Promise<T>, generation: string): void {
    if (this.refreshing.has(ref.entryKey) || this.flights.has(ref.entryKey)) return;
    this.refreshing.add(ref.entryKey);
    // The failure is flagged as soon as the loader fails, before the lock release and wake-up that follow.
    const flagged = async (): Promise<T> => {
      try {
        return await loader();
      } catch (error) {
        if (!isAuthoritative(error)) this.refreshFailed.set(ref.entryKey, true);
        throw error;
      }
    };
    const refresh = async (): Promise<void> => {
      if (!this.shared.coordinated) {
        await this.loadHere(ref, flagged, generation);
        return;
      }
      // Without waiting: a lock held elsewhere means another replica is refreshing this key.
      const outcome = await this.lock.run(this.plan(ref, flagged, generation, 0));
      if (outcome.kind === 'unavailable') {
        this.shared.failed('Cache lock', outcome.error);
        await this.loadHere(ref, flagged, generation);
      }
    };
    refresh()
      .catch((error: Error) => {
        this.logger.debug(`Background refresh of ${ref.resource} failed: ${error.message}`);
      })
      .finally(() => this.refreshing.delete(ref.entryKey));
  }

  /**
   * The replica that takes the lock loads; the others wait for its answer and load themselves only if
   * the wait ends without one. Without a usable Redis, the in-process flight suffices.
   */
  private async loadAcrossReplicas<T>(
    ref: EntryRef,
    loader: () => Promise<T>,
    generation: string,
    onLoaded: (envelope: CacheEnvelope) => void,
  ): Promise<LoadOutcome> {
    if (!this.shared.coordinated)
      return { envelope: await this.loadHere(ref, loader, generation, onLoaded), saved: false };
    const outcome = await this.lock.run(
      this.plan(ref, loader, generation, this.config.lock.waitMs, onLoaded),
    );
    switch (outcome.kind) {
      case 'worked':
        return { envelope: outcome.value, saved: false };
      case 'found':
        return { envelope: outcome.value, saved: true };
      case 'unavailable':
        this.shared.failed('Cache lock', outcome.error);
        return { envelope: await this.loadHere(ref, loader, generation, onLoaded), saved: false };
      case 'busy':
      case 'failed': {
        const envelope = await this.loadHere(ref, loader, generation, onLoaded).finally(() =>
          this.lock.announce(lockKeyOf(ref, generation)),
        );
        return { envelope, saved: false };
      }
    }
  }

  private plan<T>(
    ref: EntryRef,
    loader: () => Promise<T>,
    generation: string,
    waitMs: number,
    onLoaded?: (envelope: CacheEnvelope) => void,
  ): FlightPlan<CacheEnvelope> {
    const sinceMs = Date.now();
    const { ttlMs, pollMs } = this.config.lock;
    return {
      lockKey: lockKeyOf(ref, generation),
      lockTtlMs: ttlMs,
      waitMs,
      pollMs,
      // Another replica may have stored an answer (it writes before it releases the lock).
      lookup: async () => {
        const found = await this.shared.readCurrent(ref);
        if (!found || !answersSince(found, sinceMs)) return undefined;
        this.memory.remember(ref, found);
        return found;
      },
      work: () => this.loadHere(ref, loader, generation, onLoaded),
    };
  }

  /**
   * Calls the loader, stores its value in L1, hands it to this process's callers (`onLoaded`) and stores
   * it in L2; the lock release and the other replicas' wake-up follow the L2 write.
   */
  private async loadHere<T>(
    ref: EntryRef,
    loader: () => Promise<T>,
    generation: string,
    onLoaded?: (envelope: CacheEnvelope) => void,
  ): Promise<CacheEnvelope> {
    const counters = this.counters(ref.resource);
    counters.loads++;
    try {
      const value = await loader();
      const envelope = envelopeOf(
        value,
        this.ttlMs[ref.resource],
        this.config.staleMaxAgeSeconds * 1000,
        generation,
      );
      // This process's callers get the value once it is in L1, while its shared write is on its way: they
      // do not wait for Redis's acknowledgement (a round trip that took 35 ms of a cold stampede's answers
      // on a busy machine). Another replica still finds it: the lock is released only after the write, and a
      // replica that misses L2 meanwhile waits for the lock and its wake-up, then reads it there.
      let written: Promise<void> | undefined;
      if (Date.now() < envelope.staleUntilMs) {
        this.memory.remember(ref, envelope);
        written = this.shared.write(ref, envelope);
      }
      onLoaded?.(envelope);
      await written;
      this.refreshFailed.delete(ref.entryKey);
      return envelope;
    } catch (error) {
      counters.loadErrors++;
      if (isAuthoritative(error)) {
        this.memory.forget(ref.entryKey);
        await this.shared.drop(ref);
      }
      throw error;
    }
  }
}
