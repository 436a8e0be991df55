import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis, { Cluster } from 'ioredis';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_CONFIG, type AppConfig } from '../config';

export type MessageHandler = (message: string) => void;

/**
 * A connection: one Redis server, or a Redis Cluster (`REDIS_CLUSTER`). Both speak the same commands; the
 * few places where they differ (SCAN walks every master of a cluster) ask `RedisService.masters()`.
 */
export type RedisClient = Redis;

/** SHA1 of each Lua script `evalScript` has run (the scripts are module constants: a handful). */
const scriptShas = new Map<string, string>();

/**
 * The one Redis connection provider. No other module opens a connection of its own.
 *
 * Without `REDIS_URL` there is no client (`client` is null) and every user falls back to memory, as one
 * replica. With it there are exactly two connections: `client` for commands and a subscriber connection
 * that multiplexes every channel subscription of the process.
 *
 * Commands fail fast while Redis is away (no offline queue, a short command timeout), so a Redis outage
 * slows nothing down: callers catch the error and carry on from memory and Maia.
 *
 * With `REDIS_CLUSTER` the connections are ioredis `Cluster`s seeded by `REDIS_URL`'s list, and `key()`
 * places keys so that every multi-key command and script stays in one hash slot: `key()` puts the prefix's
 * tag on a key (`{mg:}cache:...`), `taggedKey()` keeps the key's own (`mg:watch:{exec:...}:lease`, one
 * execution's keys together, executions spread over the shards). Pub/sub is cluster-wide as on one server.
 */
