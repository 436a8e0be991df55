import { Module } from '@nestjs/common';
import { PROJECT_DIRECTORY } from '../auth/project-directory';
import { CacheModule } from '../cache/cache.module';
import { CacheAdminController } from './cache-admin.controller';
import { CacheAdminResolver } from './cache-admin.resolver';
import { ProjectsController } from './projects.controller';
import { ProjectsResolver } from './projects.resolver';
import { ProjectsService } from './projects.service';

@Module({
  imports: [CacheModule],
  providers: [
    ProjectsService,
    ProjectsResolver,
    CacheAdminResolver,
    // The auth guard checks project ids against it: a missing project answers like a hidden one.
    { provide: PROJECT_DIRECTORY, useExisting: ProjectsService },
  ],
  controllers: [ProjectsController, CacheAdminController],
  exports: [ProjectsService],
})
export class ProjectsModule {}
