import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { loadConfig, type AppConfig } from '../config';
import { RequestContext } from '../common/request-context';
import { RedisService } from '../redis/redis.service';
import { eventually, holdsFor } from '../../test/support/eventually';
import { StrictMaiaDouble } from '../../test/watch/support/strict-maia.double';
import { ExecutionWatchService } from './execution-watch.service';
import { type ExecutionWatchEvent } from './watch.types';
import { collect } from '../../test/watch/support/collect-stream';

/**
 * The engine against a real Redis (each test its own key prefix) and a strict Maia double. Two
 * `ExecutionWatchService`s with their own `RedisService` are two replicas.
 */

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const MIN_INTERVAL_MS = 50;

interface Replica {
  config: AppConfig;
  redis: RedisService;
  watch: ExecutionWatchService;
  stop(): Promise<void>;
}

const started: Replica[] = [];

async function replica(
  maia: StrictMaiaDouble,
  prefix: string | null,
  env: Record<string, string> = {},
): Promise<Replica> {
  const config = loadConfig({
    ...(prefix ? { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: prefix } : {}),
    LOG_LEVEL: 'silent',
    WATCH_MIN_INTERVAL_MS: String(MIN_INTERVAL_MS),
    WATCH_MAX_INTERVAL_MS: '200',
    WATCH_LEASE_MS: '300',
    WATCH_DETAILS_EVERY_POLLS: '1000',
    WATCH_START_GRACE_MS: '400',
    ...env,
  });
  const redis = new RedisService(config);
  await redis.onModuleInit();
  const watch = new ExecutionWatchService(maia, redis, config);
  let stopped = false;
  const r: Replica = {
    config,
    redis,
    watch,
    async stop() {
      if (stopped) return;
      stopped = true;
      await watch.onModuleDestroy();
      await redis.onApplicationShutdown();
    },
  };
  started.push(r);
  return r;
}

const prefix = () => `test:${randomUUID()}:`;
const waitFor = (check: () => boolean, timeoutMs = 5_000) => eventually(check, { timeoutMs });

beforeAll(() => Logger.overrideLogger(false));

afterEach(async () => {
  await Promise.all(started.splice(0).map((r) => r.stop()));
});

