import Redis from 'ioredis';
import { startRedisCluster } from './redis-cluster';
import type { GatewayEnv } from './gateway-inprocess';

/**
 * The Redis deployments the multi-replica suites run against: the machine's one server (127.0.0.1:6379,
 * which `.ci/run` starts when nothing answers) and a real three-master Redis Cluster started for the suite.
 */
export type RedisTopology = 'standalone' | 'cluster';
export const REDIS_TOPOLOGIES: RedisTopology[] = ['standalone', 'cluster'];

export const STANDALONE_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface RedisUnderTest {
  topology: RedisTopology;
  /** REDIS_URL (and REDIS_CLUSTER) for the gateways. */
  env: GatewayEnv;
  /** A client for assertions (a cluster client on a cluster; same commands). */
  client: Redis;
  /** Deletes every key under `prefix` and closes what the suite started. */
  close(prefix: string): Promise<void>;
}

export async function redisUnderTest(topology: RedisTopology): Promise<RedisUnderTest> {
  if (topology === 'standalone') {
    const client = new Redis(STANDALONE_REDIS_URL);
    return {
      topology,
      env: { REDIS_URL: STANDALONE_REDIS_URL },
      client,
      async close(prefix) {
        const keys: string[] = [];
        for await (const batch of client.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<
          string[]
        >) {
          keys.push(...batch);
        }
        if (keys.length > 0) await client.del(...keys);
        await client.quit();
      },
    };
  }
  const cluster = await startRedisCluster();
  return {
    topology,
    env: { REDIS_URL: cluster.url, REDIS_CLUSTER: 'true' },
    // ioredis' Cluster speaks the same commands as one server.
    client: cluster.client() as unknown as Redis,
    close: () => cluster.close(), // the whole cluster goes, keys included
  };
}
