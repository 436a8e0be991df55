import { randomUUID } from 'node:crypto';
import { type Client } from 'graphql-ws';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv } from '../support/gateway-inprocess';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { REDIS_TOPOLOGIES, redisUnderTest, type RedisUnderTest } from '../support/redis-topologies';
import {
  EXECUTION_UPDATED,
  openSse,
  startRunOnEmulator,
  subscribe,
  waitFor,
  wsClient,
  type GqlSubscription,
  type SseConnection,
} from './support/watch-clients';
import { holdsFor } from '../support/eventually';

/**
 * The shared poller across two gateway processes (`node dist/main.js`, run `npm run build` first), a real
 * Redis — one server, then a three-master Redis Cluster — and the emulator counting upstream calls.
 */

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const BACKFILL = 'FOLDER/long_backfill.orch.yaml'; // 600.5 s of steps x 0.005 = 3 s, then SUCCESS
const MIN_INTERVAL_MS = 200;
const MAX_INTERVAL_MS = 1_000;
const LEASE_MS = 600;

type Event = { cursor: string; kind: string; execution: { id: string; status: string } };

let emulator: EmulatorFixture;
let a: GatewayProcess;
let b: GatewayProcess;
let prefix: string;
let redis: RedisUnderTest;
const clients: Client[] = [];

function client(gateway: GatewayProcess): Client {
  const c = wsClient(gateway.url);
  clients.push(c);
  return c;
}

const eventsUrl = (gateway: GatewayProcess, id: string) =>
  `${gateway.url}/api/v1/projects/${PROJECT}/pipeline-executions/${id}/events`;
const statusCalls = async () =>
  (await emulator.count('getExecutionStatus')) + (await emulator.count('getExecution'));
const leaseKey = (id: string) => `${prefix}watch:{exec:${PROJECT}:${id}}:lease`;
const gqlEvents = (s: GqlSubscription) => s.results.map((r) => r.data?.pipelineExecutionUpdated as Event);
const sseEvents = (s: SseConnection) =>
  s.events.map((e) => JSON.parse(e.data) as { kind: string; execution: { status: string } });

