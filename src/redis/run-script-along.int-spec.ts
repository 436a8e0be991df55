import { randomUUID } from 'node:crypto';
import { startRedisCluster, type RedisClusterFixture } from '../../test/support/redis-cluster';
import { loadConfig } from '../config';
import { RedisScript } from './redis.script';
import { RedisService } from './redis.service';

/**
 * `runScriptAlong` on a real three-master cluster: a pipeline whose keys span nodes is refused whole by the
 * cluster client before anything is sent. The script must still run (the execute ledger's settle rides on
 * it), with its SETs reported unwritten so the caller writes them on its own.
 */
describe('RedisService.runScriptAlong on a cluster', () => {
  let cluster: RedisClusterFixture;
  let redis: RedisService;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    redis = new RedisService(
      loadConfig({
        REDIS_URL: cluster.url,
        REDIS_CLUSTER: 'true',
        REDIS_KEY_PREFIX: `test:along:${randomUUID()}:`,
        LOG_LEVEL: 'silent',
      }),
    );
    await redis.onModuleInit();
  }, 60_000);
  afterAll(async () => {
    await redis?.onApplicationShutdown();
    await cluster?.close();
  });

  it('runs the script alone when the SETs cannot share its pipeline, and says they were not written', async () => {
    const script = new RedisScript(`return redis.call('incr', KEYS[1]) -- ${randomUUID()}`);
    const counter = redis.key('counter');
    // Another hash tag than the prefix's: another slot, on another master for some tag among these.
    const strays = ['a', 'b', 'c', 'd', 'e', 'f'].map((tag) => redis.taggedKey('along', `{stray-${tag}}`));
    const also = { entries: strays.map((key) => ({ key, value: 'v' })), ttlMs: 10_000 };
    expect(await redis.runScriptAlong(script, [counter], [], also)).toEqual({ result: 1, written: false });
    expect(await redis.get(counter)).toBe('1');
    // With keys of the prefix's slot, the same call writes both.
    const along = { entries: [{ key: redis.key('along'), value: 'v' }], ttlMs: 10_000 };
    expect(await redis.runScriptAlong(script, [counter], [], along)).toEqual({ result: 2, written: true });
    expect(await redis.get(redis.key('along'))).toBe('v');
  });
});
