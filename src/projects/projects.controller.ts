import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import type { Principal } from '../auth/principal';
import { RequireScope } from '../auth/require-scope.decorator';
import { EdgeRead } from '../common/http/edge-read.decorator';
import { maiaRoutes } from '../common/http/maia-routes';
import { PageQueryDto } from '../common/http/page-query.dto';
import { DEFAULT_PAGE_SIZE, mapPage } from '../common/http/pagination';
import { RestOperation } from '../common/http/rest-operation.decorator';
import { WholeAnswerCacheable } from '../hot-read/whole-answer-cacheable.decorator';
import { ProjectPageDto } from './dto/project.dto';
import { toProjectDto } from './project.mapper';
import { ProjectsService } from './projects.service';

@ApiTags('projects')
@Controller(maiaRoutes('projects'))
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Get()
  @RequireScope('read')
  @WholeAnswerCacheable()
  @EdgeRead()
  @RestOperation('listProjects', { summary: 'List projects (as Maia GET /v1/projects)', errors: [400] })
  @ApiOkResponse({ type: ProjectPageDto })
  async list(
    @Query() query: PageQueryDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ProjectPageDto> {
    const page = await this.projects.listPage(query.page ?? 0, query.size ?? DEFAULT_PAGE_SIZE, principal);
    return mapPage(page, toProjectDto);
  }
}
