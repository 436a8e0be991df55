import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { EnvironmentsController } from './environments.controller';
import { ProjectEnvironmentsResolver } from './environments.resolver';
import { EnvironmentsService } from './environments.service';

@Module({
  imports: [CacheModule],
  providers: [EnvironmentsService, ProjectEnvironmentsResolver],
  controllers: [EnvironmentsController],
  exports: [EnvironmentsService],
})
export class EnvironmentsModule {}
