import { type Logger } from '@nestjs/common';
import { type GatewayError } from '../common/errors';
import { setLongTimeout, type LongTimeout } from '../common/timers';
import { type StoredEvent } from './watch.types';

/** What the leader of a topic may do: the only writer of its history. */
export interface LeaderContext {
  /** Appends the event (fenced by the lease) and publishes it; null when the lease was lost. */
  record(event: Omit<StoredEvent, 'sequence'>): Promise<StoredEvent | null>;
  /** Ends every subscriber of the topic, on every replica, with this error. */
  fail(error: GatewayError): Promise<void>;
  history(): Promise<StoredEvent[]>;
  /** The newest kept event: as read when the lease was taken (the first call), else from the history. */
  latest(): Promise<StoredEvent | null>;
  getState(name: string): Promise<string | null>;
  setState(name: string, value: string): Promise<boolean>;
  /** True while an execution started through this replica is still in its start grace. */
  readonly launchedHere: boolean;
  /** When it was started through this replica (gateway clock), while in its start grace; else null. */
  readonly launchedAt: number | null;
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

/** Thrown by a poller when a fenced write was refused: someone else leads now. */
export class LeaseLostError extends Error {
  constructor() {
    super('lease lost');
    this.name = 'LeaseLostError';
  }
}

/** How a poll loop ends by itself. */
export interface PollLoopEnds {
  /** A fenced write was refused: another replica leads now. */
  leaseLost(): void;
  /** The poller has nothing more to poll (a terminal execution, a missing one). */
  exhausted(): void;
}

/**
 * Why a loop's signal aborted: one shared reason. Nothing reads it; without one, every run's loop would build
 * a `DOMException` (with its stack) when it stops.
 */
const LOOP_STOPPED = new Error('poll loop stopped');

/**
 * The leader's polling of one topic: one round at a time, the next after the delay the poller asks for
 * (adaptive), sooner after a nudge. A nudge during a round shortens the wait after it. `stop()` aborts the
 * round in flight and lets no other start.
 */
export class PollLoop {
  private timer: LongTimeout | null = null;
  private started = false;
  private polling = false;
  private nudgedDuringRound = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly poller: TopicPoller,
    private readonly ends: PollLoopEnds,
    private readonly deps: { logger: Logger; channelName: string; maxIntervalMs: number },
  ) {}

  get hasTimer(): boolean {
    return this.timer !== null;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  /** Loads what the previous leader left, then polls at once. */
  async start(): Promise<void> {
    await this.poller.start(this.abort.signal);
    if (this.stopped) return;
    this.started = true;
    this.schedule(this.nudgedDuringRound ? this.poller.nudge() : 0);
    this.nudgedDuringRound = false;
  }

  nudge(): void {
    if (this.stopped) return;
    if (this.polling || !this.started) {
      this.nudgedDuringRound = true;
      return;
    }
    this.schedule(this.poller.nudge());
  }

  stop(): void {
    this.abort.abort(LOOP_STOPPED);
    this.timer?.clear();
    this.timer = null;
  }

  private schedule(delayMs: number): void {
    this.timer?.clear();
    this.timer = setLongTimeout(() => void this.round(), delayMs);
  }

  private async round(): Promise<void> {
    this.timer = null;
    if (this.stopped || this.polling) return;
    this.polling = true;
    let delayMs: number | null;
    try {
      delayMs = await this.poller.poll(this.abort.signal);
    } catch (error) {
      if (this.stopped) return;
      if (error instanceof LeaseLostError) {
        this.ends.leaseLost();
        return;
      }
      this.deps.logger.warn(`${this.deps.channelName}: poll failed: ${(error as Error).message}`);
      delayMs = this.deps.maxIntervalMs;
    } finally {
      this.polling = false;
    }
    if (this.stopped) return;
    if (delayMs === null) {
      this.ends.exhausted();
      return;
    }
    if (this.nudgedDuringRound) {
      this.nudgedDuringRound = false;
      delayMs = this.poller.nudge();
    }
    this.schedule(delayMs);
  }
}
