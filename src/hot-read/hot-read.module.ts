import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { HotReadCache } from './hot-read-cache';

/** The whole-answer cache in front of the HTTP server (see hot-read-cache.ts); off when its TTL is 0. */
@Module({
  imports: [CacheModule],
  providers: [HotReadCache],
})
export class HotReadModule {}
