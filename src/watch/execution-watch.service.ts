import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../common/errors';
import { setLongTimeout } from '../common/timers';
import { APP_CONFIG, type AppConfig, type WatchConfig } from '../config';
import { ExecutionWatchPort } from '../executions/execution-watch.port';
import { isTerminalStatus, MAIA_API, type MaiaApi, type MaiaExecution } from '../maia/maia.types';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import { RedisService } from '../redis/redis.service';
import { ExecutionPoller } from './execution.poller';
import { FleetSubscriptionCounts } from './fleet-subscription.counts';
import { LaunchedRunsBoard } from './launched-runs.board';
import { MemoryWatchStore } from './memory-watch.store';
import { ProjectFeedPoller } from './project-feed.poller';
import { RedisWatchStore } from './redis-watch.store';
import { SubscriptionLimiter } from './subscription.limiter';
import { identityOfHttpRequest } from './watch-identity';
import { type LeaderContext, type TopicPoller } from './poll.loop';
import { STORE_READ_RETRY_DELAYS_MS, storeUnavailable } from './store-retry';
import { readFailure, TopicHub } from './topic.hub';
import { encodeTopicMessage, topicChannelName } from './topic.message';
import { ExecutionSubscriber, FeedSubscriber, type ExecutionFeedFilter } from './watch.subscribers';
import { type WatchStore } from './watch.store';
import {
  type ExecutionWatchEvent,
  type SubscriberIdentity,
  type WatchOptions,
  type WatchStream,
} from './watch.types';
import { UUID_PATTERN } from '../common/validation/uuid';

const CURSOR = /^\d{1,16}$/;
/** How long a NOT_FOUND is remembered, so late subscribers of a missing execution do not poll again. */
const ERROR_TTL_MS = 60_000;
/**
 * One channel every replica listens to: a cancel's nudge for the leaders that do not listen on the run's
 * own channel (a run polled only because it was started there, with no subscriber there). Not a topic's
 * channel (`watch:exec:…`, `watch:feed:…`), so never mistaken for one.
 */
const LEADER_NUDGES_CHANNEL = 'watch:leader-nudges';

/** What the watcher is doing right now (tests, metrics, health). */
export interface WatchActivity {
  topics: number;
  subscribers: number;
  leaderships: number;
  timers: number;
  limiterKeys: number;
  /** Open subscriptions by transport (`graphql`, `sse`, `wait`, `other`). */
  byTransport: Record<string, number>;
}

/**
 * Live status of executions for any number of watchers, with one upstream poller per execution (and per
 * project feed) across all replicas: one `TopicHub` per topic. Every stream releases its listener, timers,
 * lease and limit slot on `return()`; shutdown releases everything so another replica takes over at once.
 * See docs/adr/0004-execution-watch.md and docs/adr/0011-watch-wing.md.
 */
