import { randomUUID } from 'node:crypto';
import { RedisKeyvStore } from '../../src/cache/redis-keyv.store';
import { REDIS_TOPOLOGIES, redisUnderTest, type RedisUnderTest } from '../support/redis-topologies';
import { Cluster } from 'ioredis';

/**
 * The Keyv store the shared cache level runs on, against one Redis server and a three-master Redis
 * Cluster: reads, writes, many-key reads of one slot, and `clear`, which must find its keys on every master.
 */
describe.each(REDIS_TOPOLOGIES)('RedisKeyvStore (%s Redis)', (topology) => {
  let redis: RedisUnderTest;
  const prefix = `test:${randomUUID()}:`;

  beforeAll(async () => {
    redis = await redisUnderTest(topology);
  });
  afterAll(async () => {
    await redis?.close(prefix);
  });

  const masters = () => {
    const client: unknown = redis.client;
    return client instanceof Cluster ? client.nodes('master') : [redis.client];
  };

  it('reads and writes entries, and reads many of one slot at once', async () => {
    const store = new RedisKeyvStore(redis.client, `{${prefix}}e:*`, masters);
    await store.set(`{${prefix}}e:a`, 'one');
    await store.set(`{${prefix}}e:b`, 'two', 60_000);
    expect(await store.get(`{${prefix}}e:a`)).toBe('one');
    expect(await store.getMany([`{${prefix}}e:a`, `{${prefix}}e:b`, `{${prefix}}e:none`])).toEqual([
      'one',
      'two',
      undefined,
    ]);
    expect(await store.has(`{${prefix}}e:b`)).toBe(true);
    expect(await store.delete(`{${prefix}}e:b`)).toBe(true);
    expect(await store.has(`{${prefix}}e:b`)).toBe(false);
  });

  it('clears every key of its pattern wherever it lives, and nothing else', async () => {
    // Keys of many slots (no common tag): on a cluster they land on every master.
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}spread:${i}`);
    for (const key of keys) await redis.client.set(key, 'x');
    await redis.client.set(`${prefix}other`, 'kept');
    if (topology === 'cluster') {
      const holding = await Promise.all(
        masters().map(async (m) => (await m.keys(`${prefix}spread:*`)).length),
      );
      expect(holding.filter((n) => n > 0).length).toBeGreaterThan(1);
    }
    const store = new RedisKeyvStore(redis.client, `${prefix}spread:*`, masters);
    await store.clear();
    const left = await Promise.all(keys.map((key) => redis.client.exists(key)));
    expect(left.reduce((a, b) => a + b, 0)).toBe(0);
    expect(await redis.client.get(`${prefix}other`)).toBe('kept');
  });
});
