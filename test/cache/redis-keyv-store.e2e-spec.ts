import { randomUUID } from 'node:crypto';
import { RedisKeyvStore } from '../../src/cache/redis-keyv.store';
import { loadConfig } from '../../src/config';
import { RedisService } from '../../src/redis';
import { REDIS_TOPOLOGIES, redisUnderTest, type RedisUnderTest } from '../support/redis-topologies';

/**
 * The Keyv store the shared cache level runs on, against one Redis server and a three-master Redis
 * Cluster: reads, writes, many-key reads of one slot, and `clear`, which must find its keys on every master.
 */
describe.each(REDIS_TOPOLOGIES)('RedisKeyvStore (%s Redis)', (topology) => {
  let target: RedisUnderTest;
  let redis: RedisService;
  const prefix = `test:${randomUUID()}:`;

  beforeAll(async () => {
    target = await redisUnderTest(topology);
    redis = new RedisService(loadConfig({ ...target.env, REDIS_KEY_PREFIX: prefix }));
    await redis.onModuleInit();
  });
  afterAll(async () => {
    await redis?.onApplicationShutdown();
    await target?.close(prefix);
  });

  it('reads and writes entries, and reads many of one slot at once', async () => {
    const store = new RedisKeyvStore(redis, `{${prefix}}e:*`);
    await store.set(`{${prefix}}e:a`, 'one');
    await store.set(`{${prefix}}e:b`, 'two', 60_000);
    expect(await store.get(`{${prefix}}e:a`)).toBe('one');
    expect(await store.getMany([`{${prefix}}e:a`, `{${prefix}}e:b`, `{${prefix}}e:none`])).toEqual([
      'one',
      'two',
      undefined,
    ]);
    expect(await store.has(`{${prefix}}e:b`)).toBe(true);
    expect(await redis.remainingTtlMs(`{${prefix}}e:b`)).toBeGreaterThan(0);
    expect(await store.delete(`{${prefix}}e:b`)).toBe(true);
    expect(await store.has(`{${prefix}}e:b`)).toBe(false);
  });

  it('clears every key of its pattern wherever it lives, and nothing else', async () => {
    // Keys of many slots (no common tag): on a cluster they land on every master.
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}spread:${i}`);
    for (const key of keys) await redis.set(key, 'x');
    await redis.set(`${prefix}other`, 'kept');
    if (topology === 'cluster') {
      const perMaster = await redis.scanKeysPerMaster(`${prefix}spread:*`);
      expect(perMaster.filter((keys) => keys.length > 0).length).toBeGreaterThan(1);
    }
    const store = new RedisKeyvStore(redis, `${prefix}spread:*`);
    await store.clear();
    expect(await redis.scanKeys(`${prefix}spread:*`)).toEqual([]);
    expect(await redis.get(`${prefix}other`)).toBe('kept');
  });
});
