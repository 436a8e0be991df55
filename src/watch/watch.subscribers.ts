import { ErrorCode, GatewayError } from '../common/errors';
import { isTerminalStatus, type ExecutionListFilter, type MaiaExecution } from '../maia/maia.types';
import { EventQueue } from './event-queue';
import { type TopicListener } from './topic.channel';
import {
  toWatchEvent,
  type ExecutionEventKind,
  type ExecutionWatchEvent,
  type StoredEvent,
} from './watch.types';

/**
 * One event object per stored event and kind, for every subscriber of the topic on this replica: the
 * channel hands them all the same stored event, and a transport that executes or serializes once per event
 * (see `FanOutSubscriber`) recognizes it by identity. Frozen: no subscriber may change what others read.
 */
const watchEvents = new WeakMap<StoredEvent, Map<ExecutionEventKind, ExecutionWatchEvent>>();

export function sharedWatchEvent(
  stored: StoredEvent,
  kind: ExecutionEventKind = stored.kind,
): ExecutionWatchEvent {
  let byKind = watchEvents.get(stored);
  if (!byKind) {
    byKind = new Map();
    watchEvents.set(stored, byKind);
  }
  let event = byKind.get(kind);
  if (!event) {
    event = Object.freeze(toWatchEvent(stored, kind));
    byKind.set(kind, event);
  }
  return event;
}

/**
 * What both subscribers share: live events (and an error) that arrive while the subscriber catches up from
 * the history are held back, then delivered in order once `caughtUp()` is called.
 */
abstract class CatchUpSubscriber implements TopicListener {
  readonly queue: EventQueue<ExecutionWatchEvent>;
  private pending: StoredEvent[] = [];
  private pendingError: GatewayError | null = null;

  constructor(
    onClose: () => void,
    private catchingUp: boolean,
  ) {
    this.queue = new EventQueue(onClose);
  }

  get ended(): boolean {
    return this.queue.isClosed;
  }

  onEvent(event: StoredEvent): void {
    if (this.catchingUp) this.pending.push(event);
    else this.deliver(event);
  }

  onError(error: GatewayError): void {
    if (this.catchingUp) this.pendingError = error;
    else this.queue.fail(error);
  }

  /** Ends the catch-up: what arrived meanwhile, in order, then an error that arrived meanwhile. */
  protected caughtUp(): void {
    this.catchingUp = false;
    const pending = this.pending;
    this.pending = [];
    for (const event of pending) this.deliver(event);
    if (this.pendingError) this.queue.fail(this.pendingError);
  }

  protected abstract deliver(event: StoredEvent): void;
}

/**
 * One subscriber of one execution. Live events that arrive while it catches up from the history are held
 * back, then everything is delivered in cursor order, each cursor once.
 */
export class ExecutionSubscriber extends CatchUpSubscriber {
  private lastSequence: number | null;

  constructor(
    private readonly after: number | null,
    onClose: () => void,
  ) {
    super(onClose, true);
    this.lastSequence = after;
  }

  /**
   * Without a cursor: the latest state, as a SNAPSHOT. With one: exactly the kept events after it; when it
   * is older than the history (or unknown), the latest state as a SNAPSHOT instead, so nothing is skipped
   * silently.
   */
  catchUp(history: StoredEvent[], failure: GatewayError | null): void {
    if (failure) {
      this.queue.fail(failure);
      return;
    }
    const latest = history.at(-1);
    if (latest && this.after === null) {
      this.emit(latest, 'SNAPSHOT');
    } else if (latest && this.after !== null) {
      const after = this.after;
      const oldest = history[0].sequence;
      if (after < oldest - 1 || after > latest.sequence) {
        this.lastSequence = null;
        this.emit(latest, 'SNAPSHOT');
      } else {
        for (const event of history) this.emit(event);
        // The client already has the final event: nothing more will come.
        if (latest.sequence <= after && isTerminalStatus(latest.execution.status)) this.queue.end();
      }
    }
    this.caughtUp();
  }

  protected deliver(event: StoredEvent): void {
    this.emit(event);
  }

  private emit(event: StoredEvent, kind?: ExecutionEventKind): void {
    if (this.queue.isClosed) return;
    if (this.lastSequence !== null && event.sequence <= this.lastSequence) return;
    this.lastSequence = event.sequence;
    this.queue.push(sharedWatchEvent(event, kind));
    if (isTerminalStatus(event.execution.status)) this.queue.end();
  }
}

