import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisChannels, type MessageHandler } from './redis.channels';
import { closeConnection, mastersOf, openConnection, whenReady, type RedisClient } from './redis.connection';
import { COMPARE_AND_DELETE, COMPARE_AND_EXPIRE, REPLACE_KEEPING_TTL, RedisScript } from './redis.script';

export type { RedisClient } from './redis.connection';
export type { MessageHandler } from './redis.channels';

/**
 * The one door to Redis. No other module opens a connection or calls ioredis: they use the named
 * operations below, or the primitives built on them (`RedisLease`, `SingleFlightLock`, `RedisScript`).
 *
 * Without `REDIS_URL` there is no connection (`enabled` is false) and every user falls back to memory, as
 * one replica. With it there are two connections: one for commands, one subscriber for every channel.
 * Commands fail fast while Redis is away (no offline queue, a short timeout): callers catch and carry on.
 *
 * With `REDIS_CLUSTER`, `key()` puts the prefix's hash tag on a key (`{mg:}cache:...`) so multi-key
 * commands and scripts stay in one slot; `taggedKey()` keeps the key's own tag (one entity's keys
 * together, entities spread over the shards). Pub/sub is cluster-wide as on one server.
 */
/** SETs that go along with another command (`runScriptAlong`), each expiring after `ttlMs`. */
export interface TimedWrites {
  entries: readonly { key: string; value: string }[];
  ttlMs: number;
}

