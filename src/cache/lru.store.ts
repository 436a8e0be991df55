/** A value and when it last went to the most recently used end (in moves of the store). */
interface Slot<V> {
  value: V;
  movedAt: number;
}

/**
 * A Map bounded to `maxEntries`, evicting the least recently used entry. Map-shaped on purpose: Keyv
 * accepts it as a store, and the cache's in-process level uses it directly. `maxEntries` 0 keeps nothing.
 *
 * A read moves its entry to the most recently used end only when the entry is not among the most recent
 * quarter of moves already: the same entries read over and over under load (a busy lookup is read
 * thousands of times a second) cost a map lookup each, not a delete and a re-insert that grows and
 * rehashes the map. The order stays LRU up to that quarter: an entry read survives at least three
 * quarters of `maxEntries` moves (inserts and reads that move) after that read.
 */
export class LruStore<V> {
  private readonly map = new Map<string, Slot<V>>();
  /** Moves to the most recently used end so far (inserts and reads that moved their entry). */
  private moves = 0;
  private readonly recentMoves: number;

  constructor(readonly maxEntries: number) {
    this.recentMoves = Math.floor(maxEntries / 4);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const slot = this.map.get(key);
    if (slot === undefined) return undefined;
    if (this.moves - slot.movedAt >= this.recentMoves) {
      // Map keeps insertion order: re-inserting moves the key to the most recently used end.
      this.map.delete(key);
      slot.movedAt = ++this.moves;
      this.map.set(key, slot);
    }
    return slot.value;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  set(key: string, value: V): this {
    if (this.maxEntries <= 0) return this;
    this.map.delete(key);
    this.map.set(key, { value, movedAt: ++this.moves });
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
    return this;
  }

  delete(key: string): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  *entries(): IterableIterator<[string, V]> {
    for (const [key, slot] of this.map) yield [key, slot.value];
  }
}
