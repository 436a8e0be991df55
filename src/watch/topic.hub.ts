import { type Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { type RedisService } from '../redis/redis.service';
import { type WatchStore } from './watch.store';
import { type StoredEvent, type TopicMessage } from './watch.types';

/** What the leader of a topic may do: the only writer of its history. */
export interface LeaderContext {
  /** Appends the event (fenced by the lease) and publishes it; null when the lease was lost. */
  record(event: Omit<StoredEvent, 'seq'>): Promise<StoredEvent | null>;
  /** Ends every subscriber of the topic, on every replica, with this error. */
  fail(error: GatewayError): Promise<void>;
  history(): Promise<StoredEvent[]>;
  getState(name: string): Promise<string | null>;
  setState(name: string, value: string): Promise<boolean>;
  /** True while an execution started through this replica is still in its start grace. */
  readonly launchedHere: boolean;
}

/** The polling strategy of one topic, run only by the leader. */
export interface TopicPoller {
  /** Called on becoming the leader: load what the previous leader left. */
  start(signal: AbortSignal): Promise<void>;
  /** One poll round: the delay until the next one, or null when there is nothing more to poll. */
  poll(signal: AbortSignal): Promise<number | null>;
  /** Something is about to change (a cancel): the delay to use for the next poll. */
  nudge(): number;
}

/** One local subscriber of a topic. */
export interface HubListener {
  onEvent(event: StoredEvent): void;
  onError(error: GatewayError): void;
}

/** Thrown by a poller when a fenced write was refused: someone else leads now. */
export class LeaseLostError extends Error {
  constructor() {
    super('lease lost');
    this.name = 'LeaseLostError';
  }
}

export interface HubDeps {
  store: WatchStore;
  redis: RedisService;
  logger: Logger;
  leaseMs: number;
  maxIntervalMs: number;
  historySize: number;
  historyTtlMs: number;
  errorTtlMs: number;
  /** Unique per replica and hub, so a lease is never mistaken for another's. */
  owner: string;
  /**
   * Runs a function outside any request's async context. The hub's timers are started from a subscriber's
   * request; without this the poller would carry that request's id and context for its whole life.
   */
  detached: <T>(fn: () => T) => T;
}

export interface HubOptions {
  makePoller: (context: LeaderContext) => TopicPoller;
  /** True for the event after which the topic has nothing more to say (a terminal execution). */
  isFinal: (event: StoredEvent) => boolean;
  /** Called once when the hub has neither listeners nor pins left; the owner forgets and closes it. */
  onIdle: (hub: TopicHub) => void;
}

/**
 * One topic (an execution or a project feed) on one replica: the channel subscription that fans events out
 * to local listeners, and the lease loop that makes exactly one replica with listeners the poller.
 *
 * Timers: one lease timer (renew as leader, or try to acquire as follower, every third of the lease), one
 * poll timer while leading, one timer per pin. All of them, the channel subscription and the lease are
 * released by `close()`.
 */
export class TopicHub {
  private readonly listeners = new Set<HubListener>();
  private readonly pinTimers = new Set<NodeJS.Timeout>();
  private leaseTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private leaseBusy = false;
  private pollBusy = false;
  private pendingNudge = false;
  private pollAbort: AbortController | null = null;
  private poller: TopicPoller | null = null;
  private unsubscribe: (() => Promise<void>) | null = null;
  private chain: Promise<void> = Promise.resolve();
  private maxSeq = 0;
  private leader = false;
  private finished = false;
  private closed = false;
  readonly ready: Promise<void>;

  constructor(
    readonly topic: string,
    private readonly deps: HubDeps,
    private readonly options: HubOptions,
  ) {
    this.ready = this.deps.redis
      .subscribe(this.channel, (message) => this.onMessage(message))
      .then(async (unsubscribe) => {
        if (this.closed) await unsubscribe();
        else this.unsubscribe = unsubscribe;
      });
    // A failed subscription surfaces to whoever awaits `ready`; this keeps it from being unhandled.
    this.ready.catch(() => undefined);
  }

  get channel(): string {
    return `watch:${this.topic}`;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Timers this hub holds right now (for leak checks). */
  get timerCount(): number {
    return this.pinTimers.size + (this.leaseTimer ? 1 : 0) + (this.pollTimer ? 1 : 0);
  }

  /** Starts receiving events. Call `activate()` once the listener has caught up and still wants more. */
  add(listener: HubListener): void {
    this.listeners.add(listener);
  }

  remove(listener: HubListener): void {
    this.listeners.delete(listener);
    this.closeIfIdle();
  }

  /** This replica wants the topic polled: take part in the leader election. */
  activate(): void {
    if (this.closed || this.finished || this.leaseTimer || this.leaseBusy) return;
    this.deps.detached(() => void this.leaseTick());
  }

  /** Keeps the topic polled for `durationMs` even without listeners (an execution started here). */
  pin(durationMs: number): void {
    if (this.closed || this.finished) return;
    const timer = this.deps.detached(() =>
      setTimeout(() => {
        this.pinTimers.delete(timer);
        this.closeIfIdle();
      }, durationMs),
    );
    this.pinTimers.add(timer);
    this.activate();
  }

  /** Asks the leader, wherever it runs, to poll soon. */
  async nudge(): Promise<void> {
    await this.publish({ t: 'nudge' });
  }

  /** Stops everything and lets go of the lease, so another replica takes over at once. */
  async close(error?: GatewayError): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.pinTimers) clearTimeout(timer);
    this.pinTimers.clear();
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.leaseTimer = null;
    const listeners = [...this.listeners];
    this.listeners.clear();
    if (error) for (const listener of listeners) listener.onError(error);
    await this.stepDown(true);
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    if (unsubscribe) await unsubscribe().catch(() => undefined);
  }

  private closeIfIdle(): void {
    if (this.closed || this.listeners.size > 0 || this.pinTimers.size > 0) return;
    this.options.onIdle(this);
  }

  private get wanted(): boolean {
    return this.listeners.size > 0 || this.pinTimers.size > 0;
  }

  // --- messages -----------------------------------------------------------------------------------------

  private onMessage(raw: string): void {
    let message: TopicMessage;
    try {
      message = JSON.parse(raw) as TopicMessage;
    } catch {
      return;
    }
    // Handled one at a time, in arrival order, even when filling a gap needs a store read.
    this.deps.detached(() => {
      this.chain = this.chain
        .then(() => this.handle(message))
        .catch((error: unknown) => this.deps.logger.warn(`${this.channel}: ${(error as Error).message}`));
    });
  }

  private async handle(message: TopicMessage): Promise<void> {
    if (this.closed) return;
    switch (message.t) {
      case 'event':
        await this.deliverInOrder(message.e);
        return;
      case 'error':
        this.onFailure(new GatewayError(message.code as ErrorCode, message.message));
        return;
      case 'nudge':
        this.onNudge();
        return;
      case 'released':
        // The leader let go: whoever still has listeners takes over now, not at its next tick.
        if (!this.leader && this.wanted && !this.finished && !this.leaseBusy) {
          if (this.leaseTimer) clearTimeout(this.leaseTimer);
          this.leaseTimer = null;
          void this.leaseTick();
        }
        return;
    }
  }

  private async deliverInOrder(event: StoredEvent): Promise<void> {
    if (event.seq <= this.maxSeq) return;
    if (this.maxSeq > 0 && event.seq > this.maxSeq + 1) {
      // Pub/sub is at-most-once (a reconnect can drop messages): fill the gap from the history.
      await this.fillFromHistory(event.seq);
    }
    this.dispatch(event);
  }

  /** Delivers history events newer than what this hub has delivered and older than `beforeSeq`. */
  private async fillFromHistory(beforeSeq = Number.MAX_SAFE_INTEGER): Promise<void> {
    const history = await this.deps.store.history(this.topic);
    for (const missed of history) {
      if (missed.seq > this.maxSeq && missed.seq < beforeSeq) this.dispatch(missed);
    }
  }

  private dispatch(event: StoredEvent): void {
    this.maxSeq = Math.max(this.maxSeq, event.seq);
    if (this.options.isFinal(event)) this.markFinished();
    for (const listener of [...this.listeners]) listener.onEvent(event);
  }

  private onFailure(error: GatewayError): void {
    this.markFinished();
    for (const listener of [...this.listeners]) listener.onError(error);
  }

  private markFinished(): void {
    if (this.finished) return;
    this.finished = true;
    for (const timer of this.pinTimers) clearTimeout(timer);
    this.pinTimers.clear();
    if (!this.leader && this.leaseTimer) {
      clearTimeout(this.leaseTimer);
      this.leaseTimer = null;
    }
    // Listeners end themselves on the final event; a hub kept only by pins goes now.
    queueMicrotask(() => this.closeIfIdle());
  }

  private onNudge(): void {
    if (!this.leader || !this.poller) return;
    if (this.pollBusy) {
      this.pendingNudge = true;
      return;
    }
    if (this.pollTimer) clearTimeout(this.pollTimer);
    const delayMs = this.poller.nudge();
    this.pollTimer = this.deps.detached(() => setTimeout(() => void this.pollTick(), delayMs));
  }

  // --- leadership ---------------------------------------------------------------------------------------

  private async leaseTick(): Promise<void> {
    if (this.leaseBusy) return;
    this.leaseBusy = true;
    this.leaseTimer = null;
    const { store, leaseMs, owner } = this.deps;
    try {
      await this.ready;
      if (this.closed) return;
      if (this.leader) {
        if (!(await store.renewLease(this.topic, owner, leaseMs))) {
          this.deps.logger.warn(`${this.channel}: lease lost, stepping down`);
          await this.stepDown(false);
        }
      } else if (this.wanted && !this.finished) {
        // Catch up with whatever the channel may have dropped before deciding anything.
        const lastSeq = await store.lastSeq(this.topic);
        if (lastSeq !== null && lastSeq > this.maxSeq) await this.fillFromHistory();
        if (!this.finished && this.wanted && (await store.acquireLease(this.topic, owner, leaseMs))) {
          if (this.closed) await store.releaseLease(this.topic, owner);
          else await this.becomeLeader();
        }
      }
    } catch (error) {
      // Redis away or a poller that could not start: try again at the next tick.
      this.deps.logger.debug(`${this.channel}: lease tick failed: ${(error as Error).message}`);
      if (this.leader) await this.stepDown(true).catch(() => undefined);
    } finally {
      this.leaseBusy = false;
      if (!this.closed && !this.leaseTimer && (this.leader || (this.wanted && !this.finished))) {
        this.leaseTimer = setTimeout(() => void this.leaseTick(), Math.max(1, Math.floor(leaseMs / 3)));
      }
    }
  }

  private async becomeLeader(): Promise<void> {
    this.leader = true;
    this.pollAbort = new AbortController();
    const poller = this.options.makePoller(this.leaderContext());
    this.poller = poller;
    await poller.start(this.pollAbort.signal);
    if (!this.leader || this.closed) return;
    this.pollTimer = setTimeout(() => void this.pollTick(), 0);
  }

  private async pollTick(): Promise<void> {
    this.pollTimer = null;
    const poller = this.poller;
    const abort = this.pollAbort;
    if (!this.leader || this.closed || this.pollBusy || !poller || !abort) return;
    this.pollBusy = true;
    let delayMs: number | null;
    try {
      delayMs = await poller.poll(abort.signal);
    } catch (error) {
      if (abort.signal.aborted) {
        this.pollBusy = false;
        return;
      }
      if (error instanceof LeaseLostError) {
        this.pollBusy = false;
        await this.stepDown(false);
        return;
      }
      this.deps.logger.warn(`${this.channel}: poll failed: ${(error as Error).message}`);
      delayMs = this.deps.maxIntervalMs;
    }
    this.pollBusy = false;
    if (!this.leader || this.closed || this.poller !== poller) return;
    if (delayMs === null) {
      this.markFinished();
      await this.stepDown(true);
      return;
    }
    if (this.pendingNudge) {
      this.pendingNudge = false;
      delayMs = poller.nudge();
    }
    this.pollTimer = setTimeout(() => void this.pollTick(), delayMs);
  }

  /** Stops polling; with `release`, deletes the lease (if still ours) and tells the others. */
  private async stepDown(release: boolean): Promise<void> {
    const wasLeader = this.leader;
    this.leader = false;
    this.poller = null;
    this.pendingNudge = false;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.pollAbort?.abort();
    this.pollAbort = null;
    if (!wasLeader || !release) return;
    try {
      if (await this.deps.store.releaseLease(this.topic, this.deps.owner)) {
        await this.publish({ t: 'released' });
      }
    } catch (error) {
      // The lease then simply expires; the next leader waits at most one lease period.
      this.deps.logger.debug(`${this.channel}: release failed: ${(error as Error).message}`);
    }
  }

  private leaderContext(): LeaderContext {
    const { store, owner, historySize, historyTtlMs, errorTtlMs } = this.deps;
    const topic = this.topic;
    const pinTimers = this.pinTimers;
    return {
      record: async (event) => {
        const stored = await store.append(topic, owner, event, historySize, historyTtlMs);
        if (stored) await this.publish({ t: 'event', e: stored });
        return stored;
      },
      fail: async (error) => {
        const marker = JSON.stringify({ code: error.code, message: error.message });
        await store.setState(topic, 'error', marker, errorTtlMs);
        await this.publish({ t: 'error', code: error.code, message: error.message });
      },
      history: () => store.history(topic),
      getState: (name) => store.getState(topic, name),
      setState: (name, value) => store.setState(topic, name, value, historyTtlMs, owner),
      get launchedHere() {
        return pinTimers.size > 0;
      },
    };
  }

  /** Publishes to every replica; when the channel is down, at least this replica's listeners hear it. */
  private async publish(message: TopicMessage): Promise<void> {
    const raw = JSON.stringify(message);
    try {
      await this.deps.redis.publish(this.channel, raw);
    } catch (error) {
      this.deps.logger.debug(`${this.channel}: publish failed: ${(error as Error).message}`);
      this.onMessage(raw);
    }
  }
}

/** Reads the error marker the leader left for a topic (a NOT_FOUND), for subscribers that come late. */
export async function readFailure(store: WatchStore, topic: string): Promise<GatewayError | null> {
  const raw = await store.getState(topic, 'error');
  if (!raw) return null;
  try {
    const { code, message } = JSON.parse(raw) as { code: ErrorCode; message: string };
    return new GatewayError(code, message);
  } catch {
    return null;
  }
}
