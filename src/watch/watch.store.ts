import { type StoredEvent } from './watch.types';

/**
 * Where the shared poller keeps its coordination state: one lease, the event history and small named
 * state values per topic (an execution or a project feed). Redis-backed across replicas; memory-backed for
 * a single replica without Redis. Writes that only the leader may make are fenced by the lease owner, so
 * a leader that lost its lease (a long pause, a partition) can never append a duplicate.
 */
export interface WatchStore {
  /**
   * True when `append` also publishes the stored event on the topic's channel and `releaseLease` publishes
   * `released`, each in the same round trip as the write (Redis: inside the script). Otherwise the caller
   * publishes itself.
   */
  readonly announcesWrites: boolean;
  /** `SET lease owner NX PX leaseMs`. */
  acquireLease(topic: string, owner: string, leaseMs: number): Promise<boolean>;
  /**
   * `acquireLease`, and when it was taken, the newest kept event as of that moment (no other leader can
   * append after it), in the same round trip: what a new leader starts from. Null when not taken.
   */
  acquireLeaseReadingLatest(
    topic: string,
    owner: string,
    leaseMs: number,
  ): Promise<{ latest: StoredEvent | null } | null>;
  /** Extends the lease when `owner` still holds it. */
  renewLease(topic: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Deletes the lease when `owner` still holds it. */
  releaseLease(topic: string, owner: string): Promise<boolean>;
  /**
   * Appends an event with the next cursor and trims the history to `historySize`; null when `owner` does
   * not hold the lease. Cursors only grow, even after the history expired and started again. The write
   * also extends the owner's lease to `leaseMs` from now (a fenced write proves the owner is alive), so a
   * leader that writes needs fewer renewals.
   */
  append(
    topic: string,
    owner: string,
    event: Omit<StoredEvent, 'sequence'>,
    options: AppendOptions,
  ): Promise<StoredEvent | null>;
  /** The kept history, oldest first. */
  history(topic: string): Promise<StoredEvent[]>;
  /** The cursor of the newest event ever appended (while the history lives), or null. */
  lastSequence(topic: string): Promise<number | null>;
  getState(topic: string, name: string): Promise<string | null>;
  /** Sets a named value; with an owner, only while that owner holds the lease. */
  setState(topic: string, name: string, value: string, ttlMs: number, owner?: string): Promise<boolean>;
}

export interface AppendOptions {
  historySize: number;
  ttlMs: number;
  leaseMs: number;
  /**
   * The topic's last event (a terminal execution): the same write deletes the lease instead of extending
   * it (and, when the store announces writes, publishes `released`), as the leader would right after.
   */
  final?: boolean;
  /**
   * The leader of a run just launched here, leading before it took the lease (`TopicLease.claim`): the
   * write takes the lease when it is free and the topic has no history yet, and is refused (null) when
   * another owner holds the lease or events were recorded already. When the owner holds the lease, as any
   * append.
   */
  claim?: boolean;
}

/** Entries are `<sequence> <json>`, so the append script can number them without parsing JSON. */
export function decodeEntry(entry: string): StoredEvent | null {
  const space = entry.indexOf(' ');
  const sequence = Number(entry.slice(0, space));
  if (space < 1 || !Number.isSafeInteger(sequence)) return null;
  try {
    const body = JSON.parse(entry.slice(space + 1)) as Omit<StoredEvent, 'sequence'>;
    return { sequence, ...body };
  } catch {
    return null;
  }
}
