import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator';
import { maiaRoutes } from '../common/http/maia-routes';
import { DEFAULT_PAGE_SIZE, mapPage } from '../common/http/pagination';
import { RestOperation } from '../common/http/rest-operation.decorator';
import { ProjectParamsDto } from '../environments/dto/environment.dto';
import { WholeAnswerCacheable } from '../hot-read/whole-answer-cacheable.decorator';
import { PublishedPipelinePageDto, PublishedPipelinesQueryDto } from './dto/published-pipeline.dto';
import { toPublishedPipelineDto } from './pipeline.mapper';
import { PipelinesService } from './pipelines.service';

@ApiTags('published pipelines')
@Controller(maiaRoutes('projects/:projectId/published-pipelines'))
export class PipelinesController {
  constructor(private readonly pipelines: PipelinesService) {}

  @Get()
  @RequireScope('read')
  @WholeAnswerCacheable()
  @RestOperation('listPublishedPipelines', {
    summary:
      'List the published pipelines of a project (as Maia GET /v1/projects/{projectId}/published-pipelines)',
    errors: [400, 404],
  })
  @ApiOkResponse({ type: PublishedPipelinePageDto })
  async list(
    @Param() { projectId }: ProjectParamsDto,
    @Query() query: PublishedPipelinesQueryDto,
  ): Promise<PublishedPipelinePageDto> {
    const key = { projectId, environmentName: query.environmentName };
    const page = await this.pipelines.listPage(key, query.page ?? 0, query.size ?? DEFAULT_PAGE_SIZE);
    return mapPage(page, toPublishedPipelineDto);
  }
}
