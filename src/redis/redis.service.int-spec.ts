import Redis from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { loadConfig } from '../config';
import { RedisScript } from './redis.script';
import { RedisService } from './redis.service';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function startRedis(port: number): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

function service(url: string | undefined): RedisService {
  const env = { REDIS_URL: url, REDIS_KEY_PREFIX: `test:${randomUUID()}:`, REDIS_CONNECT_TIMEOUT_MS: '300' };
  return new RedisService(loadConfig(env));
}

describe('RedisService', () => {
  it('without REDIS_URL delivers publishes to this process and has no client', async () => {
    const redis = service(undefined);
    await redis.onModuleInit();
    const got: string[] = [];
    const off = await redis.subscribe('news', (m) => got.push(m));
    await redis.publish('news', 'hello');
    await off();
    await redis.publish('news', 'unheard');
    expect(redis.enabled).toBe(false);
    expect(got).toEqual(['hello']);
    expect(redis.subscribedChannelCount).toBe(0);
  });

  it('fans a publish out to every replica through the real Redis', async () => {
    const prefix = `test:${randomUUID()}:`;
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: prefix };
    const [a, b] = [new RedisService(loadConfig(env)), new RedisService(loadConfig(env))];
    await Promise.all([a.onModuleInit(), b.onModuleInit()]);
    const got: string[] = [];
    await b.subscribe('fan', (m) => got.push(`b:${m}`));
    await a.subscribe('fan', (m) => got.push(`a:${m}`));
    await a.publish('fan', 'x');
    await until(() => got.length === 2, 2_000);
    expect(got.sort()).toEqual(['a:x', 'b:x']);
    await Promise.all([a.onApplicationShutdown(), b.onApplicationShutdown()]);
  });

  it('keeps a subscription made while Redis is down and receives messages once it is back', async () => {
    const port = await freePort();
    const redis = service(`redis://127.0.0.1:${port}`);
    await redis.onModuleInit(); // Redis is not there: the start goes on, on memory
    expect(redis.available).toBe(false);
    const got: string[] = [];
    await redis.subscribe('late', (m) => got.push(m));

    const server = startRedis(port);
    try {
      await until(() => redis.available, 10_000);
      // The re-subscribe on 'ready' races the first publish: publish until one arrives.
      const deadline = Date.now() + 5_000;
      while (got.length === 0 && Date.now() < deadline) {
        await redis.publish('late', 'back');
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(got[0]).toBe('back');
    } finally {
      await redis.onApplicationShutdown();
      server.kill('SIGKILL');
    }
  });
});

describe('RedisService keys on a Redis Cluster', () => {
  const service = (env: Record<string, string>) =>
    new RedisService(loadConfig({ REDIS_KEY_PREFIX: 'mg:', ...env }));

  it('gives every plain key the prefix as hash tag on a cluster, and nothing changes on one server', async () => {
    // Never connected: the keys are pure functions of the configuration.
    const cluster = service({ REDIS_URL: 'redis://127.0.0.1:1,redis://127.0.0.1:2', REDIS_CLUSTER: 'true' });
    const single = service({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      expect(cluster.cluster).toBe(true);
      expect(cluster.key('v1', 'cache', 'gen', 'all')).toBe('{mg:}v1:cache:gen:all');
      expect(cluster.taggedKey('watch', '{exec:p:e}', 'lease')).toBe('mg:watch:{exec:p:e}:lease');
      expect(single.cluster).toBe(false);
      expect(single.key('v1', 'cache', 'gen', 'all')).toBe('mg:v1:cache:gen:all');
      expect(single.taggedKey('watch', '{exec:p:e}', 'lease')).toBe('mg:watch:{exec:p:e}:lease');
    } finally {
      await Promise.all([cluster.onApplicationShutdown(), single.onApplicationShutdown()]);
    }
  });

  it('takes several seed URLs only with REDIS_CLUSTER, and no braces in the prefix', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://a:1,redis://b:2' })).toThrow(
      /REDIS_URL.*REDIS_CLUSTER=true/,
    );
    expect(() => loadConfig({ REDIS_URL: 'redis://a:1', REDIS_KEY_PREFIX: '{x}' })).toThrow(
      /REDIS_KEY_PREFIX/,
    );
    const config = loadConfig({ REDIS_URL: 'redis://a:1, rediss://b:2', REDIS_CLUSTER: 'true' });
    expect(config.redis.cluster).toEqual(['redis://a:1', 'rediss://b:2']);
    expect(config.redis.url).toBe('redis://a:1');
  });
});

