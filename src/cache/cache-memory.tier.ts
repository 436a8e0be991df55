import type { CacheEnvelope } from './cache.envelope';
import { ALL_GENERATION, type EntryRef } from './cache.keys';
import { LruStore } from './lru.store';

interface MemoryEntry {
  envelope: CacheEnvelope;
  group: string;
  /** Answer from here without asking Redis until then (at most the L1 TTL, never past freshness). */
  trustUntilMs: number;
}

/**
 * L1: a small LRU of envelopes in this process. An entry is trusted without asking Redis for a short
 * while, so replicas converge without pub/sub too; past that it stays as a last stale copy.
 */
export class CacheMemoryTier {
  private readonly entries: LruStore<MemoryEntry>;

  constructor(
    maxEntries: number,
    private readonly trustMs: number,
  ) {
    this.entries = new LruStore(maxEntries);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry if it was loaded under `generation`; `trusted` when Redis need not be asked. */
  read(entryKey: string, generation: string): { envelope: CacheEnvelope; trusted: boolean } | undefined {
    const entry = this.entries.get(entryKey);
    if (entry?.envelope.generation !== generation) return undefined;
    return { envelope: entry.envelope, trusted: Date.now() < entry.trustUntilMs };
  }

  remember(ref: EntryRef, envelope: CacheEnvelope): void {
    this.entries.set(ref.entryKey, {
      envelope,
      group: ref.group,
      trustUntilMs: Math.min(envelope.freshUntilMs, Date.now() + this.trustMs),
    });
  }

  forget(entryKey: string): void {
    this.entries.delete(entryKey);
  }

  /** Drops the entries of the invalidated generations (all of them for the `all` generation). */
  dropGroups(generations: Record<string, number>): void {
    if (ALL_GENERATION in generations) {
      this.entries.clear();
      return;
    }
    for (const [entryKey, entry] of [...this.entries.entries()]) {
      if (entry.group in generations) this.entries.delete(entryKey);
    }
  }
}
