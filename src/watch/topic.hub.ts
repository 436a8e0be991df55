import { type Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { type RedisService } from '../redis/redis.service';
import { LeaseLostError, PollLoop, type LeaderContext, type TopicPoller } from './poll.loop';
import { TopicChannel, type TopicListener } from './topic.channel';
import { TopicLease } from './topic.lease';
import { type WatchStore } from './watch.store';
import { type StoredEvent } from './watch.types';

/**
 * Where one topic stands on this replica. Listening: subscribed, nobody asked for polling yet.
 * Campaigning: wants it polled, tries to take the lease. Leading: holds the lease and polls.
 * Finished: the topic said its last word, nobody polls it again. Closed: everything released.
 */
export enum TopicState {
  Listening = 'listening',
  Campaigning = 'campaigning',
  Leading = 'leading',
  Finished = 'finished',
  Closed = 'closed',
}

const TRANSITIONS: Record<TopicState, readonly TopicState[]> = {
  [TopicState.Listening]: [TopicState.Campaigning, TopicState.Finished, TopicState.Closed],
  [TopicState.Campaigning]: [TopicState.Leading, TopicState.Finished, TopicState.Closed],
  [TopicState.Leading]: [TopicState.Campaigning, TopicState.Finished, TopicState.Closed],
  [TopicState.Finished]: [TopicState.Closed],
  [TopicState.Closed]: [],
};

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
  /** Runs a function outside any request's async context, so pollers never carry a subscriber's context. */
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
 * One topic (an execution or a project feed) on one replica, as a state machine over three parts: the
 * channel (fan-out to local listeners), the lease (exactly one replica with listeners polls) and, while
 * leading, the poll loop. `close()` releases all of them and the pin timers.
 */
export class TopicHub {
  private current = TopicState.Listening;
  private readonly channel: TopicChannel;
  private readonly lease: TopicLease;
  private pollLoop: PollLoop | null = null;
  /** Keep the topic polled without listeners for a while (an execution started here). */
  private readonly pins = new Set<NodeJS.Timeout>();
  /** When the first pin came (an execution started here), for the leader's `launchedAt`. */
  private pinnedAt: number | null = null;

  constructor(
    readonly topic: string,
    private readonly deps: HubDeps,
    private readonly options: HubOptions,
  ) {
    this.channel = new TopicChannel(
      topic,
      { ...deps, isFinal: options.isFinal },
      {
        finished: () => void this.finish(),
        nudged: () => this.pollLoop?.nudge(),
        released: () => {
          if (this.current === TopicState.Campaigning && this.wanted) this.lease.tryNow();
        },
      },
    );
    this.lease = new TopicLease(topic, deps, {
      wanted: () => this.current === TopicState.Campaigning && this.wanted,
      beforeAcquire: async () => {
        // Only listeners can have missed something; a topic kept only by a pin has none to catch up.
        if (!this.channel.subscribed) return;
        await this.channel.ready;
        await this.channel.catchUp();
      },
      acquired: (latest) => this.lead(latest),
      lost: () => void this.stepDown({ release: false }),
      failed: () => this.stepDown({ release: true }),
    });
  }

  get state(): TopicState {
    return this.current;
  }

  get ready(): Promise<void> {
    return this.channel.ready;
  }

  get channelName(): string {
    return this.channel.name;
  }

  get isLeader(): boolean {
    return this.current === TopicState.Leading;
  }

  get isClosed(): boolean {
    return this.current === TopicState.Closed;
  }

  get listenerCount(): number {
    return this.channel.listenerCount;
  }

  /** Timers this hub holds right now (for leak checks). */
  get timerCount(): number {
    return this.pins.size + (this.lease.hasTimer ? 1 : 0) + (this.pollLoop?.hasTimer ? 1 : 0);
  }

  /** Starts receiving events. Call `activate()` once the listener has caught up and still wants more. */
  add(listener: TopicListener): void {
    this.channel.add(listener);
  }

  remove(listener: TopicListener): void {
    this.channel.remove(listener);
    this.closeIfIdle();
  }

  /** This replica wants the topic polled: take part in the election. */
  activate(): void {
    this.moveTo(TopicState.Campaigning, TopicState.Listening);
    if (this.current === TopicState.Campaigning) this.deps.detached(() => this.lease.start());
  }

  /**
   * Keeps the topic polled for `durationMs` even without listeners (an execution started here). With
   * `launched` (the run was started through this replica a moment ago, so nobody else can know its id yet)
   * a hub that nothing else uses leads at once and its first event takes the lease (`TopicLease.claim`);
   * otherwise it campaigns as `activate()` does.
   */
  pin(durationMs: number, { launched = false }: { launched?: boolean } = {}): void {
    if (this.current === TopicState.Closed || this.current === TopicState.Finished) return;
    const fresh =
      launched &&
      this.current === TopicState.Listening &&
      this.pins.size === 0 &&
      this.channel.listenerCount === 0;
    this.pinnedAt ??= Date.now();
    const timer = this.deps.detached(() =>
      setTimeout(() => {
        this.pins.delete(timer);
        this.closeIfIdle();
      }, durationMs),
    );
    this.pins.add(timer);
    if (fresh && this.moveTo(TopicState.Campaigning, TopicState.Listening)) {
      // The lease's timer, like the poller's, carries no request's context.
      if (this.deps.detached(() => this.lease.claim())) {
        void this.deps.detached(() => this.lead(null)).catch(() => this.stepDown({ release: true }));
      } else this.deps.detached(() => this.lease.start());
      return;
    }
    this.activate();
  }

  /**
   * A cancel was requested through this replica: poll soon. A hub that listens hears the nudge on its
   * channel; one kept only by a pin has no subscription, so it is told here.
   */
  nudgeLocally(): void {
    if (!this.channel.subscribed) this.pollLoop?.nudge();
  }

  /** Stops everything and lets go of the lease, so another replica takes over at once. */
  async close(error?: GatewayError): Promise<void> {
    if (!this.moveTo(TopicState.Closed)) return;
    this.clearPins();
    this.lease.stop();
    this.channel.close(error);
    await this.stepDown({ release: true });
    await this.channel.leave();
  }

  private get wanted(): boolean {
    return this.channel.listenerCount > 0 || this.pins.size > 0;
  }

  /** Applies a transition the table allows (from `expected`, when given); false and no change otherwise. */
  private moveTo(next: TopicState, expected?: TopicState): boolean {
    if (expected !== undefined && this.current !== expected) return false;
    if (!TRANSITIONS[this.current].includes(next)) return false;
    this.current = next;
    return true;
  }

  private async lead(latest: StoredEvent | null): Promise<void> {
    if (!this.moveTo(TopicState.Leading)) {
      await this.lease.release();
      return;
    }
    const loop = new PollLoop(
      this.options.makePoller(this.leaderContext(latest)),
      {
        leaseLost: () => void this.stepDown({ release: false }),
        exhausted: () => void this.finish(),
      },
      { logger: this.deps.logger, channelName: this.channel.name, maxIntervalMs: this.deps.maxIntervalMs },
    );
    this.pollLoop = loop;
    await loop.start();
  }

  /** Leading → Campaigning: stop polling; with `release`, delete the lease (if still ours) and say so. */
  private async stepDown({ release }: { release: boolean }): Promise<void> {
    this.moveTo(TopicState.Campaigning, TopicState.Leading);
    this.pollLoop?.stop();
    this.pollLoop = null;
    if (!release) {
      // A claim refused (another replica leads, or the run has history): campaign now, not when the claim's
      // half-lease timer would have ended it, so a lease left free is taken without a wait.
      const refusedClaim = this.lease.claiming;
      this.lease.forfeit();
      if (refusedClaim && this.current === TopicState.Campaigning && this.wanted) this.lease.tryNow();
      return;
    }
    try {
      const released = await this.lease.release();
      if (released && !this.deps.store.announcesWrites) await this.channel.publish({ type: 'released' });
    } catch (error) {
      // The lease then simply expires; the next leader waits at most one lease period.
      this.deps.logger.debug(`${this.channel.name}: release failed: ${(error as Error).message}`);
    }
  }

  /** The final event or an error was seen, or the poller has nothing more to poll. */
  private async finish(): Promise<void> {
    if (!this.moveTo(TopicState.Finished)) return;
    this.clearPins();
    this.lease.stop();
    // Listeners end themselves on the final event; a hub kept only by pins goes now.
    queueMicrotask(() => this.closeIfIdle());
    await this.stepDown({ release: true });
  }

  private closeIfIdle(): void {
    if (this.current === TopicState.Closed || this.wanted) return;
    this.options.onIdle(this);
  }

  private clearPins(): void {
    for (const timer of this.pins) clearTimeout(timer);
    this.pins.clear();
  }

  private leaderContext(atAcquisition: StoredEvent | null): LeaderContext {
    const { store, owner, historySize, historyTtlMs, errorTtlMs, leaseMs } = this.deps;
    const { topic, channel, pins, lease } = this;
    const { isFinal } = this.options;
    const launchedAt = () => (pins.size > 0 ? this.pinnedAt : null);
    let acquired: StoredEvent | null | undefined = atAcquisition;
    return {
      record: async (event) => {
        const sentAt = Date.now();
        // The last event also lets go of the lease, in the same write.
        const final = isFinal({ sequence: 0, ...event });
        // Leading on a claim (a run just launched here): this write takes the lease, or is refused.
        const claim = lease.claiming;
        const options = { historySize, ttlMs: historyTtlMs, leaseMs, final, claim };
        const stored = await store.append(topic, owner, event, options);
        if (!stored) return null;
        if (final) lease.forfeit();
        else lease.extended(sentAt);
        // The Redis store published it in the same script; the in-memory one leaves it to the channel.
        if (!store.announcesWrites) {
          await channel.publish({ type: 'event', event: stored });
          if (final) await channel.publish({ type: 'released' });
        }
        return stored;
      },
      latest: async () => {
        if (acquired !== undefined) {
          const latest = acquired;
          acquired = undefined;
          return latest;
        }
        return (await store.history(topic)).at(-1) ?? null;
      },
      fail: async (error) => {
        // Leading on a claim no write has made good: another replica may hold the lease, and its
        // subscribers must not be ended by this one. Take the lease first; refused, step down instead.
        if (lease.claiming) {
          if (!(await store.acquireLease(topic, owner, leaseMs))) throw new LeaseLostError();
          lease.extended(Date.now());
        }
        const marker = JSON.stringify({ code: error.code, message: error.message });
        await store.setState(topic, 'error', marker, errorTtlMs);
        await channel.publish({ type: 'error', code: error.code, message: error.message });
      },
      history: () => store.history(topic),
      getState: (name) => store.getState(topic, name),
      setState: (name, value) => store.setState(topic, name, value, historyTtlMs, owner),
      get launchedHere() {
        return pins.size > 0;
      },
      get launchedAt() {
        return launchedAt();
      },
    };
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
