import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator';
import { maiaRoutes } from '../common/http/maia-routes';
import { PageQueryDto } from '../common/http/page-query.dto';
import { DEFAULT_PAGE_SIZE, mapPage } from '../common/http/pagination';
import { RestOperation } from '../common/http/rest-operation.decorator';
import { WholeAnswerCacheable } from '../hot-read/whole-answer-cacheable.decorator';
import { EnvironmentPageDto, ProjectParamsDto } from './dto/environment.dto';
import { toEnvironmentDto } from './environment.mapper';
import { EnvironmentsService } from './environments.service';

@ApiTags('environments')
@Controller(maiaRoutes('projects/:projectId/environments'))
export class EnvironmentsController {
  constructor(private readonly environments: EnvironmentsService) {}

  @Get()
  @RequireScope('read')
  @WholeAnswerCacheable()
  @RestOperation('listEnvironments', {
    summary: 'List the environments of a project (as Maia GET /v1/projects/{projectId}/environments)',
    errors: [400, 404],
  })
  @ApiOkResponse({ type: EnvironmentPageDto })
  async list(
    @Param() { projectId }: ProjectParamsDto,
    @Query() query: PageQueryDto,
  ): Promise<EnvironmentPageDto> {
    const page = await this.environments.listPage(
      projectId,
      query.page ?? 0,
      query.size ?? DEFAULT_PAGE_SIZE,
    );
    return mapPage(page, toEnvironmentDto);
  }
}
