import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { PipelinesController } from './pipelines.controller';
import { EnvironmentPipelinesResolver, ProjectPipelinesResolver } from './pipelines.resolver';
import { PipelinesService } from './pipelines.service';

@Module({
  imports: [CacheModule],
  providers: [PipelinesService, ProjectPipelinesResolver, EnvironmentPipelinesResolver],
  controllers: [PipelinesController],
  exports: [PipelinesService],
})
export class PipelinesModule {}
