import { randomUUID } from 'node:crypto';
import { type Client } from 'graphql-ws';
import { apiKeysJson, KEYS } from '../auth/support/secured-gateway';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv } from '../support/gateway-inprocess';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { REDIS_TOPOLOGIES, redisUnderTest, type RedisUnderTest } from '../support/redis-topologies';
import {
  EXECUTION_UPDATED,
  openSse,
  PROJECT_EVENTS,
  startRunOnEmulator,
  subscribe,
  waitFor,
  wsClient,
  type GqlSubscription,
  type SseConnection,
} from './support/watch-clients';
import { eventually, holdsFor } from '../support/eventually';

/**
 * WATCH_MAX_SUBSCRIPTIONS_PER_CLIENT holds across replicas: two gateway processes (`node dist/main.js`,
 * run `npm run build` first) share one client's budget through Redis — one server, then a three-master
 * Redis Cluster. Clients are API keys (the client key of a subscription is the caller's principal).
 */

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4'; // Analytics Warehouse: reader and operator may read it
const BACKFILL = 'FOLDER/long_backfill.orch.yaml'; // 600.5 s of steps x 0.1 = 60 s: outlives every test
const LIMIT = 3;

let emulator: EmulatorFixture;
let a: GatewayProcess;
let b: GatewayProcess;
let prefix: string;
let redis: RedisUnderTest;
let executionId: string;
const clients: Client[] = [];
const streams: SseConnection[] = [];

function client(gateway: GatewayProcess, apiKey: string): Client {
  const c = wsClient(gateway.url, { connectionParams: { 'x-api-key': apiKey } });
  clients.push(c);
  return c;
}

function sse(gateway: GatewayProcess, apiKey: string): SseConnection {
  const s = openSse(`${gateway.url}/api/v1/projects/${PROJECT}/pipeline-executions/${executionId}/events`, {
    'x-api-key': apiKey,
  });
  streams.push(s);
  return s;
}

const watchExecution = (c: Client) => subscribe(c, EXECUTION_UPDATED, { projectId: PROJECT, executionId });
const watchFeed = (c: Client) => subscribe(c, PROJECT_EVENTS, { projectId: PROJECT });

/** Each replica's count of the API key's subscriptions, as published in Redis (expired fields included). */
async function published(keyName: string): Promise<number[]> {
  const fields = await redis.client.hgetall(`${prefix}watch-subs:{client:api-key:${keyName}}`);
  return Object.values(fields)
    .map((value) => Number(value.split(':')[0]))
    .sort();
}

const errorCodes = (s: GqlSubscription) =>
  s.results.flatMap((r) => r.errors ?? []).map((e) => e.extensions?.code);

/** Admitted and live: its first event arrived, and no error within a moment after the fleet check. */
async function expectLive(s: GqlSubscription): Promise<void> {
  await waitFor(() => s.results.length >= 1, 10_000, 'a first event');
  await holdsFor(() => expect(errorCodes(s)).toEqual([]), 300);
  expect(s.results[0].data?.pipelineExecutionUpdated).toMatchObject({ execution: { status: 'RUNNING' } });
}

/** Refused over the fleet-wide limit: one RATE_LIMITED error (maybe after its snapshot), then completion. */
async function expectRefused(s: GqlSubscription): Promise<void> {
  await s.done;
  expect(errorCodes(s)).toEqual(['RATE_LIMITED']);
  expect(s.results.at(-1)?.errors?.[0]).toMatchObject({
    message: `Too many subscriptions for this client (at most ${LIMIT})`,
    extensions: { code: 'RATE_LIMITED', limit: LIMIT },
  });
}

/** SSE: refused before its first event (429 problem+json) or right after it (an `error` event). */
async function expectSseRefused(s: SseConnection): Promise<void> {
  await s.ended;
  const status = await s.status;
  if (status === 429) {
    expect(JSON.parse(s.body())).toMatchObject({ code: 'RATE_LIMITED', limit: LIMIT });
  } else {
    expect(status).toBe(200);
    const errors = s.events.filter((e) => e.event === 'error').map((e) => JSON.parse(e.data));
    expect(errors).toEqual([
      {
        code: 'RATE_LIMITED',
        limit: LIMIT,
        message: `Too many subscriptions for this client (at most ${LIMIT})`,
      },
    ]);
  }
}