describe('RedisService scripts', () => {
  it('runs a script by its SHA, sends the text again when the server forgot it, and rejects script errors', async () => {
    const redis = service('redis://127.0.0.1:6379');
    await redis.onModuleInit();
    try {
      const key = redis.key('eval-script', randomUUID());
      const script = new RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])");
      expect(await redis.runScript(script, [key], [2])).toBe(2);
      const admin = new Redis('redis://127.0.0.1:6379');
      await admin.script('FLUSH'); // as after a Redis restart: EVALSHA answers NOSCRIPT
      await admin.quit();
      expect(await redis.runScript(script, [key], [3])).toBe(5);
      expect(await redis.runScript(script, [key], [1])).toBe(6);
      await expect(
        redis.runScript(new RedisScript("return redis.call('NOPE')"), [key], []),
      ).rejects.toThrow();
      await redis.delete(key);
    } finally {
      await redis.onApplicationShutdown();
    }
  });

  it("compare-and-delete and compare-and-expire leave another owner's value alone", async () => {
    const redis = service('redis://127.0.0.1:6379');
    await redis.onModuleInit();
    try {
      const key = redis.key('owned', randomUUID());
      await redis.set(key, 'theirs', { ttlMs: 5_000 });
      expect(await redis.deleteIfEquals(key, 'mine')).toBe(false);
      expect(await redis.expireIfEquals(key, 'mine', 60_000)).toBe(false);
      expect(await redis.get(key)).toBe('theirs');
      expect(await redis.remainingTtlMs(key)).toBeLessThanOrEqual(5_000);
      expect(await redis.expireIfEquals(key, 'theirs', 60_000)).toBe(true);
      expect(await redis.remainingTtlMs(key)).toBeGreaterThan(5_000);
      expect(await redis.deleteIfEquals(key, 'theirs')).toBe(true);
      expect(await redis.exists(key)).toBe(false);
    } finally {
      await redis.onApplicationShutdown();
    }
  });
});

describe('RedisService named operations', () => {
  let redis: RedisService;
  const key = (...parts: string[]) => redis.key('ops', ...parts);

  beforeAll(async () => {
    redis = service('redis://127.0.0.1:6379');
    await redis.onModuleInit();
  });
  afterAll(async () => {
    await redis.deleteMatching(redis.key('ops', '*'));
    await redis.onApplicationShutdown();
  });

  it('sets with a TTL and only-if-absent, reads one or many, deletes', async () => {
    expect(await redis.set(key('a'), '1', { ttlMs: 10_000, onlyIfAbsent: true })).toBe(true);
    expect(await redis.set(key('a'), '2', { onlyIfAbsent: true })).toBe(false);
    expect(await redis.set(key('b'), '3')).toBe(true);
    expect(await redis.getMany([key('a'), key('b'), key('none')])).toEqual(['1', '3', null]);
    expect(await redis.remainingTtlMs(key('b'))).toBe(-1);
    expect(await redis.expire(key('b'), 10_000)).toBe(true);
    expect(await redis.remainingTtlMs(key('b'))).toBeGreaterThan(0);
    expect(await redis.delete(key('a'), key('b'), key('none'))).toBe(2);
    expect(await redis.get(key('a'))).toBeNull();
  });

  it('increments several counters together', async () => {
    expect(await redis.incrementAll([key('n1'), key('n2')])).toEqual([1, 1]);
    expect(await redis.incrementAll([key('n1'), key('n2')])).toEqual([2, 2]);
  });

  it('reads lists and hashes, and keeps sorted sets', async () => {
    // Written with a plain client: the gateway itself only reads lists and hashes.
    const writer = new Redis('redis://127.0.0.1:6379');
    await writer.rpush(key('list'), 'x', 'y', 'z');
    await writer.hset(key('hash'), 'one', '1', 'two', '2');
    await writer.quit();
    expect(await redis.listRange(key('list'))).toEqual(['x', 'y', 'z']);
    expect(await redis.listRange(key('list'), -2)).toEqual(['y', 'z']);
    expect(await redis.hashDelete(key('hash'), 'one')).toBe(true);
    expect(await redis.hashGetAll(key('hash'))).toEqual({ two: '2' });

    await redis.sortedSetAdd(key('zset'), 10, 'old', 60_000);
    await redis.sortedSetAdd(key('zset'), 20, 'new');
    expect(await redis.remainingTtlMs(key('zset'))).toBeGreaterThan(0);
    expect(await redis.sortedSetRangeByScore(key('zset'), 15)).toEqual(['new']);
    expect(await redis.sortedSetScores(key('zset'), ['old', 'none'])).toEqual([10, null]);
    await redis.sortedSetRemoveByScore(key('zset'), 0, 15);
    await redis.sortedSetRemove(key('zset'), 'new');
    expect(await redis.sortedSetRangeByScore(key('zset'), 0)).toEqual([]);
  });

  it('finds and deletes keys by pattern on every master', async () => {
    await Promise.all(['s1', 's2', 's3'].map((part) => redis.set(key('scan', part), 'v')));
    expect((await redis.scanKeys(key('scan', '*'))).sort()).toEqual([
      key('scan', 's1'),
      key('scan', 's2'),
      key('scan', 's3'),
    ]);
    expect(await redis.deleteMatching(key('scan', '*'))).toBe(3);
    expect(await redis.scanKeys(key('scan', '*'))).toEqual([]);
  });

  it('pings, and reports its connection', async () => {
    await expect(redis.ping()).resolves.toBeUndefined();
    expect(redis.connectionStatus).toBe('ready');
    const none = service(undefined);
    expect(none.connectionStatus).toBe('disabled');
    await expect(none.get('x')).rejects.toThrow('Redis is not configured');
  });
});
