import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { eventually, holdsFor } from '../../test/support/eventually';
import { ErrorCode, GatewayError } from '../common/errors';
import { loadConfig, type AppConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { RateLimiterService } from './rate-limiter.service';

function configOf(env: Record<string, string>): AppConfig {
  return loadConfig({
    GATEWAY_MODE: 'development',
    AUTH_DISABLED: 'true',
    RATE_LIMIT_ENABLED: 'true',
    RATE_LIMIT_PER_MINUTE: '60', // one token a second
    RATE_LIMIT_BURST: '3',
    RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '60',
    ...env,
  });
}

async function drain(limiter: RateLimiterService, key: string, n: number) {
  const decisions = [];
  for (let i = 0; i < n; i += 1) decisions.push(await limiter.consume('principal', key));
  return decisions;
}

/** Its own key prefix on the real Redis: buckets of one test are nobody else's. */
function sharedEnv(env: Record<string, string> = {}): Record<string, string> {
  return { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: `test:${randomUUID()}:`, ...env };
}

describe('RateLimiterService', () => {
  const redisServices: RedisService[] = [];
  afterAll(async () => {
    // Shutdown also stops a client still retrying an unreachable server (it disconnects, without QUIT).
    await Promise.all(redisServices.map((r) => r.onApplicationShutdown()));
  });

  const limiters: RateLimiterService[] = [];
  afterEach(async () => {
    await Promise.all(limiters.splice(0).map((l) => l.onApplicationShutdown()));
  });

  async function replica(config: AppConfig): Promise<RateLimiterService> {
    return (await replicaWithRedis(config)).limiter;
  }

  async function replicaWithRedis(config: AppConfig) {
    const redis = new RedisService(config);
    redisServices.push(redis);
    await redis.onModuleInit();
    const limiter = new RateLimiterService(config, redis);
    limiters.push(limiter);
    return { limiter, redis };
  }

  it('allows the burst, then refuses with RATE_LIMITED and a retry hint (in memory without Redis)', async () => {
    const limiter = await replica(configOf({}));
    const decisions = await drain(limiter, 'alice', 4);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions.every((d) => !d.shared)).toBe(true);
    expect(decisions[3].retryAfterMs).toBeGreaterThan(0);
    expect(decisions[3].retryAfterMs).toBeLessThanOrEqual(1_000);
    const error = await Promise.resolve()
      .then(() => limiter.assertWithinLimit('principal', 'alice'))
      .then(
        () => undefined,
        (e: unknown) => e as GatewayError,
      );
    expect(error?.code).toBe(ErrorCode.RATE_LIMITED);
    expect(error?.details.retryAfterSeconds).toBe(1);
    // Other clients have their own budget.
    expect((await limiter.consume('principal', 'bob')).allowed).toBe(true);
  });

  it('refills over time', async () => {
    // 10 tokens a second: slow enough that none refills between the drain and the refusal.
    const limiter = await replica(configOf({ RATE_LIMIT_PER_MINUTE: '600' }));
    await drain(limiter, 'carol', 3);
    expect((await limiter.consume('principal', 'carol')).allowed).toBe(false);
    // A refused request takes no token, so asking until one is allowed measures the refill alone.
    await eventually(async () => expect((await limiter.consume('principal', 'carol')).allowed).toBe(true));
  });

  it('shares one budget across replicas through Redis', async () => {
    const env = sharedEnv();
    const [one, two] = await Promise.all([replica(configOf(env)), replica(configOf(env))]);
    const decisions = [
      await one.consume('principal', 'dave'),
      await two.consume('principal', 'dave'),
      await one.consume('principal', 'dave'),
      await two.consume('principal', 'dave'),
    ];
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions.every((d) => d.shared)).toBe(true);
  });

  it('never admits more than the budget fleet-wide, however many requests two replicas take at once', async () => {
    // 100 tokens and next to no refill (1 a minute), taken in batches by two replicas concurrently.
    const env = sharedEnv({
      RATE_LIMIT_BURST: '100',
      RATE_LIMIT_PER_MINUTE: '1',
      RATE_LIMIT_SHARE_HOLD_MS: '200',
    });
    const [one, two] = await Promise.all([replica(configOf(env)), replica(configOf(env))]);
    const burst = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        Promise.resolve((i % 2 === 0 ? one : two).consume('principal', 'grace')),
      ),
    );
    let admitted = burst.filter((d) => d.allowed).length;
    expect(admitted).toBeLessThanOrEqual(100);
    // Tokens a replica took and did not spend come back after the hold: in the end exactly the budget.
    await eventually(
      async () => {
        for (const limiter of [one, two]) {
          if ((await limiter.consume('principal', 'grace')).allowed) admitted += 1;
        }
        expect(admitted).toBe(100);
      },
      { timeoutMs: 10_000 },
    );
    await holdsFor(async () => {
      for (const limiter of [one, two]) {
        expect((await limiter.consume('principal', 'grace')).allowed).toBe(false);
      }
    }, 500);
  });

  it('gives a replica the tokens another one held but did not spend, after the hold', async () => {
    const env = sharedEnv({
      RATE_LIMIT_BURST: '40',
      RATE_LIMIT_PER_MINUTE: '1',
      RATE_LIMIT_SHARE_HOLD_MS: '1000',
    });
    const [one, two] = await Promise.all([replica(configOf(env)), replica(configOf(env))]);
    // A few quick requests on `two`: its batches grow past what it spends.
    const onTwo = (await drain(two, 'heidi', 8)).filter((d) => d.allowed).length;
    expect(onTwo).toBe(8);
    let onOne = 0;
    for (;;) {
      const decision = await one.consume('principal', 'heidi');
      if (!decision.allowed) {
        expect(decision.retryAfterMs).toBeGreaterThan(0);
        break;
      }
      onOne += 1;
    }
    // Refused on `one` while `two` still holds part of the budget...
    expect(onOne + onTwo).toBeLessThan(40);
    // ...which comes back to the shared bucket once `two` has held it a second without spending it.
    await eventually(
      async () => {
        if ((await one.consume('principal', 'heidi')).allowed) onOne += 1;
        expect(onOne + onTwo).toBe(40);
      },
      { timeoutMs: 10_000 },
    );
  });

  it('spends a local share without a round trip per request, synchronously', async () => {
    const { limiter, redis } = await replicaWithRedis(
      configOf(sharedEnv({ RATE_LIMIT_BURST: '10000', RATE_LIMIT_PER_MINUTE: '60000' })),
    );
    const scripts = jest.spyOn(redis, 'runScript');
    let synchronous = 0;
    for (let i = 0; i < 200; i += 1) {
      const decision = limiter.consume('principal', 'ivan');
      if (!(decision instanceof Promise)) synchronous += 1;
      expect((await decision).allowed).toBe(true);
    }
    // Batches double up to RATE_LIMIT_SHARE_MAX (128): 1 + 2 + 4 + ... + 64, then 128 at a time.
    expect(scripts.mock.calls.length).toBeLessThanOrEqual(15);
    expect(synchronous).toBe(200 - scripts.mock.calls.length);
  });

  it('charges from the share synchronously, and never from tokens whose hold ended', async () => {
    const { limiter, redis } = await replicaWithRedis(
      configOf(
        sharedEnv({
          RATE_LIMIT_BURST: '10000',
          RATE_LIMIT_PER_MINUTE: '60000',
          RATE_LIMIT_SHARE_HOLD_MS: '5000',
        }),
      ),
    );
    // Grants of 1, 2, 4, 8 and 16 tokens: 31 granted, 11 left after 20 charges.
    for (let i = 0; i < 20; i += 1) await limiter.assertWithinLimit('principal', 'liam');
    const scripts = jest.spyOn(redis, 'runScript');
    for (let i = 0; i < 11; i += 1) expect(limiter.assertWithinLimit('principal', 'liam')).toBeUndefined();
    expect(scripts).not.toHaveBeenCalled();
    // The share is spent: the next charge asks Redis.
    const next = limiter.assertWithinLimit('principal', 'liam');
    expect(next).toBeInstanceOf(Promise);
    await next;
    expect(scripts).toHaveBeenCalledTimes(1);
    // Tokens held past their hold are not spent, however many are left: the charge asks Redis again.
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 6_000);
    try {
      const late = limiter.assertWithinLimit('principal', 'liam');
      expect(late).toBeInstanceOf(Promise);
      await late;
      expect(scripts).toHaveBeenCalledTimes(2);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('admits the waiting requests with what a round trip slower than the hold granted', async () => {
    const { limiter, redis } = await replicaWithRedis(
      configOf(sharedEnv({ RATE_LIMIT_BURST: '100', RATE_LIMIT_SHARE_HOLD_MS: '50' })),
    );
    // Each script answer arrives "after" the hold: the clock moves on by more than the hold per call.
    let offsetMs = 0;
    const realNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + offsetMs);
    const runScript = redis.runScript.bind(redis);
    const scripts = jest.spyOn(redis, 'runScript').mockImplementation(async (...args) => {
      const reply = await runScript(...args);
      offsetMs += 60;
      return reply;
    });
    try {
      const decisions = await Promise.all(
        Array.from({ length: 5 }, () => Promise.resolve(limiter.consume('principal', 'kate'))),
      );
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true]);
      expect(scripts.mock.calls.length).toBeLessThanOrEqual(3);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('makes concurrent requests of one caller wait for one grant instead of each asking Redis', async () => {
    const { limiter, redis } = await replicaWithRedis(
      configOf(sharedEnv({ RATE_LIMIT_BURST: '10000', RATE_LIMIT_PER_MINUTE: '60000' })),
    );
    const scripts = jest.spyOn(redis, 'runScript');
    const decisions = await Promise.all(
      Array.from({ length: 50 }, () => Promise.resolve(limiter.consume('principal', 'judy'))),
    );
    expect(decisions.every((d) => d.allowed && d.shared)).toBe(true);
    // One grant for the first request, then grants sized for everyone who waited for it.
    expect(scripts.mock.calls.length).toBeLessThanOrEqual(3);
  });

  it('grants concurrent requests exactly what is left near exhaustion, and holds nothing ahead with RATE_LIMIT_SHARE_MAX=1', async () => {
    const { limiter, redis } = await replicaWithRedis(
      configOf(sharedEnv({ RATE_LIMIT_BURST: '10', RATE_LIMIT_PER_MINUTE: '1', RATE_LIMIT_SHARE_MAX: '1' })),
    );
    const scripts = jest.spyOn(redis, 'runScript');
    const decisions = await Promise.all(
      Array.from({ length: 40 }, () => Promise.resolve(limiter.consume('principal', 'lena'))),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.retryAfterMs > 0)).toBe(true);
    // The first request's grant, one for everyone who queued behind it, one that finds the bucket empty.
    expect(scripts.mock.calls.length).toBeLessThanOrEqual(4);
  });

  it("asks for many callers' grants in one script call, each caller decided as if alone", async () => {
    const { limiter, redis } = await replicaWithRedis(
      configOf(sharedEnv({ RATE_LIMIT_BURST: '3', RATE_LIMIT_PER_MINUTE: '1' })),
    );
    const scripts = jest.spyOn(redis, 'runScript');
    // 30 callers, 4 requests each, all arriving in the same turn of the event loop.
    const callers = Array.from({ length: 30 }, (_, i) => `caller-${i}`);
    const decisions = await Promise.all(
      callers.flatMap((caller) =>
        Array.from({ length: 4 }, () =>
          Promise.resolve(limiter.consume('principal', caller)).then((d) => ({ caller, d })),
        ),
      ),
    );
    for (const caller of callers) {
      const mine = decisions.filter((x) => x.caller === caller).map((x) => x.d);
      expect(mine.filter((d) => d.allowed)).toHaveLength(3);
      expect(mine.filter((d) => !d.allowed).every((d) => d.retryAfterMs > 0 && d.shared)).toBe(true);
    }
    // Grant by grant: the first requests, the ones that queued behind them, the refusals. One call each
    // for all 30 callers, not 30 (one script call per caller and grant took 90 here).
    expect(scripts.mock.calls.length).toBeLessThanOrEqual(4);
  });

  it('confines a failing bucket to its caller: the others of the same script call are decided by Redis', async () => {
    const { limiter, redis } = await replicaWithRedis(
      configOf(sharedEnv({ RATE_LIMIT_BURST: '3', RATE_LIMIT_PER_MINUTE: '1' })),
    );
    // Mallory's bucket key holds a string: HMGET on it fails with WRONGTYPE inside the script.
    const badKey = redis.taggedKey('ratelimit', '{principal:mallory}');
    await redis.set(badKey, 'not a hash', { ttlMs: 60_000 });
    const scripts = jest.spyOn(redis, 'runScript');
    const [mallory, nina, oscar] = await Promise.all(
      ['mallory', 'nina', 'oscar'].map((caller) => Promise.resolve(limiter.consume('principal', caller))),
    );
    // One script call for the three callers (the same batch).
    expect(scripts).toHaveBeenCalledTimes(1);
    // The failing bucket falls back to this replica's memory; the others were granted by the shared bucket.
    expect(mallory).toMatchObject({ allowed: true, shared: false });
    expect(nina).toMatchObject({ allowed: true, shared: true });
    expect(oscar).toMatchObject({ allowed: true, shared: true });
    expect(await redis.hashGetAll(redis.taggedKey('ratelimit', '{principal:nina}'))).toHaveProperty('tokens');
    // The failing bucket's key was left as it was.
    expect(await redis.get(badKey)).toBe('not a hash');
  });

  it('warns once, not per request, while one bucket keeps failing among healthy ones', async () => {
    const { limiter, redis } = await replicaWithRedis(
      configOf(sharedEnv({ RATE_LIMIT_BURST: '1000', RATE_LIMIT_SHARE_MAX: '1' })),
    );
    await redis.set(redis.taggedKey('ratelimit', '{principal:trudy}'), 'not a hash', { ttlMs: 60_000 });
    const warnings = jest.spyOn(Logger.prototype, 'warn');
    for (let i = 0; i < 6; i += 1) {
      // Each asks Redis (a share of one token): trudy's grant fails every time, uma's succeeds between.
      expect(await limiter.consume('principal', 'trudy')).toMatchObject({ allowed: true, shared: false });
      expect(await limiter.consume('principal', 'uma')).toMatchObject({ allowed: true, shared: true });
    }
    const fallbacks = warnings.mock.calls.filter(([message]) =>
      String(message).includes('limiting per replica'),
    );
    warnings.mockRestore();
    expect(fallbacks).toHaveLength(1);
  });

  it('asks Redis once per request with RATE_LIMIT_SHARE_MAX=1', async () => {
    const { limiter, redis } = await replicaWithRedis(
      configOf(sharedEnv({ RATE_LIMIT_BURST: '10000', RATE_LIMIT_SHARE_MAX: '1' })),
    );
    const scripts = jest.spyOn(redis, 'runScript');
    await drain(limiter, 'kim', 10);
    expect(scripts).toHaveBeenCalledTimes(10);
  });

  it('falls back to per-replica memory when Redis is unreachable, without failing requests', async () => {
    // A port nothing listens on: Redis is configured but down.
    const limiter = await replica(
      configOf({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_CONNECT_TIMEOUT_MS: '50' }),
    );
    const decisions = await drain(limiter, 'erin', 4);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions.every((d) => !d.shared)).toBe(true);
  });

  it('does nothing when disabled', async () => {
    const limiter = await replica(configOf({ RATE_LIMIT_ENABLED: 'false' }));
    for (let i = 0; i < 10; i += 1) await limiter.assertWithinLimit('principal', 'frank');
  });
});
