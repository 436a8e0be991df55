import Redis, { Cluster } from 'ioredis';
import type { AppConfig } from '../config';
import { WriteCoalescingConnector } from './redis.write-coalescing';

/**
 * One Redis server or a Redis Cluster: both speak the same commands (ioredis' Commander), so a cluster is
 * typed as one server; the few places that differ (SCAN walks every master) ask `RedisService`.
 */
export type RedisClient = Redis;

/**
 * Opens a connection that fails fast while Redis is away: commands get no offline queue and a short
 * timeout; the subscriber keeps a queue because its subscriptions are replayed on reconnect. The command
 * connection (each node's, on a cluster) sends the commands of one event-loop turn in one socket write
 * (ADR 0048); the subscriber's SUBSCRIBEs are few and leave as they are.
 */
export function openConnection(
  config: AppConfig['redis'],
  role: 'commands' | 'subscriber',
  onError: (error: Error) => void,
): RedisClient {
  const { url, cluster, commandTimeoutMs, connectTimeoutMs } = config;
  const options = {
    connectionName: `maia-gateway:${role}`,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: 1,
    // ioredis waits this long for a closing socket, also one already gone (see closeConnection).
    disconnectTimeout: 100,
    ...(role === 'commands' ? { Connector: WriteCoalescingConnector } : {}),
  };
  const enableOfflineQueue = role === 'subscriber';
  const retryStrategy = (times: number) => Math.min(100 * 2 ** times, 2_000);
  const redis = cluster
    ? (new Cluster(cluster.map(seedNode), {
        redisOptions: { ...options, ...credentialsOf(cluster[0]) },
        enableOfflineQueue,
        clusterRetryStrategy: retryStrategy,
        slotsRefreshTimeout: connectTimeoutMs,
      }) as unknown as RedisClient)
    : new Redis(url as string, { ...options, enableOfflineQueue, retryStrategy, lazyConnect: false });
  // ioredis emits 'error' on every failed reconnect; without a listener Node would crash the process.
  redis.on('error', onError);
  return redis;
}

/** The connections SCAN must walk: each master of a cluster, or the one server. */
export function mastersOf(client: RedisClient): RedisClient[] {
  const connection: unknown = client;
  return connection instanceof Cluster ? connection.nodes('master') : [client];
}

/** Resolves once the connection is ready; rejects after `timeoutMs`. */
export function whenReady(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error('Redis connect timeout'));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', onReady);
  });
}

/**
 * QUIT when connected (bounded: a node that stops answering must not hold the shutdown), else disconnect:
 * an ioredis Cluster that never reached its nodes would wait for them forever on QUIT.
 */
export async function closeConnection(connection: RedisClient): Promise<void> {
  if (connection.status === 'end') return; // closing an ended connection again leaves a 2 s timer behind
  if (connection.status !== 'ready') {
    connection.disconnect();
    // ioredis: a disconnect while reconnecting never rejects the queued commands (SUBSCRIBEs of the
    // subscriber), whose command timers would keep the process alive until they time out.
    (connection as unknown as { flushQueue?(error: Error): void }).flushQueue?.(
      new Error('Connection is closed.'),
    );
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 2_000);
  });
  const outcome = await Promise.race([connection.quit().catch(() => 'failed' as const), timedOut]);
  clearTimeout(timer);
  if (outcome !== 'OK') connection.disconnect();
}

/** A cluster seed node from a `redis://[user:password@]host:port` URL. */
function seedNode(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 6379) };
}

/** Credentials and TLS of the cluster's nodes, taken from the first seed URL. */
function credentialsOf(url: string): { username?: string; password?: string; tls?: object } {
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}