@Injectable()
export class RedisService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RedisService.name);
  /** Commands; null without REDIS_URL. Private: other modules use the named operations. */
  private readonly client: RedisClient | null;
  private readonly channels: RedisChannels;
  readonly keyPrefix: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.keyPrefix = config.redis.keyPrefix;
    this.client = config.redis.url ? this.connect('commands') : null;
    this.channels = new RedisChannels(
      this.client,
      () => this.connect('subscriber'),
      config.redis.connectTimeoutMs,
      this.logger,
    );
  }

  /** True when Redis is configured, whether or not it answers right now. */
  get enabled(): boolean {
    return this.client !== null;
  }

  /** True when Redis is configured and the command connection is ready. */
  get available(): boolean {
    return this.client?.status === 'ready';
  }

  /** The command connection's state as ioredis names it ('ready', 'reconnecting', ...), or 'disabled'. */
  get connectionStatus(): string {
    return this.client?.status ?? 'disabled';
  }

  /** True on a Redis Cluster. */
  get cluster(): boolean {
    return this.config.redis.cluster !== undefined;
  }

  /** A key in this deployment's namespace; on a cluster the prefix is its hash tag (keys used together share a slot). */
  key(...parts: string[]): string {
    return (this.cluster ? `{${this.keyPrefix}}` : this.keyPrefix) + parts.join(':');
  }

  /**
   * A key that carries its own hash tag in `parts` (e.g. `'watch', '{exec:...}', 'lease'`). Only for keys
   * never used in one command with keys of another tag.
   */
  taggedKey(...parts: string[]): string {
    return this.keyPrefix + parts.join(':');
  }

  /** Calls `listener` each time the command connection becomes ready (at start and after an outage). */
  onReady(listener: () => void): void {
    this.client?.on('ready', listener);
  }

  // --- scripts ------------------------------------------------------------------------------------------

  /** Runs a script by its SHA, sending its text only on NOSCRIPT (after a restart, or on a new cluster node). */
  async runScript(
    script: RedisScript,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const client = this.commands();
    try {
      return await client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error as Error).message.includes('NOSCRIPT')) throw error;
      return client.eval(script.lua, keys.length, ...keys, ...args);
    }
  }

  /**
   * `runScript`, with `also`'s SETs (each expiring after `also.ttlMs`) in the same round trip: one pipeline,
   * one socket write, not a transaction (the SETs stand alone; on a cluster every key shares the prefix's
   * slot: build them with `key()`). Answers the script's result and whether every SET was written; a
   * failed SET does not fail the script. Without SETs, `runScript` itself.
   */
  async runScriptAlong(
    script: RedisScript,
    keys: readonly string[],
    args: readonly (string | number)[],
    also: TimedWrites,
  ): Promise<{ result: unknown; written: boolean }> {
    if (also.entries.length === 0) return { result: await this.runScript(script, keys, args), written: true };
    const pipeline = this.commands().pipeline();
    pipeline.evalsha(script.sha, keys.length, ...keys, ...args);
    for (const { key, value } of also.entries) pipeline.set(key, value, 'PX', Math.ceil(also.ttlMs));
    let replies: [Error | null, unknown][];
    try {
      replies = (await pipeline.exec()) ?? [];
    } catch {
      // Refused whole, before anything was sent (a cluster refuses a pipeline whose keys span nodes): the
      // script alone, the SETs reported unwritten (the caller writes them on their own).
      return { result: await this.runScript(script, keys, args), written: false };
    }
    const written = replies.length === also.entries.length + 1 && replies.slice(1).every(([error]) => !error);
    const [error, result] = replies[0] ?? [new Error('Redis answered no reply to the script')];
    if (!error) return { result, written };
    if (!error.message.includes('NOSCRIPT')) throw error;
    return { result: await this.runScript(script, keys, args), written };
  }

  /** Deletes `key` only while it holds `expected`. True when it was deleted. */
  async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    return (await this.runScript(COMPARE_AND_DELETE, [key], [expected])) === 1;
  }

  /** Sets `key` to expire in `ttlMs` only while it holds `expected`. True when it did. */
  async expireIfEquals(key: string, expected: string, ttlMs: number): Promise<boolean> {
    return (await this.runScript(COMPARE_AND_EXPIRE, [key], [expected, Math.ceil(ttlMs)])) === 1;
  }

  /** Replaces the value of `key`, keeping its expiry, only while it exists. True when it did. */
  async replaceIfExists(key: string, value: string): Promise<boolean> {
    return (await this.runScript(REPLACE_KEEPING_TTL, [key], [value])) === 'OK';
  }

  // --- strings ------------------------------------------------------------------------------------------

  async get(key: string): Promise<string | null> {
    return this.commands().get(key);
  }

  /** Values of several keys (one slot on a cluster: build them with `key()`). */
  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    return this.commands().mget(...keys);
  }

  /**
   * Sets `key`, expiring after `ttlMs` when given (> 0); with `onlyIfAbsent`, only when the key does not
   * exist (SET NX). True when the value was written.
   */
  async set(
    key: string,
    value: string,
    options: { ttlMs?: number; onlyIfAbsent?: boolean } = {},
  ): Promise<boolean> {
    const client = this.commands();
    const ttlMs = options.ttlMs !== undefined && options.ttlMs > 0 ? Math.ceil(options.ttlMs) : undefined;
    let reply: string | null;
    if (ttlMs !== undefined && options.onlyIfAbsent) reply = await client.set(key, value, 'PX', ttlMs, 'NX');
    else if (ttlMs !== undefined) reply = await client.set(key, value, 'PX', ttlMs);
    else if (options.onlyIfAbsent) reply = await client.set(key, value, 'NX');
    else reply = await client.set(key, value);
    return reply === 'OK';
  }

  /**
   * Sets several keys, each expiring after `ttlMs`, in one round trip (a pipeline, not a transaction: each
   * write stands alone). On a cluster, keys built with `key()` share one slot.
   */
  async setMany(entries: readonly { key: string; value: string }[], ttlMs: number): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.commands().pipeline();
    for (const { key, value } of entries) pipeline.set(key, value, 'PX', Math.ceil(ttlMs));
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error)?.[0];
    if (failed) throw failed;
  }

  /** Deletes keys one command each (keys of several slots are fine). Returns how many existed. */
  async delete(...keys: string[]): Promise<number> {
    const client = this.commands();
    const counts = await Promise.all(keys.map((key) => client.del(key)));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.commands().exists(key)) > 0;
  }

  /** Milliseconds until `key` expires: -1 when it never does, -2 when it does not exist (PTTL). */
  async remainingTtlMs(key: string): Promise<number> {
    return this.commands().pttl(key);
  }

  /** Sets `key` to expire in `ttlMs`. True when the key exists. */
  async expire(key: string, ttlMs: number): Promise<boolean> {
    return (await this.commands().pexpire(key, Math.ceil(ttlMs))) === 1;
  }

  /** Increments each key by one in one transaction (one slot on a cluster) and returns the new values. */
  async incrementAll(keys: readonly string[]): Promise<number[]> {
    const multi = this.commands().multi();
    for (const key of keys) multi.incr(key);
    const results = (await multi.exec()) ?? [];
    const failed = results.find(([error]) => error)?.[0];
    if (failed || results.length !== keys.length) throw failed ?? new Error('MULTI INCR was discarded');
    return results.map(([, value]) => Number(value));
  }

  // --- lists, hashes, sorted sets -----------------------------------------------------------------------

  /** Elements `start`..`stop` of a list (inclusive; -1 is the last). */
  async listRange(key: string, start = 0, stop = -1): Promise<string[]> {
    return this.commands().lrange(key, start, stop);
  }

  async hashGetAll(key: string): Promise<Record<string, string>> {
    return this.commands().hgetall(key);
  }

  async hashDelete(key: string, field: string): Promise<boolean> {
    return (await this.commands().hdel(key, field)) > 0;
  }

  /** Adds (or moves) `member` at `score`; with `ttlMs`, the set expires that long after this write. */
  async sortedSetAdd(key: string, score: number, member: string, ttlMs?: number): Promise<void> {
    const multi = this.commands().multi().zadd(key, score, member);
    if (ttlMs !== undefined) multi.pexpire(key, Math.ceil(ttlMs));
    await multi.exec();
  }

  async sortedSetRemove(key: string, member: string): Promise<void> {
    await this.commands().zrem(key, member);
  }

  /** Members whose score lies in [minScore, maxScore]. */
  async sortedSetRangeByScore(key: string, minScore: number, maxScore = Infinity): Promise<string[]> {
    return this.commands().zrangebyscore(key, minScore, maxScore === Infinity ? '+inf' : maxScore);
  }

  /** Removes members whose score lies in [minScore, maxScore]. */
  async sortedSetRemoveByScore(key: string, minScore: number, maxScore: number): Promise<void> {
    await this.commands().zremrangebyscore(key, minScore, maxScore);
  }

  /** The score of each member (null when absent), in one round trip. */
  async sortedSetScores(key: string, members: readonly string[]): Promise<(number | null)[]> {
    if (members.length === 0) return [];
    const pipeline = this.commands().pipeline();
    for (const member of members) pipeline.zscore(key, member);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, score]) => (error || score === null ? null : Number(score)));
  }

  // --- whole keyspace (never on a request path) ---------------------------------------------------------

  /** Every key matching `pattern`, walking each master of a cluster with SCAN. */
  async scanKeys(pattern: string): Promise<string[]> {
    return (await this.scanKeysPerMaster(pattern)).flat();
  }

  /** The keys matching `pattern` on each master (one list per master; one list on one server). */
  async scanKeysPerMaster(pattern: string): Promise<string[][]> {
    return Promise.all(
      this.masters().map(async (node) => {
        const found: string[] = [];
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
          found.push(...keys);
          cursor = next;
        } while (cursor !== '0');
        return found;
      }),
    );
  }

  /** Deletes every key matching `pattern` (SCAN, then one DEL per key). Returns how many it deleted. */
  async deleteMatching(pattern: string): Promise<number> {
    return this.delete(...(await this.scanKeys(pattern)));
  }

  /** Answers when Redis does (PING). */
  async ping(): Promise<void> {
    await this.commands().ping();
  }

  /** Closes the command connection at once, without QUIT: for tests that play a crashed replica. */
  disconnect(): void {
    this.client?.disconnect();
  }

  // --- lifecycle and pub/sub ----------------------------------------------------------------------------

  async onModuleInit(): Promise<void> {
    if (!this.client) {
      this.logger.log('REDIS_URL is not set: running on memory alone, as a single replica');
      return;
    }
    try {
      await whenReady(this.client, this.config.redis.connectTimeoutMs);
      this.logger.log('Redis connected');
    } catch {
      // Not fatal: the gateway serves from memory and Maia, and ioredis keeps reconnecting.
      this.logger.warn('Redis is not reachable yet: continuing on memory until it is');
    }
  }

  /**
   * Subscribes a handler to a channel (prefixed like keys). Returns the function that unsubscribes it.
   * Never fails for Redis trouble and waits for SUBSCRIBE at most `REDIS_CONNECT_TIMEOUT_MS`: a
   * subscription made while Redis is away is made again once the connection is ready.
   */
  subscribe(channel: string, handler: MessageHandler): Promise<() => Promise<void>> {
    return this.channels.subscribe(this.key(channel), handler);
  }

  /** Publishes to every replica's subscribers (this one's included; only this one's without Redis). */
  publish(channel: string, message: string): Promise<void> {
    return this.channels.publish(this.key(channel), message);
  }

  /** How many channels this process listens to (for tests and metrics). */
  get subscribedChannelCount(): number {
    return this.channels.channelCount;
  }

  async onApplicationShutdown(): Promise<void> {
    // Redis is closed last: Nest calls this hook after every module's shutdown hooks that depend on it.
    const connections = [this.channels.connection, this.client].filter((c): c is RedisClient => c !== null);
    await Promise.all(connections.map((c) => closeConnection(c)));
  }

  /** The connections SCAN must walk: each master of a cluster, or the one server. */
  private masters(): RedisClient[] {
    return this.client ? mastersOf(this.client) : [];
  }

  private commands(): RedisClient {
    if (!this.client) throw new Error('Redis is not configured');
    return this.client;
  }

  private connect(role: 'commands' | 'subscriber'): RedisClient {
    const redis = openConnection(this.config.redis, role, (error) =>
      this.logger.debug(`Redis ${role}: ${error.message}`),
    );
    let wasReady = false;
    redis.on('ready', () => {
      if (wasReady) this.logger.log(`Redis ${role} connection is back`);
      wasReady = true;
    });
    return redis;
  }
}
