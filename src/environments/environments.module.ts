import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { EnvironmentsController } from './environments.controller';
import { ProjectEnvironmentsResolver } from './environments.resolver';
import { EnvironmentsService } from './environments.service';
import { RunnersController } from './runners.controller';
import { EnvironmentRunnersResolver, RunnerFieldsResolver } from './runners.resolver';
import { RunnersService } from './runners.service';

@Module({
  imports: [CacheModule],
  providers: [
    EnvironmentsService,
    RunnersService,
    ProjectEnvironmentsResolver,
    EnvironmentRunnersResolver,
    RunnerFieldsResolver,
  ],
  controllers: [EnvironmentsController, RunnersController],
  exports: [EnvironmentsService, RunnersService],
})
export class EnvironmentsModule {}
