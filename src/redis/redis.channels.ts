import type { Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from './redis.connection';

export type MessageHandler = (message: string) => void;

/**
 * Pub/sub of one process: every channel's handlers multiplexed on one subscriber connection, opened on the
 * first subscription. Without Redis (no `publisher`) messages published here reach this process's handlers.
 */
export class RedisChannels {
  private subscriberConnection: RedisClient | null = null;
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  /** The first SUBSCRIBE of each channel, which later subscribers of that channel wait for too. */
  private readonly subscribing = new Map<string, Promise<void>>();

  constructor(
    private readonly publisher: RedisClient | null,
    private readonly openSubscriber: () => RedisClient,
    private readonly subscribeTimeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /** See `RedisService.subscribe`; `name` is the full channel name. */
  async subscribe(name: string, handler: MessageHandler): Promise<() => Promise<void>> {
    let set = this.handlers.get(name);
    if (!set) {
      set = new Set();
      this.handlers.set(name, set);
      if (this.publisher) this.subscribing.set(name, this.subscribeAtRedis(name));
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

  async publish(name: string, message: string): Promise<void> {
    if (this.publisher) await this.publisher.publish(name, message);
    else this.deliver(name, message);
  }

  get channelCount(): number {
    return this.handlers.size;
  }

  /** The subscriber connection, if one was opened (for the shutdown). */
  get connection(): RedisClient | null {
    return this.subscriberConnection;
  }

  /** A failed SUBSCRIBE (Redis away) keeps the handler registered; every channel is subscribed again on ready. */
  private async subscribeAtRedis(name: string): Promise<void> {
    const giveUp = new AbortController();
    const subscribed = this.subscriber()
      .subscribe(name)
      .then(() => true)
      .catch((error: Error) => {
        this.logger.warn(`Redis SUBSCRIBE ${name} failed (${error.message}); retried on reconnect`);
        return true;
      });
    const timedOut = sleep(this.subscribeTimeoutMs, false, { signal: giveUp.signal }).catch(() => false);
    if (!(await Promise.race([subscribed, timedOut]))) {
      this.logger.warn(`Redis SUBSCRIBE ${name} is slow; continuing, retried on reconnect`);
    }
    giveUp.abort();
  }

  private subscriber(): RedisClient {
    if (!this.subscriberConnection) {
      const connection = this.openSubscriber();
      this.subscriberConnection = connection;
      // ioredis re-subscribes only channels whose SUBSCRIBE succeeded; this covers the ones that failed.
      connection.on('ready', () => {
        const channels = [...this.handlers.keys()];
        if (channels.length > 0) connection.subscribe(...channels).catch(() => undefined);
      });
      connection.on('message', (channel: string, message: string) => this.deliver(channel, message));
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
}
