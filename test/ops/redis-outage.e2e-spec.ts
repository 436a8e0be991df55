import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually, holdsFor } from '../support/eventually';
import { gatewayEnv } from '../support/gateway-env';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { DedicatedRedis } from './dedicated-redis';
import { SteadyLoad, type LoadRecord } from './steady-load';

/**
 * A Redis of the test's own dies in the middle of steady load and comes back empty. The gateway (a real
 * process) must answer every request within a bound, with no more errors than before, and by itself
 * reconnect and cache in Redis again.
 */
describe('Redis outage under load', () => {
  let maia: EmulatorFixture;
  let redis: DedicatedRedis;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    // Without Redis every lookup reaches Maia: lift the emulator's rate limit out of the way.
    maia = await startEmulatorFixture({ rateLimitPerMinute: 1_000_000 });
    redis = await DedicatedRedis.start();
    gateway = await startGatewayProcess(
      gatewayEnv(maia, {
        REDIS_URL: redis.url,
        REDIS_COMMAND_TIMEOUT_MS: '200',
        REDIS_CONNECT_TIMEOUT_MS: '500',
        // No in-process level: every lookup goes through Redis, so losing it (and getting it back) shows
        // in the upstream counts.
        CACHE_L1_MAX_ENTRIES: '0',
        LOG_LEVEL: 'warn',
      }),
    );
  });
  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await redis?.kill();
    await maia?.close();
  });

  // Far below "hung" (no answer at all) yet with room for a busy CI machine.
  const BOUND_MS = 3_000;

  async function readiness(): Promise<{ status: number; redis: string }> {
    const response = await fetch(`${gateway.url}/health/ready`);
    const body = (await response.json()) as { details?: { redis?: { state?: string } } };
    return { status: response.status, redis: body.details?.redis?.state ?? 'missing' };
  }

  async function projectsUpstreamCalls(): Promise<number> {
    return maia.count('listProjects');
  }

  it('answers every request in bound, errors unchanged, and caches in Redis again once it is back', async () => {
    expect(await readiness()).toEqual({ status: 200, redis: 'ok' });
    const projects = (await (await fetch(`${gateway.url}/api/v1/projects`)).json()) as {
      results: { id: string }[];
    };
    const projectId = projects.results[0].id;

    const paths = [
      '/api/v1/projects',
      `/api/v1/projects/${projectId}/environments`,
      '/api/v1/projects?page=0&size=5',
    ];
    const load = new SteadyLoad({
      concurrency: 8,
      boundMs: BOUND_MS,
      send: async (signal, index) => {
        const response = await fetch(`${gateway.url}${paths[index % paths.length]}`, { signal });
        const body = (await response.json()) as { results?: unknown[] };
        return { status: response.status, ok: response.status === 200 && Array.isArray(body.results) };
      },
    });

    const answeredSince = (fromMs: number) => load.between(fromMs, Number.MAX_SAFE_INTEGER).length;
    // Warm: every path has been answered many times over, so each of its keys sits in Redis.
    await eventually(() => expect(answeredSince(0)).toBeGreaterThan(30), { timeoutMs: 10_000 });
    const upstreamWarm = await maia.apiCount();
    // Warm means no lookup reaches Maia while Redis is up.
    await holdsFor(async () => expect(await maia.apiCount()).toBe(upstreamWarm), 800, { intervalMs: 50 });
    const upstreamAtKill = await maia.apiCount();
    const killedAtMs = Date.now();
    await redis.kill();
    // While Redis is away readiness stays 200 (the replica keeps serving) and says degraded; the load goes
    // on against a gateway that knows Redis is gone, and lookups reach Maia.
    await eventually(async () => expect(await readiness()).toEqual({ status: 200, redis: 'degraded' }), {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    const degradedAtMs = Date.now();
    await eventually(() => expect(answeredSince(degradedAtMs)).toBeGreaterThan(20), { timeoutMs: 10_000 });
    // Lookups reach Maia once the whole-answer cache's short-lived answers (kept in process) have lapsed.
    await eventually(async () => expect(await maia.apiCount()).toBeGreaterThan(upstreamAtKill), {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    const upstreamDuringOutage = (await maia.apiCount()) - upstreamAtKill;
    const restartedAtMs = Date.now();
    await redis.restart();
    // The gateway reconnects by itself (no restart, no call from the test): readiness sees it ok again.
    await eventually(async () => expect((await readiness()).redis).toBe('ok'), {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    const reconnectedAtMs = Date.now();
    await eventually(() => expect(answeredSince(reconnectedAtMs)).toBeGreaterThan(20), { timeoutMs: 10_000 });
    const records = await load.stop();

    const failures = (rs: LoadRecord[]) => rs.filter((r) => !r.ok);
    const before = load.between(0, killedAtMs);
    const during = load.between(killedAtMs, restartedAtMs);
    const after = load.between(reconnectedAtMs, Number.MAX_SAFE_INTEGER);
    expect(before.length).toBeGreaterThan(20);
    expect(during.length).toBeGreaterThan(20);
    expect(after.length).toBeGreaterThan(20);
    // 0 hung: every request got its answer within the bound, the outage included.
    expect(records.filter((r) => r.hung)).toEqual([]);
    expect(Math.max(...records.map((r) => r.endedAtMs - r.startedAtMs))).toBeLessThan(BOUND_MS);
    // Errors unchanged: none before, none during, none after.
    expect(failures(before)).toEqual([]);
    expect(failures(during)).toEqual([]);
    expect(failures(records)).toEqual([]);

    // With Redis up, once warm, no lookup reached Maia; without it they did (single-flight keeps that to
    // one load per key at a time).
    expect(upstreamAtKill).toBe(upstreamWarm);
    expect(upstreamDuringOutage).toBeGreaterThan(0);

    // Caching resumed: the restarted Redis is empty, so one lookup loads again; repeats stop reaching Maia.
    await fetch(`${gateway.url}/api/v1/projects?page=0&size=7`);
    const afterFirst = await projectsUpstreamCalls();
    for (let i = 0; i < 10; i += 1) {
      expect((await fetch(`${gateway.url}/api/v1/projects?page=0&size=7`)).status).toBe(200);
    }
    expect(await projectsUpstreamCalls()).toBe(afterFirst);
  });
});
