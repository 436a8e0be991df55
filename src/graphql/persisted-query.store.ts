import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import { Logger } from '@nestjs/common';
import type { RedisService } from '../redis';

/**
 * Apollo's automatic-persisted-query store over the gateway's one Redis door, so every replica knows a
 * document registered on any of them. Apollo prefixes the keys (`apq:<sha256>`); each key stands alone, so
 * on a cluster it spreads by its own slot. Redis failing is a miss (the client sends the document again
 * and it runs), and a failed write is only logged: a persisted query is an optimisation, never a
 * dependency.
 */
export class PersistedQueryStore implements KeyValueCache<string> {
  private readonly logger = new Logger('PersistedQueryStore');

  constructor(private readonly redis: RedisService) {}

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.redis.get(this.redis.taggedKey('graphql', key))) ?? undefined;
    } catch (error) {
      this.logger.warn(`Persisted query lookup failed: ${(error as Error).message}`);
      return undefined;
    }
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    const ttlSeconds = options?.ttl ?? undefined;
    try {
      await this.redis.set(this.redis.taggedKey('graphql', key), value, {
        ttlMs: ttlSeconds ? ttlSeconds * 1_000 : undefined,
      });
    } catch (error) {
      this.logger.warn(`Persisted query not stored: ${(error as Error).message}`);
    }
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.delete(this.redis.taggedKey('graphql', key))) > 0;
  }
}
