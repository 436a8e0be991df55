import { Module } from '@nestjs/common';
import { IdempotencyModule } from '../idempotency/idempotency.module';
import { ProjectsModule } from '../projects/projects.module';
import {
  EnvironmentExecutionsResolver,
  PublishedPipelineExecutionsResolver,
} from './execution-history.resolver';
import { ExecutionLaunchController } from './execution-launch.controller';
import { ExecutionLaunchStore } from './execution-launch.store';
import { ExecutionTagsStore } from './execution-tags.store';
import { ExecutionsController, ProjectExecutionsController } from './executions.controller';
import {
  CancelPipelineExecutionPayloadResolver,
  ExecutePipelinePayloadResolver,
  ExecutionsResolver,
  ProjectExecutionsResolver,
} from './executions.resolver';
import { ExecutionsService } from './executions.service';

@Module({
  imports: [ProjectsModule, IdempotencyModule],
  providers: [
    ExecutionsService,
    ExecutionTagsStore,
    ExecutionLaunchStore,
    ExecutionsResolver,
    ExecutePipelinePayloadResolver,
    CancelPipelineExecutionPayloadResolver,
    ProjectExecutionsResolver,
    PublishedPipelineExecutionsResolver,
    EnvironmentExecutionsResolver,
  ],
  controllers: [ProjectExecutionsController, ExecutionsController, ExecutionLaunchController],
  exports: [ExecutionsService],
})
export class ExecutionsModule {}