@Injectable()
export class RedisService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  readonly client: RedisClient | null;
  private subscriberConnection: RedisClient | null = null;
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  /** The first SUBSCRIBE of each channel, which later subscribers of that channel wait for too. */
  private readonly subscribing = new Map<string, Promise<void>>();
  readonly keyPrefix: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.keyPrefix = config.redis.keyPrefix;
    this.client = config.redis.url ? this.connect('commands') : null;
  }

  /** True when Redis is configured, whether or not it answers right now. */
  get enabled(): boolean {
    return this.client !== null;
  }

  /** True when Redis is configured and the command connection is ready. */
  get available(): boolean {
    return this.client?.status === 'ready';
  }

  /** True on a Redis Cluster. */
  get cluster(): boolean {
    return this.config.redis.cluster !== undefined;
  }

  /**
   * A key in this deployment's namespace. On a cluster the prefix is the key's hash tag, so keys used
   * together (cache entries and generations, ledger sets, lock and entry) always share a slot.
   */
  key(...parts: string[]): string {
    return (this.cluster ? `{${this.keyPrefix}}` : this.keyPrefix) + parts.join(':');
  }

  /**
   * A key that carries its own hash tag in `parts` (e.g. `'watch', '{exec:...}', 'lease'`): on a cluster
   * it lives in that tag's slot, so one entity's keys stay together while entities spread over the shards.
   * Only for keys never used in one command with keys of another tag.
   */
  taggedKey(...parts: string[]): string {
    return this.keyPrefix + parts.join(':');
  }

  /**
   * Runs a Lua script by its SHA (EVALSHA), sending the text only when the server does not know it yet
   * (NOSCRIPT: after a restart, or on a cluster node seen for the first time). For scripts run on hot
   * paths (rate limits, subscription counts). Rejects like any command; needs a client.
   */
  async evalScript(
    lua: string,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const client = this.client;
    if (!client) throw new Error('Redis is not configured');
    let sha = scriptShas.get(lua);
    if (sha === undefined) {
      sha = createHash('sha1').update(lua).digest('hex');
      scriptShas.set(lua, sha);
    }
    try {
      return await client.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error as Error).message.includes('NOSCRIPT')) throw error;
      return client.eval(lua, keys.length, ...keys, ...args);
    }
  }

  /** The connections SCAN must walk: each master of a cluster, or the one server. */
  masters(): RedisClient[] {
    if (!this.client) return [];
    const client: unknown = this.client;
    return client instanceof Cluster ? client.nodes('master') : [this.client];
  }

  async onModuleInit(): Promise<void> {
    if (!this.client) {
      this.logger.log('REDIS_URL is not set: running on memory alone, as a single replica');
      return;
    }
    try {
      await this.whenReady(this.client, this.config.redis.connectTimeoutMs);
      this.logger.log('Redis connected');
    } catch {
      // Not fatal: the gateway serves from memory and Maia, and ioredis keeps reconnecting.
      this.logger.warn('Redis is not reachable yet: continuing on memory until it is');
    }
  }

  /**
   * Subscribes a handler to a channel (prefixed like keys). Returns the function that unsubscribes it.
   * Without Redis, messages published in this process still reach this process's handlers.
   *
   * Never fails for Redis trouble and waits for Redis's SUBSCRIBE at most `REDIS_CONNECT_TIMEOUT_MS`: a
   * subscription made while Redis is away is made again as soon as the connection is ready, so callers
   * need no outage handling of their own.
   */
  async subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>> {
    const name = this.key(channel);
    let set = this.handlers.get(name);
    if (!set) {
      set = new Set();
      this.handlers.set(name, set);
      if (this.client) this.subscribing.set(name, this.subscribeAtRedis(name));
    }
    set.add(handler);
    await this.subscribing.get(name);
    return async () => {
      const current = this.handlers.get(name);
      if (!current?.delete(handler) || current.size > 0) return;
      this.handlers.delete(name);
      this.subscribing.delete(name);
      // Only on a live connection: a queued UNSUBSCRIBE would wait for Redis (forever, on a cluster that
      // never came up); a reconnect subscribes again only the channels that still have handlers.
      if (this.subscriberConnection?.status === 'ready')
        await this.subscriberConnection.unsubscribe(name).catch(() => undefined);
    };
  }

  /** Publishes to every replica's subscribers (this one's included). */
  async publish(channel: string, message: string): Promise<void> {
    const name = this.key(channel);
    if (this.client) {
      await this.client.publish(name, message);
    } else {
      this.deliver(name, message);
    }
  }

  /** How many channels this process listens to (for tests and metrics). */
  get subscribedChannelCount(): number {
    return this.handlers.size;
  }

  async onApplicationShutdown(): Promise<void> {
    // Redis is closed last: Nest calls this hook after every module's shutdown hooks that depend on it.
    const connections = [this.subscriberConnection, this.client].filter((c): c is RedisClient => c !== null);
    await Promise.all(connections.map((c) => closeConnection(c)));
  }

  /**
   * A failed SUBSCRIBE (Redis away) is not the caller's problem: the handler stays registered, local
   * publishes still reach it, and every channel is subscribed again when the connection is ready.
   */
  private async subscribeAtRedis(name: string): Promise<void> {
    const giveUp = new AbortController();
    const subscribed = this.subscriber()
      .subscribe(name)
      .then(() => true)
      .catch((error: Error) => {
        this.logger.warn(`Redis SUBSCRIBE ${name} failed (${error.message}); retried on reconnect`);
        return true;
      });
    const timedOut = sleep(this.config.redis.connectTimeoutMs, false, { signal: giveUp.signal }).catch(
      () => false,
    );
    if (!(await Promise.race([subscribed, timedOut]))) {
      this.logger.warn(`Redis SUBSCRIBE ${name} is slow; continuing, retried on reconnect`);
    }
    giveUp.abort();
  }

  private subscriber(): RedisClient {
    if (!this.subscriberConnection) {
      this.subscriberConnection = this.connect('subscriber');
      // ioredis re-subscribes only channels whose SUBSCRIBE succeeded; this covers the ones that failed.
      this.subscriberConnection.on('ready', () => {
        const channels = [...this.handlers.keys()];
        if (channels.length > 0) this.subscriberConnection?.subscribe(...channels).catch(() => undefined);
      });
      this.subscriberConnection.on('message', (channel: string, message: string) =>
        this.deliver(channel, message),
      );
    }
    return this.subscriberConnection;
  }

  private deliver(channel: string, message: string): void {
    for (const handler of this.handlers.get(channel) ?? []) {
      try {
        handler(message);
      } catch (error) {
        this.logger.error(`A handler of ${channel} threw: ${(error as Error).message}`);
      }
    }
  }

  private connect(role: string): RedisClient {
    const { url, cluster, commandTimeoutMs, connectTimeoutMs } = this.config.redis;
    const options = {
      connectionName: `maia-gateway:${role}`,
      commandTimeout: commandTimeoutMs,
      connectTimeout: connectTimeoutMs,
      maxRetriesPerRequest: 1,
    };
    const enableOfflineQueue = role === 'subscriber'; // subscriptions are replayed on reconnect; commands fail fast
    const retryStrategy = (times: number) => Math.min(100 * 2 ** times, 2_000);
    const redis = cluster
      ? // The same interface as one server (ioredis' Commander); typed as one for the callers.
        (new Cluster(cluster.map(seedNode), {
          redisOptions: { ...options, ...credentialsOf(cluster[0]) },
          enableOfflineQueue,
          clusterRetryStrategy: retryStrategy,
          slotsRefreshTimeout: connectTimeoutMs,
        }) as unknown as RedisClient)
      : new Redis(url as string, { ...options, enableOfflineQueue, retryStrategy, lazyConnect: false });
    let wasReady = false;
    redis.on('ready', () => {
      if (wasReady) this.logger.log(`Redis ${role} connection is back`);
      wasReady = true;
    });
    // ioredis emits 'error' on every failed reconnect; without a listener Node would crash the process.
    redis.on('error', (error: Error) => this.logger.debug(`Redis ${role}: ${error.message}`));
    return redis;
  }

  private whenReady(redis: RedisClient, timeoutMs: number): Promise<void> {
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

/**
 * QUIT when connected (bounded: a node that stops answering must not hold the shutdown), else disconnect:
 * an ioredis Cluster that never reached its nodes would wait for them forever on QUIT.
 */
async function closeConnection(connection: RedisClient): Promise<void> {
  if (connection.status !== 'ready') {
    connection.disconnect();
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
