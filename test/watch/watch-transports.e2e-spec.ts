import { randomUUID } from 'node:crypto';
import { type Client } from 'graphql-ws';
import { ExecutionWatchService } from '../../src/watch/execution-watch.service';
import { RedisService } from '../../src/redis/redis.service';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import {
  EXECUTION_UPDATED,
  PROJECT_EVENTS,
  openSse,
  startRunOnEmulator,
  subscribe,
  waitFor,
  wsClient,
} from './support/watch-clients';
import { holdsFor } from '../support/eventually';

/**
 * The transports of live status against one in-process gateway (real Redis, the emulator): the official
 * graphql-ws client, server-sent events, the project feed, limits, and that nothing is left behind.
 */

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const ORDERS = 'FOLDER/load_orders.orch.yaml'; // 4 s of steps, SUCCESS
const CUSTOMERS = 'FOLDER/load_customers.orch.yaml'; // 3.2 s, FAILED
const BACKFILL = 'FOLDER/long_backfill.orch.yaml'; // 10 min
const TIME_SCALE = 0.25;
const MIN_INTERVAL_MS = 100;

let emulator: EmulatorFixture;
let gateway: InProcessGateway;
let watch: ExecutionWatchService;
const clients: Client[] = [];

const run = (pipeline = ORDERS) => startRunOnEmulator(emulator.url, emulator, PROJECT, pipeline);

