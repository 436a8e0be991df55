/**
 * A Map bounded to `maxEntries`, evicting the least recently used entry. Map-shaped on purpose: Keyv
 * accepts it as a store, and the cache's in-process level uses it directly. `maxEntries` 0 keeps nothing.
 */
export class LruStore<V> {
  private readonly map = new Map<string, V>();

  constructor(readonly maxEntries: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      // Map keeps insertion order: re-inserting moves the key to the most recently used end.
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  set(key: string, value: V): this {
    if (this.maxEntries <= 0) return this;
    this.map.delete(key);
    this.map.set(key, value);
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

  entries(): IterableIterator<[string, V]> {
    return this.map.entries();
  }
}
