import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ErrorCode, type GatewayError } from '../common/errors';
import { loadConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { eventually } from '../../test/support/eventually';
import { startOwnRedis, type OwnRedis } from '../../test/support/own-redis';
import { STANDALONE_REDIS_URL } from '../../test/support/redis-topologies';
import { RedisWatchStore } from './redis-watch.store';
import { TopicChannel } from './topic.channel';
import { encodeTopicMessage } from './topic.message';
import { type StoredEvent } from './watch.types';

/**
 * A channel that sees a gap in the sequence fills it from the history before delivering the event that
 * showed it. When that read fails (a Redis command timing out under load) it is tried again; when every try
 * failed, the listeners end with UNAVAILABLE, so a subscriber comes back and catches up from the history.
 * Before, the event that showed the gap was dropped: a run's final event could go unheard and its subscribers
 * wait for good. Pub/sub runs on the shared Redis; the history on a `redis-server` of this suite's own, made
 * slow for real with CLIENT PAUSE.
 */

describe('a topic channel filling a gap while the history read fails (real Redis, CLIENT PAUSE)', () => {
  let own: OwnRedis;
  const services: RedisService[] = [];
  const channels: TopicChannel[] = [];

  beforeAll(async () => {
    Logger.overrideLogger(false);
    own = await startOwnRedis();
  });

  afterEach(async () => {
    await own.admin.call('CLIENT', 'UNPAUSE');
    for (const channel of channels.splice(0)) {
      channel.close();
      await channel.leave();
    }
    for (const service of services.splice(0)) await service.onApplicationShutdown();
  });

  afterAll(async () => {
    await own.stop();
  });

  async function redisAt(url: string): Promise<RedisService> {
    const service = new RedisService(
      loadConfig({
        REDIS_URL: url,
        REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
        REDIS_COMMAND_TIMEOUT_MS: '500',
      }),
    );
    await service.onModuleInit();
    services.push(service);
    return service;
  }

  /** A channel with one listener, three events kept in the history, and the first one delivered. */
  async function channelWithGapAhead() {
    const pubsub = await redisAt(STANDALONE_REDIS_URL);
    const store = new RedisWatchStore(await redisAt(own.url));
    const topic = `exec:${randomUUID()}:${randomUUID()}`;
    const owner = randomUUID();
    expect(await store.acquireLease(topic, owner, 60_000)).toBe(true);
    const kept: StoredEvent[] = [];
    for (const status of ['QUEUED', 'RUNNING', 'SUCCESS']) {
      const event = await store.append(
        topic,
        owner,
        { at: new Date().toISOString(), kind: 'CHANGED', execution: { status } as never },
        { historySize: 10, ttlMs: 60_000, leaseMs: 60_000 },
      );
      kept.push(event!);
    }
    const heard: number[] = [];
    const errors: GatewayError[] = [];
    const channel = new TopicChannel(
      topic,
      {
        redis: pubsub,
        store,
        logger: new Logger('topic-channel-gap'),
        detached: (fn) => fn(),
        isFinal: (event) => event.execution.status === 'SUCCESS',
      },
      { finished: () => undefined, nudged: () => undefined, released: () => undefined },
    );
    channels.push(channel);
    channel.add({ onEvent: (event) => heard.push(event.sequence), onError: (error) => errors.push(error) });
    await channel.ready;
    const send = (event: StoredEvent) =>
      pubsub.publish(channel.name, encodeTopicMessage({ type: 'event', event }));
    await send(kept[0]);
    await eventually(() => expect(heard).toEqual([kept[0].sequence]));
    return { kept, heard, errors, send };
  }

  it('a pause shorter than the retries: the gap is filled and every event delivered once, in order', async () => {
    const { kept, heard, errors, send } = await channelWithGapAhead();
    // Every command of the history's server waits 900 ms: the first read times out (500 ms), a later one is answered.
    await own.admin.call('CLIENT', 'PAUSE', '900', 'ALL');
    await send(kept[2]);
    await eventually(() => expect(heard).toEqual(kept.map((e) => e.sequence)), { timeoutMs: 10_000 });
    expect(errors).toEqual([]);
  }, 20_000);

  it('the history stays away: the listener ends with UNAVAILABLE and a retry hint, not silence', async () => {
    const { kept, heard, errors, send } = await channelWithGapAhead();
    // Longer than the three tries (500 ms each) and the waits between them (200 and 800 ms).
    await own.admin.call('CLIENT', 'PAUSE', '4000', 'ALL');
    await send(kept[2]);
    await eventually(() => expect(errors).toHaveLength(1), { timeoutMs: 10_000 });
    expect(errors[0].code).toBe(ErrorCode.UNAVAILABLE);
    expect(errors[0].message).not.toMatch(/redis|127\.0\.0\.1/i);
    // Nothing delivered out of order: the missing event is not skipped without a word.
    expect(heard).toEqual([kept[0].sequence]);
  }, 20_000);
});
