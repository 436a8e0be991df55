import { type MaiaExecution } from '../maia/maia.types';

/**
 * What an event says about an execution:
 * - SNAPSHOT: the state when the subscription began (or when the watcher first saw the run);
 * - STARTED: the run was started through the gateway and watched from its first second, or (project feed) it
 *   began after the subscription; a run the feed first sees finished gets one too, with its state as it began;
 * - CHANGED: status, message or finishedAt changed;
 * - FINISHED: the run reached a terminal status (the last event of an execution stream).
 */
export const executionEventKinds = ['SNAPSHOT', 'STARTED', 'CHANGED', 'FINISHED'] as const;
export type ExecutionEventKind = (typeof executionEventKinds)[number];

/** One event of a watched execution or project feed, as the transports receive it. */
export interface ExecutionWatchEvent {
  /** Opaque, monotonically increasing per execution (or per project feed); resume after it. */
  cursor: string;
  /** ISO-8601 UTC: when the gateway observed the change. */
  at: string;
  kind: ExecutionEventKind;
  execution: MaiaExecution;
}

/** The form kept in the store and sent over the channel: the cursor as a number, for ordering. */
export interface StoredEvent {
  sequence: number;
  at: string;
  kind: ExecutionEventKind;
  execution: MaiaExecution;
}

export function toWatchEvent(
  stored: StoredEvent,
  kind: ExecutionEventKind = stored.kind,
): ExecutionWatchEvent {
  return { cursor: String(stored.sequence), at: stored.at, kind, execution: stored.execution };
}

/** Who a subscription is counted against (limits). */
export interface SubscriberIdentity {
  /** The authenticated client (API key name, JWT subject) or, without authentication, the remote address. */
  clientKey?: string;
  /** One per WebSocket connection (any object or string that is stable for the connection's life). */
  connectionKey?: object | string;
  /** For metrics: `graphql`, `sse`, `wait`. */
  transport?: 'graphql' | 'sse' | 'wait';
}

export interface WatchOptions extends SubscriberIdentity {
  /** Resume after this cursor: the events after it from the history, then live ones. */
  after?: string;
}

/** A stream of events; `return()` ends it and releases everything it holds. */
export interface WatchStream<T = ExecutionWatchEvent> extends AsyncIterableIterator<T> {
  return(): Promise<IteratorResult<T>>;
}
