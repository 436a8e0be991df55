import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { EdgeReadsModule } from '../common/http/edge-reads.module';
import { HotReadCache } from './hot-read-cache';

/** The whole-answer cache in front of the HTTP server (see hot-read-cache.ts); off when its TTL is 0. */
@Module({
  // After the edge read front: the whole-answer front is installed around it, and keeps its answers.
  imports: [CacheModule, EdgeReadsModule],
  providers: [HotReadCache],
})
export class HotReadModule {}