describe.each(REDIS_TOPOLOGIES)(
  'the per-client subscription limit across two processes (%s Redis)',
  (topology) => {
    beforeAll(async () => {
      emulator = await startEmulatorFixture({ timeScale: 0.1 });
      prefix = `test:${randomUUID()}:`;
      redis = await redisUnderTest(topology);
      const env = gatewayEnv(emulator, {
        ...redis.env,
        REDIS_KEY_PREFIX: prefix,
        AUTH_DISABLED: 'false',
        AUTH_API_KEYS: apiKeysJson(),
        RATE_LIMIT_ENABLED: 'false',
        WATCH_MAX_SUBSCRIPTIONS_PER_CONNECTION: '100',
        WATCH_MAX_SUBSCRIPTIONS_PER_CLIENT: String(LIMIT),
      });
      [a, b] = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
      executionId = await startRunOnEmulator(emulator.url, emulator, PROJECT, BACKFILL);
    }, 60_000);

    afterEach(async () => {
      for (const s of streams.splice(0)) s.close();
      await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
      // Every slot released, on both replicas and in Redis.
      await eventually(async () => expect(await published('reader')).toEqual([]), {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
    });

    afterAll(async () => {
      await Promise.all([a?.stop('SIGTERM', 5_000), b?.stop('SIGTERM', 5_000)]);
      await emulator?.close();
      await redis?.close(prefix);
    });

    it('2 on A and 1 on B are admitted; a 4th on B is refused with RATE_LIMITED (GraphQL, feed, SSE); a slot freed on A admits one on B', async () => {
      const onA = client(a, KEYS.reader);
      const onB = client(b, KEYS.reader);
      const a1 = watchExecution(onA);
      const a2 = sse(a, KEYS.reader);
      const b1 = watchExecution(onB);
      await Promise.all([expectLive(a1), expectLive(b1)]);
      await waitFor(() => a2.events.length >= 1, 10_000, 'an SSE event');
      expect(await a2.status).toBe(200);
      await eventually(async () => expect(await published('reader')).toEqual([1, 2]), {
        timeoutMs: 15_000,
        intervalMs: 20,
      });

      // B counts 1 of 3 on its own: only the fleet's total refuses these.
      await expectRefused(watchExecution(onB));
      await expectRefused(watchFeed(onB));
      await expectSseRefused(sse(b, KEYS.reader));
      // A new connection to B changes nothing: the budget is the client's.
      await expectRefused(watchExecution(client(b, KEYS.reader)));
      // The refused slots were released: the published counts are back to the admitted ones.
      await eventually(async () => expect(await published('reader')).toEqual([1, 2]), {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      // The admitted ones are still live.
      expect(errorCodes(a1)).toEqual([]);
      expect(errorCodes(b1)).toEqual([]);
      expect(a2.events.filter((e) => e.event === 'error')).toEqual([]);

      // One closes on A; once A published its release, B admits one more.
      a2.close();
      await eventually(async () => expect(await published('reader')).toEqual([1, 1]), {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      const b2 = watchExecution(onB);
      await expectLive(b2);
      await eventually(async () => expect(await published('reader')).toEqual([1, 2]), {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      // And the fleet is full again.
      await expectRefused(watchExecution(onA));
    });

    it('another client has its own budget, untouched by a client at its limit', async () => {
      const full = [
        watchExecution(client(a, KEYS.reader)),
        watchExecution(client(a, KEYS.reader)),
        watchExecution(client(b, KEYS.reader)),
      ];
      await Promise.all(full.map(expectLive));
      await eventually(async () => expect(await published('reader')).toEqual([1, 2]), {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      await expectRefused(watchExecution(client(b, KEYS.reader)));

      const operatorOnB = client(b, KEYS.operator);
      const other = [
        watchExecution(operatorOnB),
        watchExecution(operatorOnB),
        watchExecution(client(a, KEYS.operator)),
      ];
      await Promise.all(other.map(expectLive));
      await eventually(async () => expect(await published('operator')).toEqual([1, 2]), {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      for (const s of full) expect(errorCodes(s)).toEqual([]);
      for (const s of other) s.unsubscribe();
      await eventually(async () => expect(await published('operator')).toEqual([]), {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
    });

    it("a replica that shuts down takes its counts out of the fleet's", async () => {
      const onB = [watchExecution(client(b, KEYS.reader)), watchExecution(client(b, KEYS.reader))];
      await Promise.all(onB.map(expectLive));
      await eventually(async () => expect(await published('reader')).toEqual([2]), {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      const closed = onB.map((s) =>
        s.done.then(
          () => 'completed',
          () => 'socket closed', // it dies with B; a client reconnects elsewhere
        ),
      );
      await b.stop('SIGTERM', 5_000);
      expect(await Promise.all(closed)).toEqual(['socket closed', 'socket closed']);
      expect(await published('reader')).toEqual([]);
      // The budget is whole again: A admits the limit.
      const onA = [...Array(LIMIT).keys()].map(() => watchExecution(client(a, KEYS.reader)));
      await Promise.all(onA.map(expectLive));
    });
  },
);
