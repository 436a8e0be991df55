import { Global, Module } from '@nestjs/common';
import { ExecutionWatchPort } from '../executions/execution-watch.port';
import { ExecutionEventsController } from './execution-events.controller';
import { ExecutionWatchResolver } from './execution-watch.resolver';
import { ExecutionWatchService } from './execution-watch.service';

/**
 * The watch wing: live execution status (one shared poller per execution across replicas) and its
 * transports (graphql-ws, SSE, the `waitSeconds` long-poll). Global so that executions reaches it only
 * through `ExecutionWatchPort`, which it declares itself, and never imports this module.
 */
@Global()
@Module({
  providers: [
    ExecutionWatchService,
    ExecutionWatchResolver,
    { provide: ExecutionWatchPort, useExisting: ExecutionWatchService },
  ],
  controllers: [ExecutionEventsController],
  exports: [ExecutionWatchService, ExecutionWatchPort],
})
export class WatchModule {}
