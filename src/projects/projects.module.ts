import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { CacheAdminController } from './cache-admin.controller';
import { CacheAdminResolver } from './cache-admin.resolver';
import { ProjectsController } from './projects.controller';
import { ProjectsResolver } from './projects.resolver';
import { ProjectsService } from './projects.service';

@Module({
  imports: [CacheModule],
  providers: [ProjectsService, ProjectsResolver, CacheAdminResolver],
  controllers: [ProjectsController, CacheAdminController],
  exports: [ProjectsService],
})
export class ProjectsModule {}
