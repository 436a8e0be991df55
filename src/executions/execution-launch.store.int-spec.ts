import { Module } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { RedisService } from '../redis';
import { eventually } from '../../test/support/eventually';
import { startReplicaModule } from '../../test/support/replica-module';
import { ExecutionLaunchStore, type ExecutionLaunch } from './execution-launch.store';

@Module({ providers: [ExecutionLaunchStore], exports: [ExecutionLaunchStore] })
class LaunchStoreModule {}

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const launch: ExecutionLaunch = {
  projectId: PROJECT,
  pipelineName: 'FOLDER/load_orders.orch.yaml',
  environmentName: 'Dev',
  versionName: '1.1.0',
  scalarVariables: { region: 'eu' },
  gridVariables: { ids: [['1'], ['2']] },
  launchedAt: '2026-12-05T06:00:00.000Z',
};

/** Launch records in a real Redis, shared by two "replicas" with the same key prefix. */
describe('ExecutionLaunchStore with Redis', () => {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers) await close();
  });

  async function replica(prefix: string, ttlMs: number) {
    const moduleRef = await startReplicaModule(prefix, {
      env: { EXECUTION_LAUNCH_TTL_MS: String(ttlMs) },
      imports: [LaunchStoreModule],
    });
    closers.push(() => moduleRef.close());
    return { store: moduleRef.get(ExecutionLaunchStore), redis: moduleRef.get(RedisService) };
  }

  it('one replica records, another reads the launch and the project; both expire after the TTL', async () => {
    const prefix = `test:launch:${randomUUID()}:`;
    const [a, b] = [await replica(prefix, 1_000), await replica(prefix, 1_000)];
    const id = randomUUID();
    await a.store.rememberLaunch(id, launch);
    expect(await b.store.launchOf(id)).toEqual(launch);
    expect(await b.store.projectOf(id.toUpperCase())).toBe(PROJECT);
    const ttl = await a.redis.remainingTtlMs(a.redis.key('exec-launch', 'v1', id));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1_000);
    // The replica that wrote it also forgets it (Redis is the truth while it answers).
    await eventually(async () => expect(await a.store.launchOf(id)).toBeUndefined(), { timeoutMs: 4_000 });
    expect(await b.store.projectOf(id)).toBeUndefined();
  });

  it('reads the launches of a run list in one round trip, in order, unknown ids as none', async () => {
    const prefix = `test:launch:${randomUUID()}:`;
    const [a, b] = [await replica(prefix, 60_000), await replica(prefix, 60_000)];
    const [first, unknown, second] = [randomUUID(), randomUUID(), randomUUID()];
    await a.store.rememberLaunch(first, launch);
    await a.store.rememberLaunch(second, { ...launch, versionName: '1.2.0' });
    const getMany = jest.spyOn(b.redis, 'getMany');
    const get = jest.spyOn(b.redis, 'get');
    expect(await b.store.launchesOf([first, unknown, second.toUpperCase()])).toEqual([
      launch,
      undefined,
      { ...launch, versionName: '1.2.0' },
    ]);
    expect(getMany).toHaveBeenCalledTimes(1);
    expect(get).not.toHaveBeenCalled();
  });

  it('indexes listed executions once: a repeat within half the TTL does not write again', async () => {
    const prefix = `test:launch:${randomUUID()}:`;
    const { store, redis } = await replica(prefix, 60_000);
    const runs = [randomUUID(), randomUUID()].map((pipelineExecutionId) => ({
      pipelineExecutionId,
      projectId: PROJECT,
    }));
    await store.rememberProjects(runs);
    const key = redis.key('exec-project', 'v1', runs[0].pipelineExecutionId);
    expect(await redis.get(key)).toBe(PROJECT);
    // Shorten the key by hand: a second listing that wrote again would set it back to 60 s.
    await redis.expire(key, 5_000);
    await store.rememberProjects(runs);
    expect(await redis.remainingTtlMs(key)).toBeLessThanOrEqual(5_000);
    // Another replica (no memory of it) writes it again.
    const other = await replica(prefix, 60_000);
    await other.store.rememberProjects(runs);
    expect(await redis.remainingTtlMs(key)).toBeGreaterThan(5_000);
  });

  it('an unreadable record is no launch', async () => {
    const prefix = `test:launch:${randomUUID()}:`;
    const { store, redis } = await replica(prefix, 60_000);
    const id = randomUUID();
    await redis.set(redis.key('exec-launch', 'v1', id), '{"projectId": 1}', { ttlMs: 60_000 });
    expect(await store.launchOf(id)).toBeUndefined();
  });
});
