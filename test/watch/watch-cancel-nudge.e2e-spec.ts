import { randomUUID } from 'node:crypto';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv } from '../support/gateway-env';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { REDIS_TOPOLOGIES, redisUnderTest, type RedisUnderTest } from '../support/redis-topologies';
import { openSse, type SseConnection } from './support/watch-clients';

/**
 * A cancel accepted by one replica reaches the replica that leads the run's watch at once, when that
 * leader polls the run only because it launched it (pinned: no subscriber there, so no subscription to
 * the run's channel). Two gateway processes (`node dist/main.js`, run `npm run build` first) share a real
 * Redis, one server and then a three-master Redis Cluster.
 *
 * Without the nudge reaching the leader, the subscriber on the other replica hears of the cancel only at
 * the leader's next scheduled poll, which after a few failed polls is seconds away (the backoff doubles
 * the interval); with it, one minimum interval after the cancel.
 */

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const BACKFILL = { pipelineName: 'FOLDER/long_backfill.orch.yaml', environmentName: 'Dev' }; // 30 s at 0.05
const MIN_INTERVAL_MS = 200;
/** Failed polls before the cancel: the leader's next poll is then 200 ms x 2^4 or more away. */
const FAILED_POLLS = 4;

describe.each(REDIS_TOPOLOGIES)(
  'a cancel on one replica nudges the pinned leader on the other (%s Redis)',
  (topology) => {
    let redis: RedisUnderTest;
    let maia: EmulatorFixture;
    let leader: GatewayProcess;
    let other: GatewayProcess;
    const prefix = `test:${randomUUID()}:`;
    const sse: SseConnection[] = [];

    beforeAll(async () => {
      redis = await redisUnderTest(topology);
      maia = await startEmulatorFixture({ timeScale: 0.05 });
      const env = gatewayEnv(maia, {
        ...redis.env,
        REDIS_KEY_PREFIX: prefix,
        AUTH_DISABLED: 'true',
        WATCH_MIN_INTERVAL_MS: String(MIN_INTERVAL_MS),
        WATCH_MAX_INTERVAL_MS: '60000',
        WATCH_START_GRACE_MS: '60000',
        // Each failed poll is one failed call: no retries, no breaker.
        MAIA_MAX_ATTEMPTS: '1',
        MAIA_BREAKER_FAILURE_THRESHOLD: '1000',
        REDIS_COMMAND_TIMEOUT_MS: '5000',
      });
      [leader, other] = await Promise.all([startGatewayProcess(env), startGatewayProcess(env)]);
    }, 60_000);

    afterAll(async () => {
      for (const connection of sse) connection.close();
      await Promise.all([leader?.stop('SIGTERM', 5_000), other?.stop('SIGTERM', 5_000)]);
      await maia?.close();
      await redis?.close(prefix);
    });

    it('the subscriber on the cancelling replica sees CANCELLED within about one minimum interval', async () => {
      const executions = `/api/v1/projects/${PROJECT}/pipeline-executions`;
      const launched = await fetch(`${leader.url}${executions}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(BACKFILL),
      });
      expect(launched.status).toBe(201);
      const id = ((await launched.json()) as { pipelineExecutionId: string }).pipelineExecutionId;
      const leaseKey = `${prefix}watch:{exec:${PROJECT}:${id}}:lease`;

      // The launching replica leads (its start grace pins the run); the other one only listens.
      const events = openSse(`${other.url}${executions}/${id}/events`);
      sse.push(events);
      expect(await events.status).toBe(200);
      const statuses = () =>
        events.events.map((e) => (JSON.parse(e.data) as { execution: { status: string } }).execution.status);
      await eventually(() => expect(statuses()).toContain('RUNNING'), { timeoutMs: 10_000 });
      const leaseHolder = await redis.client.get(leaseKey);
      expect(leaseHolder).not.toBeNull();

      // Maia fails the leader's polls of this run a few times: its interval backs off to seconds.
      await maia.resetCounters();
      await maia.addFault({ route: 'listExecutions', status: 503 });
      await maia.addFault({ route: 'getExecution*', status: 503, match: { executionId: id } });
      await eventually(
        async () => expect(await maia.count('getExecution', 503)).toBeGreaterThanOrEqual(FAILED_POLLS),
        {
          timeoutMs: 20_000,
        },
      );
      await maia.clearFaults();
      // Still the same leader: the nudge has to cross replicas.
      expect(await redis.client.get(leaseKey)).toBe(leaseHolder);

      const cancelledAt = Date.now();
      const cancel = await fetch(`${other.url}${executions}/${id}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'CANCELLED', forceUpdate: true }),
      });
      expect(cancel.status).toBe(200);
      await eventually(() => expect(statuses()).toContain('CANCELLED'), { timeoutMs: 20_000 });
      const heardAfterMs = Date.now() - cancelledAt;
      // One minimum interval, a listing and a details call; the leader's backed-off poll is >= 3.2 s away.
      expect(heardAfterMs).toBeLessThan(1_500);
    }, 60_000);
  },
);
