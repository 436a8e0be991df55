import { randomUUID } from 'node:crypto';
import { eventually } from '../../test/support/eventually';
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

describe('RateLimiterService', () => {
  const redisServices: RedisService[] = [];
  afterAll(async () => {
    // Shutdown also stops a client still retrying an unreachable server (it disconnects, without QUIT).
    await Promise.all(redisServices.map((r) => r.onApplicationShutdown()));
  });

  async function replica(config: AppConfig): Promise<RateLimiterService> {
    const redis = new RedisService(config);
    redisServices.push(redis);
    await redis.onModuleInit();
    return new RateLimiterService(config, redis);
  }

  it('allows the burst, then refuses with RATE_LIMITED and a retry hint (in memory without Redis)', async () => {
    const limiter = await replica(configOf({}));
    const decisions = await drain(limiter, 'alice', 4);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(decisions.every((d) => !d.shared)).toBe(true);
    expect(decisions[3].retryAfterMs).toBeGreaterThan(0);
    expect(decisions[3].retryAfterMs).toBeLessThanOrEqual(1_000);
    const error = await limiter.assertWithinLimit('principal', 'alice').then(
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
    const env = { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: `test:${randomUUID()}:` };
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
