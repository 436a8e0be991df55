import { randomUUID } from 'node:crypto';
import { eventually } from '../../test/support/eventually';
import { loadConfig } from '../config';
import { RedisLease } from './redis.lease';
import { RedisService } from './redis.service';

describe('RedisLease', () => {
  let redis: RedisService;
  let key: string;

  beforeAll(async () => {
    redis = new RedisService(
      loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: `test:${randomUUID()}:` }),
    );
    await redis.onModuleInit();
  });
  beforeEach(() => (key = redis.key('lease', randomUUID())));
  afterEach(() => redis.delete(key));
  afterAll(() => redis.onApplicationShutdown());

  it('is held by one owner at a time and names its holder', async () => {
    const [first, second] = [new RedisLease(redis, key, 'first'), new RedisLease(redis, key, 'second')];
    expect(await first.acquire(10_000)).toBe(true);
    expect(await second.acquire(10_000)).toBe(false);
    expect(await second.holder()).toBe('first');
  });

  it('is renewed and released only by its owner', async () => {
    const [owner, other] = [new RedisLease(redis, key, 'owner'), new RedisLease(redis, key, 'other')];
    await owner.acquire(1_000);
    expect(await other.renew(60_000)).toBe(false);
    expect(await redis.remainingTtlMs(key)).toBeLessThanOrEqual(1_000);
    expect(await owner.renew(60_000)).toBe(true);
    expect(await redis.remainingTtlMs(key)).toBeGreaterThan(1_000);
    expect(await other.release()).toBe(false);
    expect(await owner.holder()).toBe('owner');
    expect(await owner.release()).toBe(true);
    expect(await owner.holder()).toBeNull();
  });

  it('lapses when not renewed; the next owner takes it and the old one can neither renew nor release it', async () => {
    const [old, next] = [new RedisLease(redis, key, 'old'), new RedisLease(redis, key, 'next')];
    expect(await old.acquire(50)).toBe(true);
    await eventually(async () => expect(await next.acquire(10_000)).toBe(true));
    expect(await old.renew(10_000)).toBe(false);
    expect(await old.release()).toBe(false);
    expect(await next.holder()).toBe('next');
  });

  it('stays held past its TTL while kept renewed, and lapses once the renewals stop', async () => {
    const lease = new RedisLease(redis, key);
    await lease.acquire(400);
    const stop = lease.keepRenewed(400, 50);
    try {
      // Three TTLs later the lease is still this owner's.
      const until = Date.now() + 1_200;
      await eventually(async () => {
        expect(await lease.holder()).toBe(lease.owner);
        return Date.now() >= until;
      });
    } finally {
      stop();
    }
    await eventually(async () => expect(await lease.holder()).toBeNull());
  });
});