describe.each(REDIS_TOPOLOGIES)('the shared poller across two processes (%s Redis)', (topology) => {
  beforeAll(async () => {
    emulator = await startEmulatorFixture({ timeScale: 0.005 });
    prefix = `test:${randomUUID()}:`;
    redis = await redisUnderTest(topology);
    const env = gatewayEnv(emulator, {
      ...redis.env,
      REDIS_KEY_PREFIX: prefix,
      AUTH_DISABLED: 'true',
      WATCH_MIN_INTERVAL_MS: String(MIN_INTERVAL_MS),
      WATCH_MAX_INTERVAL_MS: String(MAX_INTERVAL_MS),
      WATCH_LEASE_MS: String(LEASE_MS),
      WATCH_MAX_SUBSCRIPTIONS_PER_CONNECTION: '100',
      WATCH_MAX_SUBSCRIPTIONS_PER_CLIENT: '1000',
    });
    [a, b] = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
  }, 60_000);

  afterEach(async () => {
    await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
  });

  afterAll(async () => {
    await Promise.all([a?.stop('SIGTERM', 5_000), b?.stop('SIGTERM', 5_000)]);
    await emulator?.close();
    await redis?.close(prefix);
  });

  it('200 subscribers over both processes: one upstream status call per interval at most, all see RUNNING, SUCCESS, completion', async () => {
    const id = await startRunOnEmulator(emulator.url, emulator, PROJECT, BACKFILL);
    await emulator.resetCounters();
    const begin = Date.now();
    const gql: GqlSubscription[] = [];
    const sse: SseConnection[] = [];
    for (const gateway of [a, b]) {
      const c = client(gateway);
      for (let i = 0; i < 50; i += 1)
        gql.push(subscribe(c, EXECUTION_UPDATED, { projectId: PROJECT, executionId: id }));
      for (let i = 0; i < 50; i += 1) sse.push(openSse(eventsUrl(gateway, id)));
    }
    await Promise.all([...gql.map((s) => s.done), ...sse.map((s) => s.ended)]);
    const elapsedMs = Date.now() - begin;
    const calls = await statusCalls();

    for (const s of gql) {
      const statuses = gqlEvents(s).map((e) => e.execution.status);
      expect(statuses[0]).toBe('RUNNING');
      expect(statuses.at(-1)).toBe('SUCCESS');
      expect(new Set(statuses)).toEqual(new Set(['RUNNING', 'SUCCESS']));
      expect(gqlEvents(s).at(-1)?.kind).toBe('FINISHED');
    }
    for (const s of sse) {
      expect(await s.status).toBe(200);
      const statuses = sseEvents(s).map((e) => e.execution.status);
      expect(statuses[0]).toBe('RUNNING');
      expect(statuses.at(-1)).toBe('SUCCESS');
    }
    // Both processes delivered the same events, with the same cursors.
    const cursorsOf = (s: GqlSubscription) => gqlEvents(s).map((e) => e.cursor);
    expect(cursorsOf(gql[99]).at(-1)).toBe(cursorsOf(gql[0]).at(-1));
    // One poller in total: at most one call per minimum interval, plus the first details and the final details.
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThanOrEqual(Math.ceil(elapsedMs / MIN_INTERVAL_MS) + 2);
  });

  it('a subscriber that reconnects to the other process with its last cursor gets exactly the events it missed', async () => {
    const id = await startRunOnEmulator(emulator.url, emulator, PROJECT, BACKFILL);
    const witness = subscribe(client(a), EXECUTION_UPDATED, { projectId: PROJECT, executionId: id });
    const leaving = openSse(eventsUrl(a, id));
    await waitFor(() => leaving.events.length === 1);
    leaving.close();
    const lastEventId = leaving.events[0].id as string;
    await witness.done;

    const resumed = openSse(eventsUrl(b, id), { 'last-event-id': lastEventId });
    await resumed.ended;
    const missed = gqlEvents(witness).filter((e) => Number(e.cursor) > Number(lastEventId));
    expect(missed.length).toBeGreaterThanOrEqual(1);
    expect(resumed.events.map((e) => e.id)).toEqual(missed.map((e) => e.cursor));
    expect(sseEvents(resumed).map((e) => e.execution.status)).toEqual(missed.map((e) => e.execution.status));
  });

  it('all subscribers leave: upstream polling stops within one interval, and no lease is left', async () => {
    const id = await startRunOnEmulator(emulator.url, emulator, PROJECT, BACKFILL);
    const subs = [a, b].flatMap((gateway) => {
      const c = client(gateway);
      return [...Array(10).keys()].map(() =>
        subscribe(c, EXECUTION_UPDATED, { projectId: PROJECT, executionId: id }),
      );
    });
    const streams = [a, b].flatMap((gateway) =>
      [...Array(5).keys()].map(() => openSse(eventsUrl(gateway, id))),
    );
    await waitFor(() => subs.every((s) => s.results.length > 0) && streams.every((s) => s.events.length > 0));
    const before = await statusCalls();
    await waitFor(async () => (await statusCalls()) > before + 1, 5_000, 'polling');

    for (const s of subs) s.unsubscribe();
    for (const s of streams) s.close();
    // The last one out aborts the poll under way and releases the lease; from then on nothing polls.
    await waitFor(async () => (await redis.client.exists(leaseKey(id))) === 0, 5_000, 'lease released');
    const atStop = await statusCalls();
    await holdsFor(async () => expect(await statusCalls()).toBe(atStop), 3 * MAX_INTERVAL_MS, {
      intervalMs: 50,
    });
  });

  it('killing the leader process mid-run: subscribers on the other process still get the terminal event', async () => {
    const id = await startRunOnEmulator(emulator.url, emulator, PROJECT, BACKFILL);
    // A's subscribers come first, so A (the only replica with subscribers) takes the lease.
    const onA = subscribe(client(a), EXECUTION_UPDATED, { projectId: PROJECT, executionId: id });
    const onAClosed = onA.done.then(
      () => 'completed',
      () => 'socket lost', // it dies with A
    );
    await waitFor(async () => (await redis.client.exists(leaseKey(id))) === 1, 5_000, 'a lease');
    const leaderOwner = await redis.client.get(leaseKey(id));
    const onB = [...Array(5).keys()].map(() =>
      subscribe(client(b), EXECUTION_UPDATED, { projectId: PROJECT, executionId: id }),
    );
    const sseOnB = openSse(eventsUrl(b, id));
    await waitFor(() => onB.every((s) => s.results.length > 0) && sseOnB.events.length > 0);
    expect(await redis.client.get(leaseKey(id))).toBe(leaderOwner);

    const killedAt = Date.now();
    await a.stop('SIGKILL');
    // B takes over within two lease periods (the dead leader's lease simply expires).
    await waitFor(
      async () => {
        const owner = await redis.client.get(leaseKey(id));
        return owner !== null && owner !== leaderOwner;
      },
      2 * LEASE_MS + 500,
      'takeover',
    );
    expect(Date.now() - killedAt).toBeLessThan(2 * LEASE_MS + 300);

    await Promise.all([...onB.map((s) => s.done), sseOnB.ended]);
    for (const s of onB) {
      expect(gqlEvents(s).at(-1)).toMatchObject({ kind: 'FINISHED', execution: { status: 'SUCCESS' } });
    }
    expect(sseEvents(sseOnB).at(-1)).toMatchObject({ kind: 'FINISHED', execution: { status: 'SUCCESS' } });
    expect(await onAClosed).toBe('socket lost');
  });
});