function client(): Client {
  const c = wsClient(gateway.url);
  clients.push(c);
  return c;
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

beforeAll(async () => {
  emulator = await startEmulatorFixture({ timeScale: TIME_SCALE });
  gateway = await startGateway(
    gatewayEnv(emulator, {
      REDIS_URL: 'redis://127.0.0.1:6379',
      AUTH_DISABLED: 'true',
      WATCH_MIN_INTERVAL_MS: String(MIN_INTERVAL_MS),
      WATCH_MAX_INTERVAL_MS: '400',
      WATCH_LEASE_MS: '600',
      WATCH_KEEPALIVE_MS: '150',
      WATCH_SSE_RETRY_MS: '1500',
      WATCH_MAX_SUBSCRIPTIONS_PER_CONNECTION: '4',
    }),
  );
  watch = gateway.app.get(ExecutionWatchService);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
});

afterAll(async () => {
  await gateway?.close();
  await emulator?.close();
});

describe('graphql-ws (official client)', () => {
  it('pipelineExecutionUpdated: current state first, each change, FINISHED, then completion', async () => {
    const id = await run();
    const sub = subscribe(client(), EXECUTION_UPDATED, { projectId: PROJECT, executionId: id });
    await sub.done;

    const events = sub.results.map((r) => {
      expect(r.errors).toBeUndefined();
      return r.data?.pipelineExecutionUpdated as {
        cursor: string;
        at: string;
        kind: string;
        execution: { id: string; status: string; isTerminal: boolean; finishedAt: string | null };
      };
    });
    expect(events[0]).toMatchObject({
      kind: 'SNAPSHOT',
      execution: { id, status: 'RUNNING', isTerminal: false },
    });
    expect(events.at(-1)).toMatchObject({
      kind: 'FINISHED',
      execution: { status: 'SUCCESS', isTerminal: true },
    });
    expect(events.at(-1)?.execution.finishedAt).toEqual(expect.any(String));
    expect(events.slice(0, -1).every((e) => e.execution.status === 'RUNNING')).toBe(true);
    const cursors = events.map((e) => Number(e.cursor));
    expect(cursors).toEqual([...new Set(cursors)].sort((a, b) => a - b));
    expect(Date.parse(events[0].at)).not.toBeNaN();
  });

  it('resuming with the last cursor gives exactly the missed events', async () => {
    const id = await run();
    const c = client();
    const first = subscribe(c, EXECUTION_UPDATED, { projectId: PROJECT, executionId: id });
    await waitFor(() => first.results.length === 1);
    first.unsubscribe();
    const lastCursor = (first.results[0].data?.pipelineExecutionUpdated as { cursor: string }).cursor;

    // Someone else keeps watching, so the history keeps growing while we are away.
    const witness = subscribe(c, EXECUTION_UPDATED, { projectId: PROJECT, executionId: id });
    await witness.done;
    const resumed = subscribe(c, EXECUTION_UPDATED, {
      projectId: PROJECT,
      executionId: id,
      after: lastCursor,
    });
    await resumed.done;

    const all = witness.results.map((r) => r.data?.pipelineExecutionUpdated as { cursor: string });
    const missed = all.filter((e) => Number(e.cursor) > Number(lastCursor));
    expect(missed.length).toBeGreaterThanOrEqual(1);
    expect(resumed.results.map((r) => r.data?.pipelineExecutionUpdated)).toEqual(missed);
  });

  it('an unknown execution ends with NOT_FOUND in extensions.code, and the socket stays usable', async () => {
    const c = client();
    const sub = subscribe(c, EXECUTION_UPDATED, { projectId: PROJECT, executionId: randomUUID() });
    await sub.done;
    expect(sub.results).toHaveLength(1);
    expect(sub.results[0].data ?? null).toBeNull();
    expect(sub.results[0].errors?.[0]).toMatchObject({
      message: 'Pipeline execution not found',
      extensions: { code: 'NOT_FOUND' },
    });
    expect(JSON.stringify(sub.results)).not.toContain(emulator.url);

    const bad = subscribe(c, EXECUTION_UPDATED, { projectId: PROJECT, executionId: 'not-a-uuid' });
    await bad.done;
    expect(bad.results[0].errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses subscriptions over the per-connection limit with RATE_LIMITED, and frees slots on complete', async () => {
    const id = await run(BACKFILL);
    const c = client();
    const watchIt = () => subscribe(c, EXECUTION_UPDATED, { projectId: PROJECT, executionId: id });
    const open = [...Array(4).keys()].map(watchIt);
    await waitFor(() => open.every((s) => s.results.length >= 1));
    const refused = watchIt();
    await refused.done;
    expect(refused.results).toHaveLength(1);
    expect(refused.results[0].errors?.[0]).toMatchObject({
      message: expect.stringContaining('Too many subscriptions on this connection'),
      extensions: { code: 'RATE_LIMITED' },
    });
    // Another connection has its own budget.
    const other = subscribe(client(), EXECUTION_UPDATED, { projectId: PROJECT, executionId: id });
    await waitFor(() => other.results.length >= 1);
    expect(other.results[0].errors).toBeUndefined();

    const openBefore = watch.activity().byTransport.graphql ?? 0;
    open[0].unsubscribe();
    await waitFor(() => (watch.activity().byTransport.graphql ?? 0) === openBefore - 1);
    const again = watchIt();
    await waitFor(() => again.results.length >= 1);
    expect(again.results[0].errors).toBeUndefined();
    expect(again.results[0].data?.pipelineExecutionUpdated).toMatchObject({
      execution: { status: 'RUNNING' },
    });
    for (const s of [...open, other, again]) s.unsubscribe();
  });

  it('pipelineExecutionEvents: started and finished runs of the project, filtered', async () => {
    const c = client();
    const all = subscribe(c, PROJECT_EVENTS, { projectId: PROJECT });
    const failedOnly = subscribe(c, PROJECT_EVENTS, { projectId: PROJECT, filter: { status: ['FAILED'] } });
    // The first list poll is the baseline; runs started after it are announced.
    const listsBefore = await emulator.count('listExecutions');
    await waitFor(async () => (await emulator.count('listExecutions')) >= listsBefore + 2); // baseline stored
    const orders = await run(ORDERS);
    const customers = await run(CUSTOMERS);
    const seen = () =>
      all.results.map(
        (r) => r.data?.pipelineExecutionEvents as { kind: string; execution: { id: string; status: string } },
      );
    await waitFor(
      () => seen().filter((e) => e.kind === 'FINISHED').length === 2,
      10_000,
      'both runs finished in the feed',
    );
    const ofRun = (id: string) =>
      seen()
        .filter((e) => e.execution.id === id)
        .map((e) => [e.kind, e.execution.status]);
    expect(ofRun(orders)[0]).toEqual(['STARTED', 'RUNNING']);
    expect(ofRun(orders).at(-1)).toEqual(['FINISHED', 'SUCCESS']);
    expect(ofRun(customers).at(-1)).toEqual(['FINISHED', 'FAILED']);
    expect(
      failedOnly.results.map(
        (r) => (r.data?.pipelineExecutionEvents as { execution: { id: string } }).execution.id,
      ),
    ).toEqual([customers]);
    all.unsubscribe();
    failedOnly.unsubscribe();
  });
});

describe('server-sent events', () => {
  it('streams id/data events with retry and keep-alive comments, and closes after the terminal event', async () => {
    const id = await run();
    const sse = openSse(eventsUrl(id));
    expect(await sse.status).toBe(200);
    expect((await sse.headers)['content-type']).toMatch(/^text\/event-stream/);
    await sse.ended;

    expect(sse.retries).toEqual([1500]);
    expect(sse.comments).toContain('keep-alive'); // every 150 ms here, over a ~1 s run
    const data = sse.events.map(
      (e) => JSON.parse(e.data) as { cursor: string; kind: string; execution: Record<string, unknown> },
    );
    expect(
      sse.events.every(
        (e) => e.event === 'message' && e.id === (JSON.parse(e.data) as { cursor: string }).cursor,
      ),
    ).toBe(true);
    expect(data[0]).toMatchObject({
      kind: 'SNAPSHOT',
      execution: { pipelineExecutionId: id, status: 'RUNNING', projectId: PROJECT },
    });
    expect(data.at(-1)).toMatchObject({ kind: 'FINISHED', execution: { status: 'SUCCESS' } });
  });

  it('resumes with Last-Event-ID: exactly the missed events; after the final one, 204', async () => {
    const id = await run();
    const first = openSse(eventsUrl(id));
    await waitFor(() => first.events.length === 1);
    first.close();
    const lastEventId = first.events[0].id as string;

    const witness = openSse(eventsUrl(id));
    await witness.ended;
    const resumed = openSse(eventsUrl(id), { 'last-event-id': lastEventId });
    await resumed.ended;
    const missed = witness.events.filter((e) => Number(e.id) > Number(lastEventId));
    expect(missed.length).toBeGreaterThanOrEqual(1);
    expect(resumed.events).toEqual(missed);

    const afterEnd = openSse(eventsUrl(id), { 'last-event-id': missed.at(-1)?.id as string });
    expect(await afterEnd.status).toBe(204);
    await afterEnd.ended;
    expect(afterEnd.events).toEqual([]);
  });

  it('answers an unknown execution with 404 problem+json, and a bad Last-Event-ID with 400', async () => {
    const missing = openSse(eventsUrl(randomUUID()));
    expect(await missing.status).toBe(404);
    expect((await missing.headers)['content-type']).toMatch(/^application\/problem\+json/);
    await missing.ended;
    expect(JSON.parse(missing.body())).toMatchObject({ status: 404, code: 'NOT_FOUND' });

    const id = await run(CUSTOMERS);
    const bad = openSse(eventsUrl(id), { 'last-event-id': 'x; drop' });
    expect(await bad.status).toBe(400);
    await bad.ended;
    expect(JSON.parse(bad.body())).toMatchObject({ code: 'BAD_USER_INPUT' });
    await openSse(eventsUrl(id)).ended; // let the run finish before the next test
  });

  it('an upstream NOT_FOUND during the stream ends it with an error event carrying the shared code', async () => {
    const id = await run(CUSTOMERS);
    const sse = openSse(eventsUrl(id));
    await waitFor(() => sse.events.length === 1);
    // From now on Maia says the run is gone.
    const faults = [
      await emulator.addFault({ route: 'getExecutionStatus', status: 404 }),
      await emulator.addFault({ route: 'getExecution', status: 404 }),
    ];
    try {
      await sse.ended;
    } finally {
      for (const fault of faults) await emulator.removeFault(fault);
    }
    const last = sse.events.at(-1);
    expect(last?.event).toBe('error');
    expect(JSON.parse(last?.data ?? '{}')).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('long-poll and the execute/cancel path', () => {
  const byId = (id: string, query = '') =>
    `${gateway.url}/api/v1/projects/${PROJECT}/pipeline-executions/${id}${query}`;

  it('GET ?waitSeconds answers as soon as the run is finished', async () => {
    const id = await run(); // ~1 s
    const begin = Date.now();
    const response = await fetch(byId(id, '?waitSeconds=10'));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      pipelineExecutionId: id,
      status: 'SUCCESS',
      projectId: PROJECT,
    });
    expect(Date.now() - begin).toBeLessThan(5_000);
  });

  it('GET ?waitSeconds answers after the wait with the current state when the run goes on', async () => {
    const id = await run(BACKFILL);
    const begin = Date.now();
    const response = await fetch(byId(id, '?waitSeconds=1'));
    const elapsedMs = Date.now() - begin;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ pipelineExecutionId: id, status: 'RUNNING' });
    expect(elapsedMs).toBeGreaterThanOrEqual(950);
    expect(elapsedMs).toBeLessThan(3_000);
  });

  it('GET ?waitSeconds refuses values outside 0..60 and answers NOT_FOUND for an unknown run', async () => {
    for (const bad of ['61', '-1', 'soon']) {
      const response = await fetch(byId(randomUUID(), `?waitSeconds=${bad}`));
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'BAD_USER_INPUT' });
    }
    const missing = await fetch(byId(randomUUID(), '?waitSeconds=2'));
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a run started through the gateway is watched from its first second; a cancel is seen fast', async () => {
    const executed = await fetch(`${gateway.url}/api/v1/projects/${PROJECT}/pipeline-executions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pipelineName: BACKFILL, environmentName: 'Dev' }),
    });
    expect(executed.status).toBe(201);
    const { pipelineExecutionId: id } = (await executed.json()) as { pipelineExecutionId: string };
    // Nobody subscribed yet, and the gateway already keeps the run's first state.
    const redis = gateway.app.get(RedisService);
    const history = `${gateway.config.redis.keyPrefix}watch:{exec:${PROJECT}:${id}}:history`;
    await waitFor(async () => (await redis.listRange(history)).length >= 1, 5_000, 'observed at launch');

    const subscribedAt = Date.now();
    const sub = subscribe(client(), EXECUTION_UPDATED, { projectId: PROJECT, executionId: id });
    await waitFor(() => sub.results.length >= 1);
    // The gateway saw the run before anyone asked: the current state was observed at launch.
    const first = sub.results[0].data?.pipelineExecutionUpdated as {
      kind: string;
      at: string;
      execution: { status: string };
    };
    expect(first).toMatchObject({ kind: 'SNAPSHOT', execution: { status: 'RUNNING' } });
    expect(Date.parse(first.at)).toBeLessThanOrEqual(subscribedAt);

    const cancelledAt = Date.now();
    const cancel = await fetch(byId(id), {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'CANCELLED', forceUpdate: false }),
    });
    expect(cancel.status).toBe(200);
    await sub.done;
    const statuses = sub.results.map(
      (r) => (r.data?.pipelineExecutionUpdated as { execution: { status: string } }).execution.status,
    );
    expect(statuses).toContain('CANCELLING');
    expect(statuses.at(-1)).toBe('CANCELLED');
    // Grace of 2 s x 0.25, plus at most a couple of fast polls.
    expect(Date.now() - cancelledAt).toBeLessThan(2_000);
  });
});

describe('cleanup', () => {
  it('client disconnects release every listener, timer and lease; polling stops within one interval', async () => {
    await waitFor(() => watch.activity().topics === 0, 5_000, 'idle watcher');
    const redis = gateway.app.get(RedisService);
    const channelsBefore = redis.subscribedChannelCount;
    const timersBefore = timeouts();

    const id = await startRunOnEmulator(emulator.url, emulator, PROJECT, 'FOLDER/long_backfill.orch.yaml');
    const c = client();
    const subs = [...Array(3).keys()].map(() =>
      subscribe(c, EXECUTION_UPDATED, { projectId: PROJECT, executionId: id }),
    );
    const streams = [...Array(3).keys()].map(() => openSse(eventsUrl(id)));
    await waitFor(() => subs.every((s) => s.results.length > 0) && streams.every((s) => s.events.length > 0));
    expect(watch.activity()).toMatchObject({ topics: 1, subscribers: 6, leaderships: 1 });
    expect(redis.subscribedChannelCount).toBe(channelsBefore + 1);

    for (const s of subs) s.unsubscribe();
    for (const s of streams) s.close();
    await c.dispose(); // the client's own timers are not the server's
    await waitFor(() => watch.activity().topics === 0, 2_000, 'released subscriptions');
    const polls = async () =>
      (await emulator.count('getExecutionStatus')) + (await emulator.count('getExecution'));
    const pollsAtLeave = await polls();
    await holdsFor(async () => expect(await polls()).toBe(pollsAtLeave), 3 * 400, { intervalMs: 50 });
    expect(watch.activity()).toEqual({
      topics: 0,
      subscribers: 0,
      leaderships: 0,
      timers: 0,
      limiterKeys: 0,
      byTransport: {},
    });
    expect(redis.subscribedChannelCount).toBe(channelsBefore);
    expect(timeouts()).toBeLessThanOrEqual(timersBefore);
    expect(await redis.scanKeys(`${gateway.config.redis.keyPrefix}watch:*lease*`)).toEqual([]);
  });
});

function eventsUrl(id: string): string {
  return `${gateway.url}/api/v1/projects/${PROJECT}/pipeline-executions/${id}/events`;
}

describe('without Redis (one replica, memory only)', () => {
  let memoryGateway: InProcessGateway;

  beforeAll(async () => {
    memoryGateway = await startGateway(
      gatewayEnv(emulator, {
        AUTH_DISABLED: 'true',
        WATCH_MIN_INTERVAL_MS: String(MIN_INTERVAL_MS),
        WATCH_MAX_INTERVAL_MS: '400',
      }),
    );
  });

  afterAll(async () => {
    await memoryGateway?.close();
  });

  it('streams, resumes and releases the same way', async () => {
    expect(memoryGateway.app.get(RedisService).enabled).toBe(false);
    const id = await run(CUSTOMERS);
    const url = `${memoryGateway.url}/api/v1/projects/${PROJECT}/pipeline-executions/${id}/events`;
    const first = openSse(url);
    await waitFor(() => first.events.length === 1);
    first.close();
    const whole = openSse(url);
    await whole.ended;
    const statuses = whole.events.map(
      (e) => (JSON.parse(e.data) as { execution: { status: string } }).execution.status,
    );
    expect(statuses[0]).toBe('RUNNING');
    expect(statuses.at(-1)).toBe('FAILED');

    const resumed = openSse(url, { 'last-event-id': first.events[0].id as string });
    await resumed.ended;
    expect(resumed.events).toEqual(whole.events.filter((e) => Number(e.id) > Number(first.events[0].id)));
    await waitFor(() => memoryGateway.app.get(ExecutionWatchService).activity().topics === 0, 2_000, 'idle');
  });
});
