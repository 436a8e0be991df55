import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { EdgeReadsModule } from '../common/http/edge-reads.module';
import { GraphqlLaneModule } from '../graphql/lane/query-lane.module';
import { HotReadCache } from './hot-read-cache';

/** The whole-answer cache in front of the HTTP server (see hot-read-cache.ts); off when its TTL is 0. */
@Module({
  // After the edge read front and the GraphQL query lane: the whole-answer front is installed around them
  // (it keeps the edge's answers; the lane uses the GraphQL body it read).
  imports: [CacheModule, EdgeReadsModule, GraphqlLaneModule],
  providers: [HotReadCache],
})
export class HotReadModule {}
