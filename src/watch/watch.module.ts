import { Module } from '@nestjs/common';
import { ExecutionEventsController } from './execution-events.controller';
import { ExecutionWatchResolver } from './execution-watch.resolver';
import { ExecutionWatchService } from './execution-watch.service';

/**
 * Live execution status: the shared poller (`ExecutionWatchService`, exported for execute/cancel/long-poll)
 * and its transports (graphql-ws subscriptions, SSE). Needs `MAIA_API`, `RedisService` and `APP_CONFIG`,
 * which are global.
 */
@Module({
  providers: [ExecutionWatchService, ExecutionWatchResolver],
  controllers: [ExecutionEventsController],
  exports: [ExecutionWatchService],
})
export class WatchModule {}
