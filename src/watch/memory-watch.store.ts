import { type AppendOptions, type WatchStore } from './watch.store';
import { type StoredEvent } from './watch.types';

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

/**
 * The store of a single replica without Redis: the same semantics in memory. Expiry is checked lazily,
 * so the store holds no timers.
 */
export class MemoryWatchStore implements WatchStore {
  private readonly leases = new Map<string, Expiring<string>>();
  private readonly sequences = new Map<string, Expiring<number>>();
  private readonly histories = new Map<string, Expiring<StoredEvent[]>>();
  private readonly states = new Map<string, Expiring<string>>();
  /** In-process: the caller publishes on the in-process channel itself. */
  readonly announcesWrites = false;

  async acquireLease(topic: string, owner: string, leaseMs: number): Promise<boolean> {
    if (this.live(this.leases, topic) !== undefined) return false;
    this.leases.set(topic, { value: owner, expiresAt: Date.now() + leaseMs });
    return true;
  }

  async acquireLeaseReadingLatest(
    topic: string,
    owner: string,
    leaseMs: number,
  ): Promise<{ latest: StoredEvent | null } | null> {
    if (!(await this.acquireLease(topic, owner, leaseMs))) return null;
    return { latest: (this.live(this.histories, topic) ?? []).at(-1) ?? null };
  }

  async renewLease(topic: string, owner: string, leaseMs: number): Promise<boolean> {
    if (this.live(this.leases, topic) !== owner) return false;
    this.leases.set(topic, { value: owner, expiresAt: Date.now() + leaseMs });
    return true;
  }

  async releaseLease(topic: string, owner: string): Promise<boolean> {
    if (this.live(this.leases, topic) !== owner) return false;
    this.leases.delete(topic);
    return true;
  }

  async append(
    topic: string,
    owner: string,
    event: Omit<StoredEvent, 'sequence'>,
    { historySize, ttlMs, leaseMs, final, claim }: AppendOptions,
  ): Promise<StoredEvent | null> {
    const holder = this.live(this.leases, topic);
    if (holder !== owner) {
      const claimable = claim && holder === undefined && this.live(this.sequences, topic) === undefined;
      if (!claimable) return null;
    }
    if (final) this.leases.delete(topic);
    else this.leases.set(topic, { value: owner, expiresAt: Date.now() + leaseMs });
    const expiresAt = Date.now() + ttlMs;
    const sequence = (this.live(this.sequences, topic) ?? Date.now()) + 1;
    this.sequences.set(topic, { value: sequence, expiresAt });
    const stored: StoredEvent = { sequence, ...event };
    const history = [...(this.live(this.histories, topic) ?? []), stored].slice(-historySize);
    this.histories.set(topic, { value: history, expiresAt });
    return stored;
  }

  async history(topic: string): Promise<StoredEvent[]> {
    return [...(this.live(this.histories, topic) ?? [])];
  }

  async lastSequence(topic: string): Promise<number | null> {
    return this.live(this.sequences, topic) ?? null;
  }

  async getState(topic: string, name: string): Promise<string | null> {
    return this.live(this.states, `${topic}|${name}`) ?? null;
  }

  async setState(
    topic: string,
    name: string,
    value: string,
    ttlMs: number,
    owner?: string,
  ): Promise<boolean> {
    if (owner !== undefined && this.live(this.leases, topic) !== owner) return false;
    this.states.set(`${topic}|${name}`, { value, expiresAt: Date.now() + ttlMs });
    return true;
  }

  private live<T>(map: Map<string, Expiring<T>>, key: string): T | undefined {
    const entry = map.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      map.delete(key);
      return undefined;
    }
    return entry.value;
  }
}
