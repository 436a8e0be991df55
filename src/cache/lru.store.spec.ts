import { LruStore } from './lru.store';

describe('LruStore', () => {
  it('keeps at most maxEntries, evicting the least recently used', () => {
    const store = new LruStore<number>(3);
    store.set('a', 1).set('b', 2).set('c', 3);
    expect(store.get('a')).toBe(1); // a is now the most recently used: b goes first
    store.set('d', 4);
    expect([...store.entries()]).toEqual([
      ['c', 3],
      ['a', 1],
      ['d', 4],
    ]);
    expect(store.has('b')).toBe(false);
    expect(store.size).toBe(3);
  });

  it('overwrites a value and moves it to the most recently used end', () => {
    const store = new LruStore<string>(2);
    store.set('a', 'old').set('b', 'x').set('a', 'new').set('c', 'y');
    expect(store.get('a')).toBe('new');
    expect(store.has('b')).toBe(false);
  });

  it('keeps nothing with maxEntries 0, and deletes and clears', () => {
    const empty = new LruStore<number>(0);
    empty.set('a', 1);
    expect(empty.size).toBe(0);
    expect(empty.get('a')).toBeUndefined();

    const store = new LruStore<number>(4);
    store.set('a', 1).set('b', 2);
    expect(store.delete('a')).toBe(true);
    expect(store.delete('a')).toBe(false);
    store.clear();
    expect(store.size).toBe(0);
  });

  it('does not reorder on a read of an entry moved within the most recent quarter of moves', () => {
    const store = new LruStore<number>(8);
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) store.set(key, 0);
    // h was the last move: reading it leaves the order as it is (no delete and re-insert).
    store.get('h');
    expect([...store.entries()].map(([key]) => key)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    // a was moved 7 moves before the last (at least a quarter of 8): reading it moves it.
    store.get('a');
    expect([...store.entries()].map(([key]) => key)).toEqual(['b', 'c', 'd', 'e', 'f', 'g', 'h', 'a']);
  });

  it('keeps a key read every 47 moves of 64 while new keys keep arriving (a FIFO would drop it)', () => {
    const store = new LruStore<number>(64);
    for (let i = 0; i < 64; i++) store.set(`old${i}`, i);
    for (let i = 0; i < 2_000; i++) {
      if (i % 47 === 0) expect(store.get('old0')).toBe(0);
      store.set(`new${i}`, i);
    }
    expect(store.has('old0')).toBe(true);
    expect(store.has('old1')).toBe(false);
  });

  it('keeps every entry read within the last three quarters of maxEntries moves (random operations)', () => {
    const maxEntries = 64;
    const store = new LruStore<number>(maxEntries);
    // A small linear congruential generator: the same sequence every run.
    let seed = 12345;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    // When each key was last set or read, counted in touches (sets and reads that found their entry): a
    // move of the store is one of these, so fewer touches since a key's last one means fewer moves too.
    const touchedAt = new Map<string, number>();
    let touches = 0;
    let evictedEarly = 0;
    for (let op = 0; op < 5_000; op++) {
      const key = `k${next(200)}`;
      if (next(3) === 0) {
        store.set(key, op);
        touchedAt.set(key, ++touches);
      } else if (store.get(key) !== undefined) {
        touchedAt.set(key, ++touches);
      }
      expect(store.size).toBeLessThanOrEqual(maxEntries);
      for (const [touched, at] of touchedAt) {
        if (touches - at < (3 * maxEntries) / 4 && !store.has(touched)) evictedEarly++;
      }
    }
    expect(evictedEarly).toBe(0);
  });
});