@Injectable()
export class ExecutionWatchService
  implements ExecutionWatchPort, OnModuleInit, OnModuleDestroy, OnApplicationShutdown
{
  private readonly logger = new Logger(ExecutionWatchService.name);
  private readonly replicaId = randomUUID();
  private readonly hubs = new Map<string, TopicHub>();
  private readonly store: WatchStore;
  private readonly board: LaunchedRunsBoard;
  private readonly limiter: SubscriptionLimiter;
  private readonly config: WatchConfig;
  private shuttingDown = false;
  private readonly openByTransport = new Map<string, number>();
  /**
   * Feed nudges after launches, per feed topic: the window of `minIntervalMs` after one went out, and
   * whether another launch came during it. The feed's leader lists at most once per minimum interval
   * however often it is nudged, so one nudge per window (and one at its end when launches came during
   * it) announces every launch as soon as before, instead of one PUBLISH per launch.
   */
  private readonly launchNudges = new Map<string, { timer: NodeJS.Timeout; again: boolean }>();
  /** Captured at construction, outside any request: pollers must not inherit a subscriber's context. */
  private readonly detached = AsyncLocalStorage.snapshot();
  /** The subscription to the leader-nudges channel (null: none, e.g. without Redis or a start grace). */
  private leaderNudges: Promise<() => Promise<void>> | null = null;

  constructor(
    @Inject(MAIA_API) private readonly maia: MaiaApi,
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) appConfig: AppConfig,
    @Optional() lifecycle?: LifecycleService,
  ) {
    this.config = appConfig.watch;
    // Shutdown begins: end every stream (SSE gets its retry hint) and let go of every lease right away, so
    // another replica polls while this one drains.
    lifecycle?.shutdownSignal.addEventListener('abort', () => void this.onModuleDestroy(), { once: true });
    this.store = redis.enabled ? new RedisWatchStore(redis) : new MemoryWatchStore();
    // A listing answers the rounds of half a minimum interval: a change is seen at most that much later.
    this.board = new LaunchedRunsBoard(maia, {
      freshMs: Math.floor(this.config.minIntervalMs / 2),
      graceMs: this.config.startGraceMs,
    });
    // With Redis, the per-client limit holds across the fleet (see SubscriptionLimiter).
    this.limiter = new SubscriptionLimiter(
      this.config.maxSubscriptionsPerConnection,
      this.config.maxSubscriptionsPerClient,
      redis.enabled ? new FleetSubscriptionCounts(redis, this.replicaId) : null,
    );
  }

  /**
   * Listens for cancels accepted by other replicas. Only a replica that pins runs (a start grace) can lead a
   * run's watch without listening on the run's channel, and without Redis there are no other replicas.
   */
  onModuleInit(): void {
    if (!this.redis.enabled || this.config.startGraceMs === 0 || this.leaderNudges) return;
    this.leaderNudges = this.redis.subscribe(LEADER_NUDGES_CHANNEL, (raw) => this.leaderNudged(raw));
    this.leaderNudges.catch((error: unknown) =>
      this.logger.warn(`${LEADER_NUDGES_CHANNEL}: subscribe failed: ${(error as Error).message}`),
    );
  }

  /** Streams one execution's events. Throws BAD_USER_INPUT or RATE_LIMITED before anything starts. */
  watch(
    projectId: string,
    executionId: string,
    options: WatchOptions = {},
  ): WatchStream<ExecutionWatchEvent> {
    checkId('projectId', projectId);
    checkId('executionId', executionId);
    const after = parseCursor(options.after);
    this.refuseWhileShuttingDown();
    // Over the fleet-wide limit (known a Redis round trip later): the stream ends with RATE_LIMITED.
    const release = this.countOpen(
      options,
      this.limiter.acquire(options, (error) => subscriber.queue.fail(error)),
    );
    const hub = this.executionHub(projectId, executionId);
    const subscriber: ExecutionSubscriber = new ExecutionSubscriber(after, () => {
      hub.remove(subscriber);
      release();
    });
    hub.add(subscriber);
    void this.catchUp(hub, subscriber);
    return subscriber.queue;
  }

  /**
   * Streams the started, changed and finished executions of a project that match the filter: what happens
   * from now on, or (with `after`) the events after that cursor, then what happens next.
   */
  watchProject(
    projectId: string,
    filter: ExecutionFeedFilter = {},
    options: WatchOptions = {},
  ): WatchStream<ExecutionWatchEvent> {
    checkId('projectId', projectId);
    const after = parseCursor(options.after);
    this.refuseWhileShuttingDown();
    const { after: _cursor, ...identity } = options;
    const release = this.countOpen(
      identity,
      this.limiter.acquire(identity, (error) => subscriber.queue.fail(error)),
    );
    const hub = this.feedHub(projectId);
    const start = after === null ? { sinceMs: Date.now() } : { after };
    const subscriber: FeedSubscriber = new FeedSubscriber(
      filter,
      () => {
        hub.remove(subscriber);
        release();
      },
      start,
    );
    hub.add(subscriber);
    void this.startFeed(hub, subscriber);
    return subscriber.queue;
  }

  /** An execution was just started through this gateway: poll it from now on, subscribers or not (for a while). */
  notifyStarted(projectId: string, executionId: string): void {
    if (!UUID_PATTERN.test(projectId) || !UUID_PATTERN.test(executionId) || this.shuttingDown) return;
    if (this.config.startGraceMs > 0) {
      this.executionHub(projectId, executionId).pin(this.config.startGraceMs, { launched: true });
    }
    // Dashboards watching the project should see the new run soon, not at the feed's slowest pace.
    this.nudgeFeedAfterLaunch(feedTopic(projectId));
  }

  /** A cancel was requested: whoever polls this execution polls fast again. */
  async nudge(projectId: string, executionId: string): Promise<void> {
    if (!UUID_PATTERN.test(projectId) || !UUID_PATTERN.test(executionId)) return;
    const topic = executionTopic(projectId, executionId);
    this.hubs.get(topic)?.nudgeLocally();
    await Promise.all([
      this.publishNudge(topic),
      this.publishNudge(feedTopic(projectId)),
      this.publishLeaderNudge(topic),
    ]);
  }

  /**
   * Long-poll: resolves with the execution as soon as it is terminal, or after `waitMs` with its latest
   * known state (null when none was seen yet). Stops early when `signal` aborts (the client went away).
   */
  async waitForTerminal(
    projectId: string,
    executionId: string,
    waitMs: number,
    options: SubscriberIdentity & { signal?: AbortSignal } = {},
  ): Promise<MaiaExecution | null> {
    const { signal, ...identity } = options;
    const events = this.watch(projectId, executionId, { transport: 'wait', ...identity });
    let latest: MaiaExecution | null = null;
    const stop = () => void events.return();
    const timer = setLongTimeout(stop, waitMs);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const event of events) {
        latest = event.execution;
        if (isTerminalStatus(event.execution.status)) break;
      }
    } catch (error) {
      // Shutting down: answer with what is known; the caller fetches it when nothing was seen yet.
      if (!GatewayError.is(error, ErrorCode.SHUTTING_DOWN)) throw error;
    } finally {
      timer.clear();
      signal?.removeEventListener('abort', stop);
      await events.return();
    }
    return latest;
  }

  /** The long-poll behind `GET …/pipeline-executions/{id}?waitSeconds=N`; stops when the client goes away. */
  async waitForExecution(
    request: FastifyRequest,
    projectId: string,
    executionId: string,
    waitSeconds: number | undefined,
  ): Promise<MaiaExecution | null> {
    if (!waitSeconds || waitSeconds <= 0) return null;
    const abort = new AbortController();
    const onClose = () => abort.abort();
    request.raw.once('close', onClose);
    try {
      return await this.waitForTerminal(projectId, executionId, waitSeconds * 1000, {
        ...identityOfHttpRequest(request),
        transport: 'wait',
        signal: abort.signal,
      });
    } finally {
      request.raw.off('close', onClose);
    }
  }

  activity(): WatchActivity {
    let subscribers = 0;
    let leaderships = 0;
    let timers = 0;
    for (const hub of this.hubs.values()) {
      subscribers += hub.listenerCount;
      leaderships += hub.isLeader ? 1 : 0;
      timers += hub.timerCount;
    }
    return {
      topics: this.hubs.size,
      subscribers,
      leaderships,
      timers,
      limiterKeys: this.limiter.trackedKeys,
      byTransport: Object.fromEntries(this.openByTransport),
    };
  }

  /** Ends every stream with SHUTTING_DOWN and lets go of every lease, so other replicas take over at once. */
  async onModuleDestroy(): Promise<void> {
    this.shuttingDown = true;
    const leaderNudges = this.leaderNudges;
    this.leaderNudges = null;
    if (leaderNudges) await leaderNudges.then((unsubscribe) => unsubscribe()).catch(() => undefined);
    for (const { timer } of this.launchNudges.values()) clearTimeout(timer);
    this.launchNudges.clear();
    const hubs = [...this.hubs.values()];
    this.hubs.clear();
    const error = new GatewayError(ErrorCode.SHUTTING_DOWN, 'The gateway is restarting; reconnect to resume');
    await Promise.all(hubs.map((hub) => hub.close(error)));
    // Every subscription is released by now: take this replica's counts out of the fleet's.
    await this.limiter.close();
  }

  async onApplicationShutdown(): Promise<void> {
    // Normally done by onModuleDestroy already; kept for contexts that only run the shutdown hooks.
    if (this.hubs.size > 0 || !this.shuttingDown) await this.onModuleDestroy();
  }

  private countOpen(identity: SubscriberIdentity, release: () => void): () => void {
    const transport = identity.transport ?? 'other';
    this.openByTransport.set(transport, (this.openByTransport.get(transport) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.openByTransport.get(transport) ?? 1) - 1;
      if (left > 0) this.openByTransport.set(transport, left);
      else this.openByTransport.delete(transport);
      release();
    };
  }

  private async catchUp(hub: TopicHub, subscriber: ExecutionSubscriber): Promise<void> {
    try {
      await hub.ready;
      const read = await this.readForSubscriber(subscriber, () =>
        Promise.all([this.store.history(hub.topic), readFailure(this.store, hub.topic)]),
      );
      if (read === null) return;
      subscriber.catchUp(read[0], read[1]);
      if (!subscriber.ended) hub.activate();
    } catch (error) {
      this.logger.warn(`${hub.channelName}: catch-up failed: ${(error as Error).message}`);
      subscriber.queue.fail(storeUnavailable());
    }
  }

  /**
   * A read of the store for a subscriber that has not started yet, tried again after each of
   * `STORE_READ_RETRY_DELAYS_MS` when it fails; null when the subscriber went away (or the replica began to
   * shut down) while waiting. Throws the last failure.
   */
  private async readForSubscriber<T>(
    subscriber: { ended: boolean },
    read: () => Promise<T>,
  ): Promise<T | null> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await read();
      } catch (error) {
        const delayMs = STORE_READ_RETRY_DELAYS_MS[attempt];
        if (delayMs === undefined || subscriber.ended || this.shuttingDown) throw error;
        this.logger.debug(`catch-up read failed, trying again in ${delayMs} ms: ${(error as Error).message}`);
        await sleep(delayMs, undefined, { ref: false });
        if (subscriber.ended || this.shuttingDown) return null;
      }
    }
  }

  private async startFeed(hub: TopicHub, subscriber: FeedSubscriber): Promise<void> {
    try {
      await hub.ready;
      if (subscriber.resumes) {
        const read = await this.readForSubscriber(subscriber, () =>
          Promise.all([this.store.history(hub.topic), readFailure(this.store, hub.topic)]),
        );
        if (read === null) return;
        subscriber.catchUp(read[0], read[1]);
        if (!subscriber.ended) hub.activate();
        return;
      }
      const read = await this.readForSubscriber(subscriber, async () => ({
        failure: await readFailure(this.store, hub.topic),
      }));
      if (read === null) return;
      if (read.failure) subscriber.onError(read.failure);
      else hub.activate();
    } catch (error) {
      this.logger.warn(`${hub.channelName}: start failed: ${(error as Error).message}`);
      subscriber.queue.fail(storeUnavailable());
    }
  }

  private executionHub(projectId: string, executionId: string): TopicHub {
    return this.hub(
      executionTopic(projectId, executionId),
      (context) => new ExecutionPoller(projectId, executionId, context, this.maia, this.config, this.board),
      (event) => isTerminalStatus(event.execution.status),
    );
  }

  private feedHub(projectId: string): TopicHub {
    return this.hub(
      feedTopic(projectId),
      (context) => new ProjectFeedPoller(projectId, context, this.maia, this.config),
      () => false,
    );
  }

  private hub(
    topic: string,
    makePoller: (context: LeaderContext) => TopicPoller,
    isFinal: (event: { execution: MaiaExecution }) => boolean,
  ): TopicHub {
    const existing = this.hubs.get(topic);
    if (existing && !existing.isClosed) return existing;
    const hub = new TopicHub(
      topic,
      {
        store: this.store,
        redis: this.redis,
        logger: this.logger,
        leaseMs: this.config.leaseMs,
        maxIntervalMs: this.config.maxIntervalMs,
        historySize: this.config.historySize,
        historyTtlMs: this.config.historyTtlSeconds * 1000,
        errorTtlMs: ERROR_TTL_MS,
        owner: `${this.replicaId}:${randomUUID()}`,
        detached: (fn) => this.detached(fn),
      },
      {
        makePoller,
        isFinal,
        onIdle: (idle) => {
          if (this.hubs.get(topic) === idle) this.hubs.delete(topic);
          void idle.close();
        },
      },
    );
    this.hubs.set(topic, hub);
    return hub;
  }

  /** At most one feed nudge per minimum interval, and a last one at its end when launches came during it. */
  private nudgeFeedAfterLaunch(topic: string): void {
    const open = this.launchNudges.get(topic);
    if (open) {
      open.again = true;
      return;
    }
    void this.publishNudge(topic);
    const window = {
      again: false,
      timer: this.detached(() =>
        setTimeout(() => {
          this.launchNudges.delete(topic);
          if (window.again && !this.shuttingDown) this.nudgeFeedAfterLaunch(topic);
        }, this.config.minIntervalMs),
      ),
    };
    window.timer.unref();
    this.launchNudges.set(topic, window);
  }

  private async publishNudge(topic: string): Promise<void> {
    try {
      await this.redis.publish(topicChannelName(topic), encodeTopicMessage({ type: 'nudge' }));
    } catch (error) {
      this.logger.debug(`nudge of ${topic} failed: ${(error as Error).message}`);
    }
  }

  /**
   * Tells every other replica's pinned leader of the run (see `LEADER_NUDGES_CHANNEL`); the run's own
   * channel reaches only replicas with subscribers of it.
   */
  private async publishLeaderNudge(topic: string): Promise<void> {
    if (!this.redis.enabled || this.config.startGraceMs === 0) return;
    try {
      await this.redis.publish(LEADER_NUDGES_CHANNEL, JSON.stringify({ from: this.replicaId, topic }));
    } catch (error) {
      this.logger.debug(`leader nudge of ${topic} failed: ${(error as Error).message}`);
    }
  }

  /** Another replica accepted a cancel: if this one leads the run without listening, it polls soon. */
  private leaderNudged(raw: string): void {
    let message: { from?: unknown; topic?: unknown };
    try {
      message = JSON.parse(raw) as { from?: unknown; topic?: unknown };
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    if (message.from === this.replicaId || typeof message.topic !== 'string') return;
    const hub = this.hubs.get(message.topic);
    // A hub that listens heard the nudge on the run's channel already.
    if (hub) this.detached(() => hub.nudgeLocally());
  }

  private refuseWhileShuttingDown(): void {
    if (this.shuttingDown) {
      throw new GatewayError(ErrorCode.SHUTTING_DOWN, 'The gateway is restarting; reconnect to resume');
    }
  }
}

export function executionTopic(projectId: string, executionId: string): string {
  return `exec:${projectId.toLowerCase()}:${executionId.toLowerCase()}`;
}

export function feedTopic(projectId: string): string {
  return `feed:${projectId.toLowerCase()}`;
}

function checkId(name: string, value: string): void {
  if (!UUID_PATTERN.test(value))
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, `${name} must be a UUID`, { field: name });
}

function parseCursor(cursor: string | undefined): number | null {
  if (cursor === undefined || cursor === '') return null;
  if (!CURSOR.test(cursor) || !Number.isSafeInteger(Number(cursor))) {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'after must be a cursor from an earlier event', {
      field: 'after',
    });
  }
  return Number(cursor);
}
