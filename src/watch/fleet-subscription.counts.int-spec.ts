import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { ErrorCode, type GatewayError } from '../common/errors';
import { loadConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { eventually, holdsFor } from '../../test/support/eventually';
import { FleetSubscriptionCounts } from './fleet-subscription.counts';
import { SubscriptionLimiter } from './subscription.limiter';

/**
 * The fleet-wide part of the subscription limit against a real Redis (each test its own key prefix):
 * several `FleetSubscriptionCounts` with their own replica ids are several replicas.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

let admin: Redis;
const opened: { close(): Promise<unknown> }[] = [];

async function redisService(prefix: string | null): Promise<RedisService> {
  const config = loadConfig({
    ...(prefix ? { REDIS_URL, REDIS_KEY_PREFIX: prefix } : {}),
    LOG_LEVEL: 'silent',
  });
  const redis = new RedisService(config);
  await redis.onModuleInit();
  opened.push({ close: () => redis.onApplicationShutdown() });
  return redis;
}

function counts(
  redis: RedisService,
  replicaId: string = randomUUID(),
  ttlMs?: number,
): FleetSubscriptionCounts {
  const fleet = new FleetSubscriptionCounts(redis, replicaId, ttlMs);
  opened.unshift({ close: () => fleet.close() }); // before the Redis connections close
  return fleet;
}

beforeAll(() => {
  Logger.overrideLogger(false);
  admin = new Redis(REDIS_URL);
});

afterEach(async () => {
  for (const o of opened.splice(0)) await o.close();
});

afterAll(async () => {
  await admin.quit();
});

describe('FleetSubscriptionCounts', () => {
  it('writes the lower counts of one turn once, with the count at that moment, and deletes at zero', async () => {
    const prefix = `test:${randomUUID()}:`;
    const redis = await redisService(prefix);
    const a = counts(redis, 'replica-a');
    expect(await a.write('alice', 500)).toBe(500);
    const scripts = jest.spyOn(redis, 'runScript');
    // An execution ends: its 500 subscribers of one client are released in one burst.
    for (let left = 499; left >= 0; left--) a.lower('alice', left);
    await eventually(async () => (await admin.exists(a.keyOf('alice'))) === 0);
    expect(scripts).toHaveBeenCalledTimes(1);
    await eventually(() => a.trackedClients === 0);
    scripts.mockRestore();

    expect(await a.write('bob', 3)).toBe(3);
    a.lower('bob', 2);
    await eventually(async () => (await admin.hget(a.keyOf('bob'), 'replica-a'))?.startsWith('2:') === true);
  });

  it("sums every replica's count of a client, per client, and deletes a replica's field at zero", async () => {
    const prefix = `test:${randomUUID()}:`;
    const redis = await redisService(prefix);
    const a = counts(redis, 'replica-a');
    const b = counts(redis, 'replica-b');

    expect(await a.write('alice', 2)).toBe(2);
    expect(await b.write('alice', 1)).toBe(3);
    expect(await b.write('bob', 1)).toBe(1); // another client, another hash
    const key = a.keyOf('alice');
    expect(key).toBe(`${prefix}watch-subs:{client:alice}`);
    const fields = await admin.hgetall(key);
    expect(Object.keys(fields).sort()).toEqual(['replica-a', 'replica-b']);
    expect(fields['replica-a']).toMatch(/^2:\d{13}$/);
    // The expiry is the server's now + TTL (30 s by default).
    const [seconds] = await admin.time();
    const expiresAt = Number(fields['replica-a'].split(':')[1]);
    expect(expiresAt - Number(seconds) * 1000).toBeGreaterThan(25_000);
    expect(expiresAt - Number(seconds) * 1000).toBeLessThanOrEqual(31_000);
    expect(await admin.pttl(key)).toBeGreaterThan(25_000);

    expect(await a.write('alice', 0)).toBe(1);
    expect(await admin.hkeys(key)).toEqual(['replica-b']);
    expect(a.trackedClients).toBe(0);
    expect(await b.write('alice', 0)).toBe(0);
    expect(await admin.exists(key)).toBe(0); // the last field gone, the hash is gone
  });

  it("ignores and removes a dead replica's expired field", async () => {
    const prefix = `test:${randomUUID()}:`;
    const redis = await redisService(prefix);
    const live = counts(redis, 'live');
    const key = live.keyOf('alice');
    const [seconds] = await admin.time();
    const nowMs = Number(seconds) * 1000;
    await admin.hset(
      key,
      'dead',
      `5:${nowMs - 1_000}`,
      'garbage',
      'not-a-count',
      'other',
      `2:${nowMs + 60_000}`,
    );

    expect(await live.write('alice', 1)).toBe(3); // 1 (live) + 2 (other, not expired); 5 (dead) ignored
    expect((await admin.hkeys(key)).sort()).toEqual(['live', 'other']);
  });

  it("the heartbeat keeps a live replica's field from expiring; close() deletes it; a crashed replica's field expires", async () => {
    const prefix = `test:${randomUUID()}:`;
    const redis = await redisService(prefix);
    const live = counts(redis, 'live', 300);
    const key = live.keyOf('alice');
    expect(await live.write('alice', 2)).toBe(2);
    // A replica that crashed right after its last write (same TTL).
    const [seconds, micros] = await admin.time();
    await admin.hset(key, 'crashed', `1:${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) + 300}`);
    expect(await live.write('alice', 2)).toBe(3);

    // Three TTLs without a write from the test: the heartbeat keeps the live field.
    await holdsFor(async () => expect(await admin.hget(key, 'live')).toMatch(/^2:/), 900, { intervalMs: 50 });
    expect(await live.write('alice', 2)).toBe(2); // the crashed replica's count no longer counts
    expect(await admin.hkeys(key)).toEqual(['live']);

    await live.close();
    expect(await admin.exists(key)).toBe(0);
    expect(await live.write('alice', 1)).toBeNull(); // closed: writes nothing
    expect(await admin.exists(key)).toBe(0);
  });

  it('without Redis, or while it is away, answers null; once Redis is back the heartbeat publishes the count', async () => {
    const none = counts(await redisService(null));
    expect(await none.write('alice', 1)).toBeNull();

    const prefix = `test:${randomUUID()}:`;
    const redis = await redisService(prefix);
    const fleet = counts(redis, 'r', 150);
    const available = jest.spyOn(redis, 'available', 'get').mockReturnValue(false);
    expect(await fleet.write('alice', 3)).toBeNull();
    const key = fleet.keyOf('alice');
    await holdsFor(async () => expect(await admin.exists(key)).toBe(0), 200);
    available.mockRestore();
    await eventually(async () => (await admin.hget(key, 'r'))?.startsWith('3:') === true);
  });
});

describe('SubscriptionLimiter across replicas', () => {
  it('refuses (through onRefused, releasing the slot) the subscription that takes a client over the fleet-wide limit', async () => {
    const prefix = `test:${randomUUID()}:`;
    const redis = await redisService(prefix);
    const a = new SubscriptionLimiter(100, 3, counts(redis, 'a'));
    const b = new SubscriptionLimiter(100, 3, counts(redis, 'b'));
    const refusals: GatewayError[] = [];
    const onRefused = (error: GatewayError) => refusals.push(error);

    const a1 = a.acquire({ clientKey: 'alice' }, onRefused);
    a.acquire({ clientKey: 'alice' }, onRefused);
    b.acquire({ clientKey: 'alice' }, onRefused);
    b.acquire({ clientKey: 'bob' }, onRefused); // another client is not affected
    await eventually(async () =>
      expect(await admin.hget(`${prefix}watch-subs:{client:alice}`, 'b')).toMatch(/^1:/),
    );
    await holdsFor(() => expect(refusals).toEqual([]), 100);
    expect([a.size, b.size]).toEqual([2, 2]);

    // The local check passes on B (2 < 3), the fleet's does not (4 > 3).
    b.acquire({ clientKey: 'alice' }, onRefused);
    expect(b.size).toBe(3);
    await eventually(() => refusals.length === 1);
    expect(refusals[0]).toMatchObject({
      code: ErrorCode.RATE_LIMITED,
      message: 'Too many subscriptions for this client (at most 3)',
      details: { limit: 3 },
    });
    expect(b.size).toBe(2); // the refused slot was released

    a1();
    await eventually(async () =>
      expect(await admin.hget(`${prefix}watch-subs:{client:alice}`, 'a')).toMatch(/^1:/),
    );
    const b2 = b.acquire({ clientKey: 'alice' }, onRefused);
    await holdsFor(() => expect(refusals).toHaveLength(1), 100);
    expect(b.size).toBe(3);
    b2();
  });

  it('a release before the answer came back is not refused again', async () => {
    const prefix = `test:${randomUUID()}:`;
    const redis = await redisService(prefix);
    const other = counts(redis, 'other');
    await other.write('alice', 5); // the fleet is full already
    const limiter = new SubscriptionLimiter(100, 3, counts(redis, 'me'));
    const onRefused = jest.fn();
    const release = limiter.acquire({ clientKey: 'alice' }, onRefused);
    release();
    await holdsFor(() => expect(onRefused).not.toHaveBeenCalled(), 100);
    await eventually(async () =>
      expect(await admin.hkeys(`${prefix}watch-subs:{client:alice}`)).toEqual(['other']),
    );
    expect(limiter.trackedKeys).toBe(0);
  });
});
