import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { loadConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { eventually } from '../../test/support/eventually';
import { startOwnRedis, type OwnRedis } from '../../test/support/own-redis';
import { StrictMaiaDouble } from '../../test/watch/support/strict-maia.double';
import { ExecutionWatchService } from './execution-watch.service';
import { type ExecutionWatchEvent } from './watch.types';
import { collect } from '../../test/watch/support/collect-stream';

/**
 * A subscriber's catch-up read (the topic's history and error marker) that times out because Redis is
 * slow (`REDIS_COMMAND_TIMEOUT_MS`, 500 ms by default) is tried again a bounded number of times; when Redis
 * stays away the stream ends with UNAVAILABLE and a retry hint, not INTERNAL. Redis is made slow for real
 * with CLIENT PAUSE, on a `redis-server` of this suite's own (pausing the shared one would stall every other
 * suite on the machine).
 */

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';

describe('a subscriber whose catch-up read times out (real Redis, CLIENT PAUSE)', () => {
  let own: OwnRedis;
  let url: string;
  let redis: RedisService | null = null;
  let watch: ExecutionWatchService | null = null;

  beforeAll(async () => {
    Logger.overrideLogger(false);
    own = await startOwnRedis();
    url = own.url;
  });

  afterEach(async () => {
    await own.admin.call('CLIENT', 'UNPAUSE');
    await watch?.onModuleDestroy();
    await redis?.onApplicationShutdown();
    watch = null;
    redis = null;
  });

  afterAll(async () => {
    await own.stop();
  });

  async function start(maia: StrictMaiaDouble): Promise<ExecutionWatchService> {
    const config = loadConfig({
      REDIS_URL: url,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      REDIS_COMMAND_TIMEOUT_MS: '500',
      LOG_LEVEL: 'silent',
      WATCH_MIN_INTERVAL_MS: '50',
      WATCH_MAX_INTERVAL_MS: '200',
      WATCH_LEASE_MS: '1000',
      WATCH_DETAILS_EVERY_POLLS: '1000',
    });
    redis = new RedisService(config);
    await redis.onModuleInit();
    watch = new ExecutionWatchService(maia, redis, config);
    return watch;
  }

  /** A first subscriber, caught up and seeing the run: the topic's channel is subscribed, its hub ready. */
  async function watchedRun(maia: StrictMaiaDouble, service: ExecutionWatchService) {
    const id = randomUUID();
    maia.addRun(PROJECT, id);
    const first: ExecutionWatchEvent[] = [];
    const firstDone = collect(service.watch(PROJECT, id), first);
    await eventually(() => expect(first.map((e) => e.execution.status)).toEqual(['RUNNING']), {
      timeoutMs: 10_000,
    });
    return { id, first, firstDone };
  }

  it('a pause shorter than the retries: the late subscriber catches up and sees the run to its end', async () => {
    const maia = new StrictMaiaDouble();
    const service = await start(maia);
    const { id, firstDone } = await watchedRun(maia, service);

    // Every command waits 900 ms: the catch-up's first read times out (500 ms), a later one is answered.
    await own.admin.call('CLIENT', 'PAUSE', '900', 'ALL');
    const late: ExecutionWatchEvent[] = [];
    const lateDone = collect(service.watch(PROJECT, id), late);
    await eventually(() => expect(late.map((e) => e.execution.status)).toEqual(['RUNNING']), {
      timeoutMs: 10_000,
    });
    maia.update(id, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    const [lateResult, firstResult] = await Promise.all([lateDone, firstDone]);
    expect(lateResult.error).toBeNull();
    expect(lateResult.events.map((e) => e.execution.status)).toEqual(['RUNNING', 'SUCCESS']);
    expect(firstResult.error).toBeNull();
  }, 30_000);

  it('Redis stays paused: the stream ends with UNAVAILABLE and a retry hint, not INTERNAL', async () => {
    const maia = new StrictMaiaDouble();
    const service = await start(maia);
    const { id } = await watchedRun(maia, service);

    await own.admin.call('CLIENT', 'PAUSE', '6000', 'ALL');
    const startedAt = Date.now();
    const { events, error } = await collect(service.watch(PROJECT, id));
    const endedAfterMs = Date.now() - startedAt;
    expect(events).toEqual([]);
    expect(error).toBeInstanceOf(GatewayError);
    const gatewayError = error as GatewayError;
    expect({ code: gatewayError.code, retryAfterSeconds: gatewayError.details.retryAfterSeconds }).toEqual({
      code: ErrorCode.UNAVAILABLE,
      retryAfterSeconds: expect.any(Number),
    });
    expect(gatewayError.message).not.toMatch(/redis|timed out|127\.0\.0\.1/i);
    // Bounded: a few timed-out reads and the waits between them, far less than the pause.
    expect(endedAfterMs).toBeLessThan(5_000);
  }, 30_000);
});
