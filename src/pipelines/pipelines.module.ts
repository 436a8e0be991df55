import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { PipelinesController } from './pipelines.controller';
import { EnvironmentPipelinesResolver, ProjectPipelinesResolver } from './pipelines.resolver';
import { PipelinesService } from './pipelines.service';
import { PublishedVersionsController } from './published-versions.controller';
import {
  EnvironmentVersionsResolver,
  PublishedPipelineVersionsResolver,
} from './published-versions.resolver';
import { PublishedVersionsService } from './published-versions.service';

@Module({
  imports: [CacheModule],
  providers: [
    PipelinesService,
    PublishedVersionsService,
    ProjectPipelinesResolver,
    EnvironmentPipelinesResolver,
    EnvironmentVersionsResolver,
    PublishedPipelineVersionsResolver,
  ],
  controllers: [PipelinesController, PublishedVersionsController],
  exports: [PipelinesService, PublishedVersionsService],
})
export class PipelinesModule {}
