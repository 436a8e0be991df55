import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { type RedisService } from '../redis/redis.service';
import { decodeTopicMessage, encodeTopicMessage, topicChannelName, type TopicMessage } from './topic.message';
import { STORE_READ_RETRY_DELAYS_MS, storeUnavailable } from './store-retry';
import { type WatchStore } from './watch.store';
import { type StoredEvent } from './watch.types';

/** One local subscriber of a topic. */
export interface TopicListener {
  onEvent(event: StoredEvent): void;
  onError(error: GatewayError): void;
}

/** What the channel tells its hub besides fanning events out. */
export interface ChannelSignals {
  /** The topic said its last word: a final event or an error (delivered to listeners right after). */
  finished(): void;
  nudged(): void;
  released(): void;
}

export interface ChannelDeps {
  redis: RedisService;
  store: WatchStore;
  logger: Logger;
  /** Runs a function outside any request's async context (see `HubDeps.detached`). */
  detached: <T>(fn: () => T) => T;
  isFinal: (event: StoredEvent) => boolean;
}

/**
 * The channel of one topic on one replica: the Redis subscription and the fan-out to local listeners,
 * each event once and in sequence order. Pub/sub is at-most-once, so a gap is filled from the history.
 * The subscription is made when the first listener comes: a topic polled only because it was started
 * here (pinned, nobody listening on this replica) has nobody to deliver to, and its leader learns what it
 * needs from the store (the lease, the history), not from the channel.
 */
export class TopicChannel {
  readonly name: string;
  private subscription: Promise<void> | null = null;
  private readonly listeners = new Set<TopicListener>();
  private unsubscribe: (() => Promise<void>) | null = null;
  /** Messages are handled one at a time, in arrival order, even when filling a gap reads the store. */
  private handling: Promise<void> = Promise.resolve();
  private deliveredSequence = 0;
  private closed = false;

  constructor(
    readonly topic: string,
    private readonly deps: ChannelDeps,
    private readonly signals: ChannelSignals,
  ) {
    this.name = topicChannelName(topic);
  }

  /** Resolves once the channel is subscribed (at once while nobody listens: there is nothing to wait for). */
  get ready(): Promise<void> {
    return this.subscription ?? Promise.resolve();
  }

  /** True once a listener came and the channel was (or is being) subscribed. */
  get subscribed(): boolean {
    return this.subscription !== null;
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  add(listener: TopicListener): void {
    this.listeners.add(listener);
    this.subscribe();
  }

  remove(listener: TopicListener): void {
    this.listeners.delete(listener);
  }

  /** Delivers what the channel may have dropped, before this replica decides to poll. */
  async catchUp(): Promise<void> {
    const lastSequence = await this.deps.store.lastSequence(this.topic);
    if (lastSequence !== null && lastSequence > this.deliveredSequence) await this.fillFromHistory();
  }

  /** Publishes to every replica; when Redis is away, at least this replica's listeners hear it. */
  async publish(message: TopicMessage): Promise<void> {
    const raw = encodeTopicMessage(message);
    try {
      await this.deps.redis.publish(this.name, raw);
    } catch (error) {
      this.deps.logger.debug(`${this.name}: publish failed: ${(error as Error).message}`);
      this.receive(raw);
    }
  }

  /** Ends every local listener (with `error`, if given); later messages are ignored. */
  close(error?: GatewayError): void {
    if (this.closed) return;
    this.closed = true;
    const listeners = [...this.listeners];
    this.listeners.clear();
    if (error) for (const listener of listeners) listener.onError(error);
  }

  /** Unsubscribes from Redis (after `close`, once the last message of this replica went out). */
  async leave(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    if (unsubscribe) await unsubscribe().catch(() => undefined);
  }

  private subscribe(): void {
    if (this.subscription || this.closed) return;
    this.subscription = this.deps.redis
      .subscribe(this.name, (raw) => this.receive(raw))
      .then(async (unsubscribe) => {
        if (this.closed) await unsubscribe();
        else this.unsubscribe = unsubscribe;
      });
    // A failed subscription surfaces to whoever awaits `ready`; this keeps it from being unhandled.
    this.subscription.catch(() => undefined);
  }

  private receive(raw: string): void {
    const message = decodeTopicMessage(raw);
    if (!message) return;
    this.deps.detached(() => {
      this.handling = this.handling
        .then(() => this.handle(message))
        .catch((error: unknown) => this.deps.logger.warn(`${this.name}: ${(error as Error).message}`));
    });
  }

  private async handle(message: TopicMessage): Promise<void> {
    if (this.closed) return;
    switch (message.type) {
      case 'event':
        await this.deliverInOrder(message.event);
        return;
      case 'error':
        this.fail(new GatewayError(message.code as ErrorCode, message.message));
        return;
      case 'nudge':
        this.signals.nudged();
        return;
      case 'released':
        this.signals.released();
        return;
    }
  }

  private async deliverInOrder(event: StoredEvent): Promise<void> {
    if (event.sequence <= this.deliveredSequence) return;
    if (this.deliveredSequence > 0 && event.sequence > this.deliveredSequence + 1) {
      if (!(await this.fillGap(event.sequence))) return;
    }
    this.deliver(event);
  }

  /**
   * Fills a gap before `beforeSequence` from the history, tried again when the store read fails (a Redis
   * command timing out under load). When every try failed, the event that showed the gap cannot be
   * delivered in order: the local listeners end with UNAVAILABLE and a retry hint, and a subscriber that
   * comes back catches up from the history, which holds the event. Delivering it anyway would skip the
   * missing ones without a word; dropping it (as before) could leave a run's final event unheard, with its
   * subscribers waiting for good. False when the gap was not filled.
   */
  private async fillGap(beforeSequence: number): Promise<boolean> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.fillFromHistory(beforeSequence);
        return true;
      } catch (error) {
        const delayMs = STORE_READ_RETRY_DELAYS_MS[attempt];
        if (this.closed) return false;
        if (delayMs === undefined) {
          this.deps.logger.warn(`${this.name}: a gap could not be filled: ${(error as Error).message}`);
          for (const listener of [...this.listeners]) listener.onError(storeUnavailable());
          return false;
        }
        await sleep(delayMs, undefined, { ref: false });
      }
    }
  }

  /** Delivers the kept events newer than the last delivered and older than `beforeSequence`. */
  private async fillFromHistory(beforeSequence = Number.MAX_SAFE_INTEGER): Promise<void> {
    for (const missed of await this.deps.store.history(this.topic)) {
      if (missed.sequence > this.deliveredSequence && missed.sequence < beforeSequence) this.deliver(missed);
    }
  }

  private deliver(event: StoredEvent): void {
    this.deliveredSequence = Math.max(this.deliveredSequence, event.sequence);
    if (this.deps.isFinal(event)) this.signals.finished();
    for (const listener of [...this.listeners]) listener.onEvent(event);
  }

  private fail(error: GatewayError): void {
    this.signals.finished();
    for (const listener of [...this.listeners]) listener.onError(error);
  }
}