/** The filter of `pipelineExecutionEvents`, applied to the shared feed on each replica. */
export type ExecutionFeedFilter = Pick<
  ExecutionListFilter,
  'pipelineName' | 'environmentName' | 'status' | 'scheduleId' | 'startedAfter' | 'startedBefore'
>;

export function matchesFeedFilter(execution: MaiaExecution, filter: ExecutionFeedFilter): boolean {
  const { pipelineName, environmentName, status, scheduleId, startedAfter, startedBefore } = filter;
  if (pipelineName && !(execution.pipelineName ?? '').toLowerCase().includes(pipelineName.toLowerCase())) {
    return false;
  }
  if (environmentName && execution.environmentName !== environmentName) return false;
  if (status && status.length > 0 && !status.includes(execution.status)) return false;
  if (scheduleId && execution.scheduleId !== scheduleId) return false;
  const startedMs = Date.parse(execution.startedAt ?? '');
  if (startedAfter && !(startedMs >= Date.parse(startedAfter))) return false;
  if (startedBefore && !(startedMs <= Date.parse(startedBefore))) return false;
  return true;
}

/**
 * When what an event tells happened, as far as the event can say: a start at the run's start, a finish at
 * its end, anything else when the gateway saw it.
 */
function happenedAtMs(event: StoredEvent): number {
  const { startedAt, finishedAt } = event.execution;
  const told = event.kind === 'STARTED' ? startedAt : event.kind === 'FINISHED' ? finishedAt : null;
  const ms = Date.parse(told ?? event.at);
  return Number.isNaN(ms) ? Date.parse(event.at) : ms;
}

/** Where a feed subscription starts: the moment it subscribed, or right after an event it already has. */
export type FeedStart = { sinceMs: number } | { after: number };

/**
 * One subscriber of a project feed, filtered, each cursor once; it never ends by itself.
 * - From the moment it subscribed (no cursor): events of older happenings are dropped. The history a new hub
 *   catches up from, or a leader's first round after nobody polled for a while, may hold them. Maia's run
 *   times are compared with the gateway's clock, so a skew between the two moves that boundary by as much.
 * - After a cursor: exactly the kept events after it, then live ones (held back while it catches up). A
 *   cursor the history no longer reaches (or never issued) ends the stream with BAD_USER_INPUT rather than
 *   skip events silently: subscribe without it and read the list again.
 */
export class FeedSubscriber extends CatchUpSubscriber {
  private lastSequence: number;
  private readonly sinceMs: number;

  constructor(
    private readonly filter: ExecutionFeedFilter,
    onClose: () => void,
    private readonly start: FeedStart = { sinceMs: Date.now() },
  ) {
    super(onClose, 'after' in start);
    this.lastSequence = 'after' in start ? start.after : 0;
    this.sinceMs = 'sinceMs' in start ? start.sinceMs : Number.NEGATIVE_INFINITY;
  }

  /** True when it must read the history before live events (it resumes after a cursor). */
  get resumes(): boolean {
    return 'after' in this.start;
  }

  /** Resuming: the kept events after the cursor, then what arrived meanwhile. */
  catchUp(history: StoredEvent[], failure: GatewayError | null): void {
    if (failure) {
      this.queue.fail(failure);
      return;
    }
    const after = this.lastSequence;
    const oldest = history[0]?.sequence;
    const latest = history.at(-1)?.sequence;
    if (oldest === undefined || latest === undefined || after < oldest - 1 || after > latest) {
      this.queue.fail(
        new GatewayError(
          ErrorCode.BAD_USER_INPUT,
          'after is not a cursor of the events this feed still keeps; subscribe without it and read the list again',
          { field: 'after' },
        ),
      );
      return;
    }
    for (const event of history) this.deliver(event);
    this.caughtUp();
  }

  protected deliver(event: StoredEvent): void {
    if (this.queue.isClosed) return;
    if (event.sequence <= this.lastSequence) return;
    this.lastSequence = event.sequence;
    if (happenedAtMs(event) < this.sinceMs) return;
    if (matchesFeedFilter(event.execution, this.filter)) this.queue.push(sharedWatchEvent(event));
  }
}
