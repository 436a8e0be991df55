import { CacheModule as NestCacheModule } from '@nestjs/cache-manager';
import { Module } from '@nestjs/common';
import { Keyv } from 'keyv';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisService } from '../redis';
import { CACHE_KEY_VERSION, CACHE_SCHEMA_VERSION } from './cache.constants';
import { CacheKeys } from './cache.keys';
import { CacheService } from './cache.service';
import { LruStore } from './lru.store';
import { RedisKeyvStore } from './redis-keyv.store';

/**
 * The shared level as a Keyv instance: Redis through `RedisService` when configured, else a
 * bounded in-memory store (one replica). Keys arrive complete, so Keyv adds no namespace of its own.
 */
export function createSharedCacheStore(config: AppConfig, redis: RedisService): Keyv {
  const store = redis.enabled
    ? new RedisKeyvStore(redis, new CacheKeys(redis, CACHE_SCHEMA_VERSION).entriesPattern())
    : new LruStore<unknown>(Math.max(config.cache.l1MaxEntries, 1_000));
  const keyv = new Keyv({ store, namespace: undefined, useKeyPrefix: false, throwOnErrors: true });
  // Keyv emits store errors as events too; the cache service already handles them where they happen.
  keyv.on('error', () => undefined);
  return keyv;
}

/**
 * Caching of Maia lookups: `CacheService.getOrLoad` / `invalidate`. Built on `@nestjs/cache-manager`
 * (cache-manager 7 with a Keyv store over RedisService); see docs/adr/0003-caching.md.
 */
@Module({
  imports: [
    NestCacheModule.registerAsync({
      inject: [APP_CONFIG, RedisService],
      useFactory: (config: AppConfig, redis: RedisService) => ({
        stores: [createSharedCacheStore(config, redis)],
      }),
    }),
  ],
  providers: [CacheService, { provide: CACHE_KEY_VERSION, useValue: CACHE_SCHEMA_VERSION }],
  exports: [CacheService],
})
export class CacheModule {}
