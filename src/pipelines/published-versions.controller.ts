import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator';
import { maiaRoutes } from '../common/http/maia-routes';
import { DEFAULT_PAGE_SIZE, mapPage } from '../common/http/pagination';
import { RestOperation } from '../common/http/rest-operation.decorator';
import { ProjectParamsDto } from '../environments/dto/environment.dto';
import { WholeAnswerCacheable } from '../hot-read/whole-answer-cacheable.decorator';
import {
  ArtifactDetailsDto,
  ArtifactDetailsQueryDto,
  ArtifactPageDto,
  ArtifactsQueryDto,
} from './dto/published-version.dto';
import { toArtifactDetailsDto, toArtifactDto } from './pipeline.mapper';
import { PublishedVersionsService } from './published-versions.service';

@ApiTags('published versions')
@Controller(maiaRoutes('projects/:projectId/artifacts'))
export class PublishedVersionsController {
  constructor(private readonly versions: PublishedVersionsService) {}

  @Get()
  @RequireScope('read')
  @WholeAnswerCacheable()
  @RestOperation('listArtifacts', {
    summary:
      'List the published versions (artifacts) of a project (as Maia GET /v1/projects/{projectId}/artifacts): the values execute takes as versionName',
    errors: [400, 404],
  })
  @ApiOkResponse({ type: ArtifactPageDto })
  async list(
    @Param() { projectId }: ProjectParamsDto,
    @Query() query: ArtifactsQueryDto,
  ): Promise<ArtifactPageDto> {
    const key = { projectId, environmentName: query.environmentName };
    const page = await this.versions.listPage(key, query.page ?? 0, query.size ?? DEFAULT_PAGE_SIZE);
    return mapPage(page, toArtifactDto);
  }

  @Get('details')
  @RequireScope('read')
  @WholeAnswerCacheable()
  @RestOperation('getArtifactDetails', {
    summary:
      'One published version of an environment and the pipelines it holds (as Maia GET /v1/projects/{projectId}/artifacts/details)',
    errors: [400, 404],
  })
  @ApiOkResponse({ type: ArtifactDetailsDto })
  async details(
    @Param() { projectId }: ProjectParamsDto,
    @Query() { environmentName, versionName }: ArtifactDetailsQueryDto,
  ): Promise<ArtifactDetailsDto> {
    return toArtifactDetailsDto(await this.versions.details(projectId, environmentName, versionName));
  }
}