describe('ExecutionWatchService', () => {
  it('streams the current state first, then each change, and completes after the terminal state', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const { watch } = await replica(maia, prefix());

    const seen: ExecutionWatchEvent[] = [];
    const done = collect(watch.watch(PROJECT, id), seen);
    await waitFor(() => seen.length === 1);
    maia.update(id, { message: '"Extract Orders": running' });
    maia.update(id, { status: 'CANCELLING' }); // a status change, seen by the light call
    await waitFor(() => seen.length === 2);
    maia.update(id, { status: 'SUCCESS', finishedAt: new Date().toISOString(), message: 'done' });
    const { events, error } = await done;

    expect(error).toBeNull();
    expect(events.map((e) => [e.kind, e.execution.status])).toEqual([
      ['SNAPSHOT', 'RUNNING'],
      ['CHANGED', 'CANCELLING'],
      ['FINISHED', 'SUCCESS'],
    ]);
    expect(events[1].execution.message).toBe('"Extract Orders": running');
    expect(events[2].execution.finishedAt).not.toBeNull();
    const cursors = events.map((e) => Number(e.cursor));
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
    expect(new Set(cursors).size).toBe(3);
    expect(maia.unexpected).toEqual([]);
    // Done: nothing left behind.
    await waitFor(() => watch.activity().topics === 0);
    const callsAtEnd = maia.calls.length;
    await holdsFor(() => expect(maia.calls.length).toBe(callsAtEnd), 4 * MIN_INTERVAL_MS);
  });

  it('polls once for all subscribers of both replicas, and every subscriber sees every event once', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const p = prefix();
    const a = await replica(maia, p);
    const b = await replica(maia, p);

    const begin = Date.now();
    const runs = [...Array(40).keys()].map((i) => collect((i % 2 ? a : b).watch.watch(PROJECT, id)));
    await waitFor(() => a.watch.activity().subscribers + b.watch.activity().subscribers === 40);
    // The leader keeps polling for a while before the run finishes.
    await waitFor(() => maia.count('getExecutionStatus') >= 8);
    maia.update(id, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    const results = await Promise.all(runs);
    const elapsedMs = Date.now() - begin;

    for (const { events, error } of results) {
      expect(error).toBeNull();
      expect(events.map((e) => e.execution.status)).toEqual(['RUNNING', 'SUCCESS']);
      expect(events.map((e) => e.cursor)).toEqual(results[0].events.map((e) => e.cursor));
    }
    // One leader: at most one light call per interval (plus the first and the final details).
    const upstream = maia.count('getExecution', 'getExecutionStatus');
    expect(upstream).toBeLessThanOrEqual(Math.ceil(elapsedMs / MIN_INTERVAL_MS) + 2);
    const lightCalls = maia.calls.filter((c) => c.method === 'getExecutionStatus').map((c) => c.at);
    for (let i = 1; i < lightCalls.length; i += 1) {
      expect(lightCalls[i] - lightCalls[i - 1]).toBeGreaterThanOrEqual(MIN_INTERVAL_MS - 5);
    }
    expect(a.watch.activity().leaderships + b.watch.activity().leaderships).toBe(0);
    expect(maia.unexpected).toEqual([]);
  });

  it('gives a subscriber that resumes with its last cursor exactly the events it missed', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const p = prefix();
    const a = await replica(maia, p);
    const b = await replica(maia, p);

    // A stays subscribed the whole time (it keeps the polling going); B disconnects after the first event.
    const all = collect(a.watch.watch(PROJECT, id));
    const first = b.watch.watch(PROJECT, id);
    const firstEvent = (await first.next()).value as ExecutionWatchEvent;
    await first.return();
    expect(firstEvent.execution.status).toBe('RUNNING');

    maia.update(id, { status: 'CANCELLING', message: 'cancelling' });
    await waitFor(() => maia.count('getExecution') >= 2);
    maia.update(id, { status: 'CANCELLED', finishedAt: new Date().toISOString() });
    const { events: everything } = await all;
    expect(everything.map((e) => e.execution.status)).toEqual(['RUNNING', 'CANCELLING', 'CANCELLED']);

    const resumed = await collect(b.watch.watch(PROJECT, id, { after: firstEvent.cursor }));
    expect(resumed.error).toBeNull();
    expect(resumed.events).toEqual(everything.slice(1));

    // Resuming after the final event: nothing more, and the stream ends at once.
    const last = everything.at(-1) as ExecutionWatchEvent;
    const nothing = await collect(b.watch.watch(PROJECT, id, { after: last.cursor }));
    expect(nothing).toEqual({ events: [], error: null });

    // A late subscriber without a cursor gets the final state as a snapshot, without any upstream call.
    const callsBefore = maia.calls.length;
    const late = await collect(a.watch.watch(PROJECT, id));
    expect(late.events.map((e) => [e.kind, e.execution.status, e.cursor])).toEqual([
      ['SNAPSHOT', 'CANCELLED', last.cursor],
    ]);
    expect(maia.calls.length).toBe(callsBefore);
  });

  it('hands the polling to the other replica at once when the leader shuts down', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const p = prefix();
    const a = await replica(maia, p, { WATCH_LEASE_MS: '3000' });
    const onA = collect(a.watch.watch(PROJECT, id));
    await waitFor(() => a.watch.activity().leaderships === 1);
    const b = await replica(maia, p, { WATCH_LEASE_MS: '3000' });
    const onB = collect(b.watch.watch(PROJECT, id));
    await waitFor(() => b.watch.activity().subscribers === 1);
    await holdsFor(() => expect(b.watch.activity().leaderships).toBe(0), 100);

    const stoppedAt = Date.now();
    await a.stop();
    const onAResult = await onA;
    expect((onAResult.error as GatewayError).code).toBe(ErrorCode.SHUTTING_DOWN);
    // Released, not expired: B takes over long before the 3 s lease would have run out.
    await waitFor(() => b.watch.activity().leaderships === 1, 1_000);
    expect(Date.now() - stoppedAt).toBeLessThan(1_000);

    maia.update(id, { status: 'FAILED', finishedAt: new Date().toISOString(), message: 'boom' });
    const { events, error } = await onB;
    expect(error).toBeNull();
    expect(events.map((e) => e.execution.status)).toEqual(['RUNNING', 'FAILED']);
  });

  it('takes over within two lease periods when the leader dies without releasing', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const p = prefix();
    const a = await replica(maia, p);
    const b = await replica(maia, p);
    const onA = a.watch.watch(PROJECT, id);
    await onA.next();
    await waitFor(() => a.watch.activity().leaderships === 1);
    const seenOnB: ExecutionWatchEvent[] = [];
    const onB = collect(b.watch.watch(PROJECT, id), seenOnB);
    await waitFor(() => seenOnB.length === 1); // caught up, so campaigning

    // A "dies": its Redis connections drop, so it can neither renew nor release.
    a.redis.disconnect();
    const diedAt = Date.now();
    await waitFor(() => b.watch.activity().leaderships === 1, 2 * 300 + 200);
    expect(Date.now() - diedAt).toBeLessThan(2 * 300 + 100);
    maia.update(id, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    const { events } = await onB;
    expect(events.map((e) => e.execution.status)).toEqual(['RUNNING', 'SUCCESS']);
    await onA.return();
  });

  it('ends the stream with NOT_FOUND for an unknown execution, also for late subscribers, without polling again', async () => {
    const maia = new StrictMaiaDouble();
    const { watch } = await replica(maia, prefix());
    const id = randomUUID();

    const first = await collect(watch.watch(PROJECT, id));
    expect(first.events).toEqual([]);
    expect(first.error).toBeInstanceOf(GatewayError);
    expect((first.error as GatewayError).code).toBe(ErrorCode.NOT_FOUND);
    expect(maia.count('getExecution')).toBe(1);

    const late = await collect(watch.watch(PROJECT, id));
    expect((late.error as GatewayError).code).toBe(ErrorCode.NOT_FOUND);
    expect(maia.count('getExecution')).toBe(1);
  });

  it('keeps subscribers connected through upstream errors and backs off', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const { watch } = await replica(maia, prefix());
    const seen: ExecutionWatchEvent[] = [];
    const done = collect(watch.watch(PROJECT, id), seen);
    await waitFor(() => seen.length === 1);

    const outage = new GatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, 'Maia is unavailable');
    maia.failNext('getExecutionStatus', outage, 4);
    maia.failNext('getExecution', outage, 4);
    const outageStart = maia.calls.length;
    await waitFor(() => maia.calls.length - outageStart >= 8, 5_000);
    // Backing off: the gaps between failing rounds grow.
    const rounds = maia.calls.slice(outageStart).filter((c) => c.method === 'getExecutionStatus');
    const gaps = rounds.slice(1).map((c, i) => c.at - rounds[i].at);
    expect(gaps.at(-1)).toBeGreaterThan(gaps[0]);
    expect(seen).toHaveLength(1);

    maia.update(id, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    const { events, error } = await done;
    expect(error).toBeNull();
    expect(events.map((e) => e.execution.status)).toEqual(['RUNNING', 'SUCCESS']);
  });

  it('stops polling when the last subscriber leaves, and leaves no timer, listener or lease behind', async () => {
    const maia = new StrictMaiaDouble();
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) maia.addRun(PROJECT, id);
    const p = prefix();
    const a = await replica(maia, p);
    const b = await replica(maia, p);
    const channelsBefore = a.redis.subscribedChannelCount + b.redis.subscribedChannelCount;

    const streams = [a, b, a, b].flatMap((r) =>
      ids.map((id) => r.watch.watch(PROJECT, id, { clientKey: 'c1' })),
    );
    await Promise.all(streams.map((s) => s.next()));
    await eventually(() =>
      expect(a.redis.subscribedChannelCount + b.redis.subscribedChannelCount).toBe(channelsBefore + 4),
    );

    await Promise.all(streams.map((s) => s.return()));
    await waitFor(() => a.watch.activity().topics + b.watch.activity().topics === 0);
    const callsAfterLeave = maia.calls.length;
    await holdsFor(() => expect(maia.calls.length).toBe(callsAfterLeave), 3 * 200);
    for (const r of [a, b]) {
      expect(r.watch.activity()).toEqual({
        topics: 0,
        subscribers: 0,
        leaderships: 0,
        timers: 0,
        limiterKeys: 0,
        byTransport: {},
      });
    }
    expect(a.redis.subscribedChannelCount + b.redis.subscribedChannelCount).toBe(channelsBefore);
    await eventually(async () => expect(await a.redis.scanKeys(`${p}watch:*lease*`)).toEqual([]));
  });

  it('limits subscriptions per connection and per client with RATE_LIMITED, and frees the slot on unsubscribe', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const { watch } = await replica(maia, prefix(), {
      WATCH_MAX_SUBSCRIPTIONS_PER_CONNECTION: '2',
      WATCH_MAX_SUBSCRIPTIONS_PER_CLIENT: '3',
    });
    const socket = {};
    const s1 = watch.watch(PROJECT, id, { connectionKey: socket, clientKey: 'k' });
    const s2 = watch.watch(PROJECT, id, { connectionKey: socket, clientKey: 'k' });
    expect(() => watch.watch(PROJECT, id, { connectionKey: socket, clientKey: 'k' })).toThrow(
      expect.objectContaining({ code: ErrorCode.RATE_LIMITED }),
    );
    const s3 = watch.watch(PROJECT, id, { connectionKey: {}, clientKey: 'k' });
    expect(() => watch.watch(PROJECT, id, { connectionKey: {}, clientKey: 'k' })).toThrow(
      expect.objectContaining({ code: ErrorCode.RATE_LIMITED, message: expect.stringContaining('client') }),
    );
    await s1.return();
    const s4 = watch.watch(PROJECT, id, { connectionKey: socket, clientKey: 'k' });
    await Promise.all([s2, s3, s4].map((s) => s.return()));
    expect(watch.activity().limiterKeys).toBe(0);
  });

  it('refuses malformed ids and cursors with BAD_USER_INPUT before any upstream call', async () => {
    const maia = new StrictMaiaDouble();
    const { watch } = await replica(maia, prefix());
    expect(() => watch.watch('../x', randomUUID())).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_USER_INPUT }),
    );
    expect(() => watch.watch(PROJECT, 'nope')).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_USER_INPUT }),
    );
    expect(() => watch.watch(PROJECT, randomUUID(), { after: 'abc' })).toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_USER_INPUT }),
    );
    expect(maia.calls).toEqual([]);
  });

  it('watches an execution started through the gateway from its first second, before anyone subscribes', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const { watch } = await replica(maia, prefix());
    watch.notifyStarted(PROJECT, id);
    await waitFor(() => maia.count('getExecution') === 1);
    maia.update(id, { message: 'step 1' });
    await waitFor(() => maia.count('getExecution') === 2); // the change, seen in the project's listing
    maia.update(id, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    await waitFor(() => watch.activity().topics === 0, 2_000);

    const late = await collect(watch.watch(PROJECT, id, { after: '0' }));
    expect(late.events.map((e) => e.kind)).toEqual(['SNAPSHOT']); // cursor 0 is older than the history
    const history = await collect(watch.watch(PROJECT, id));
    expect(history.events[0].execution.status).toBe('SUCCESS');
  });

  it('stops polling an execution started here once the start grace ends without subscribers', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const { watch } = await replica(maia, prefix(), { WATCH_START_GRACE_MS: '300' });
    watch.notifyStarted(PROJECT, id);
    await waitFor(() => maia.calls.length > 0);
    await waitFor(() => watch.activity().topics === 0, 300 + 500);
    const calls = maia.calls.length;
    await holdsFor(() => expect(maia.calls.length).toBe(calls), 300);
  });

  it('polls fast again after a cancel nudge', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    // A long run: the interval is at its maximum (1 s here).
    maia.addRun(PROJECT, id, { startedAt: new Date(Date.now() - 3_600_000).toISOString() });
    const { watch } = await replica(maia, prefix(), { WATCH_MAX_INTERVAL_MS: '1000' });
    const seen: ExecutionWatchEvent[] = [];
    const done = collect(watch.watch(PROJECT, id), seen);
    await waitFor(() => seen.length === 1);
    maia.update(id, { status: 'CANCELLING' });
    const nudgedAt = Date.now();
    await watch.nudge(PROJECT, id);
    await waitFor(() => seen.length === 2, 1_000);
    expect(Date.now() - nudgedAt).toBeLessThan(500);
    maia.update(id, { status: 'CANCELLED', finishedAt: new Date().toISOString() });
    const { events } = await done;
    expect(events.map((e) => e.execution.status)).toEqual(['RUNNING', 'CANCELLING', 'CANCELLED']);
  });

  it('long-polls: answers as soon as the run finishes, or after the wait with the current state', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const { watch } = await replica(maia, prefix());

    const begin = Date.now();
    const current = await watch.waitForTerminal(PROJECT, id, 300);
    expect(current?.status).toBe('RUNNING');
    expect(Date.now() - begin).toBeGreaterThanOrEqual(290);

    const finished = watch.waitForTerminal(PROJECT, id, 5_000);
    await waitFor(() => watch.activity().leaderships === 1);
    maia.update(id, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    const finishedAt = Date.now();
    expect((await finished)?.status).toBe('SUCCESS');
    expect(Date.now() - finishedAt).toBeLessThan(1_000);
    await waitFor(() => watch.activity().topics === 0);
  });

  it("polls outside the first subscriber's request context, so no request id leaks into the poller", async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const contexts: (RequestContext | undefined)[] = [];
    const getExecution = maia.getExecution.bind(maia);
    maia.getExecution = (projectId, executionId) => {
      contexts.push(RequestContext.current());
      return getExecution(projectId, executionId);
    };
    const { watch } = await replica(maia, null);
    const stream = RequestContext.run(new RequestContext('req-1'), () => watch.watch(PROJECT, id));
    await stream.next();
    await stream.return();
    expect(contexts).toEqual([undefined]);
  });

  it('works on memory alone, as one replica, without Redis', async () => {
    const maia = new StrictMaiaDouble();
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const { watch, redis } = await replica(maia, null);
    expect(redis.enabled).toBe(false);
    const seen: ExecutionWatchEvent[] = [];
    const streams = [collect(watch.watch(PROJECT, id), seen), collect(watch.watch(PROJECT, id))];
    await waitFor(() => seen.length === 1);
    maia.update(id, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    const results = await Promise.all(streams);
    for (const { events } of results)
      expect(events.map((e) => e.execution.status)).toEqual(['RUNNING', 'SUCCESS']);
    const resumed = await collect(watch.watch(PROJECT, id, { after: seen[0].cursor }));
    expect(resumed.events.map((e) => e.execution.status)).toEqual(['SUCCESS']);
    await waitFor(() => watch.activity().topics === 0);
  });

  it('feeds a project: started, changed and finished executions, filtered, from one list poll', async () => {
    const maia = new StrictMaiaDouble();
    const old = randomUUID();
    maia.addRun(PROJECT, old, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    const p = prefix();
    const a = await replica(maia, p);
    const b = await replica(maia, p);
    const seenAll: ExecutionWatchEvent[] = [];
    const seenProd: ExecutionWatchEvent[] = [];
    const all = a.watch.watchProject(PROJECT);
    const prod = b.watch.watchProject(PROJECT, { environmentName: 'Prod' });
    void collect(all, seenAll);
    void collect(prod, seenProd);
    await waitFor(() => maia.count('listExecutions') >= 2); // the first list, the baseline, is stored

    const dev = randomUUID();
    const prd = randomUUID();
    maia.addRun(PROJECT, dev, { startedAt: new Date(Date.now() - 10).toISOString() });
    maia.addRun(PROJECT, prd, { environmentName: 'Prod' });
    await waitFor(() => seenAll.length === 2);
    maia.update(dev, { status: 'FAILED', finishedAt: new Date().toISOString(), message: 'boom' });
    await waitFor(() => seenAll.length === 3);
    await eventually(() => expect(seenProd.map((e) => e.execution.pipelineExecutionId)).toEqual([prd]));

    expect(seenAll.map((e) => [e.kind, e.execution.pipelineExecutionId, e.execution.status])).toEqual([
      ['STARTED', dev, 'RUNNING'],
      ['STARTED', prd, 'RUNNING'],
      ['FINISHED', dev, 'FAILED'],
    ]);
    expect(seenProd.map((e) => e.execution.pipelineExecutionId)).toEqual([prd]);
    // One list poll for both replicas' subscribers: never two within one interval.
    const lists = maia.calls.filter((c) => c.method === 'listExecutions').map((c) => c.at);
    for (let i = 1; i < lists.length; i += 1)
      expect(lists[i] - lists[i - 1]).toBeGreaterThanOrEqual(MIN_INTERVAL_MS - 5);
    await Promise.all([all.return(), prod.return()]);
    expect(a.watch.activity().topics + b.watch.activity().topics).toBe(0);
    expect(maia.unexpected).toEqual([]);
  });
});
