import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import type { Principal } from '../auth/principal';
import { RequireScope } from '../auth/require-scope.decorator';
import { EdgeRead } from '../common/http/edge-read.decorator';
import { maiaRoutes } from '../common/http/maia-routes';
import { PageQueryDto } from '../common/http/page-query.dto';
import { immutableAnswer } from '../common/http/immutable-answer';
import { DEFAULT_PAGE_SIZE, mapPage, type Page } from '../common/http/pagination';
import type { MaiaProject } from '../maia/maia.types';
import { RestOperation } from '../common/http/rest-operation.decorator';
import { WholeAnswerCacheable } from '../hot-read/whole-answer-cacheable.decorator';
import { ProjectPageDto } from './dto/project.dto';
import { toProjectDto } from './project.mapper';
import { ProjectsService } from './projects.service';

@ApiTags('projects')
@Controller(maiaRoutes('projects'))
export class ProjectsController {
  /** The answer of each cached page (weakly: forgotten with the entry). */
  private readonly answers = new WeakMap<Page<MaiaProject>, ProjectPageDto>();

  constructor(private readonly projects: ProjectsService) {}

  @Get()
  @RequireScope('read')
  @WholeAnswerCacheable()
  @EdgeRead()
  @RestOperation('listProjects', { summary: 'List projects (as Maia GET /v1/projects)', errors: [400] })
  @ApiOkResponse({ type: ProjectPageDto })
  list(
    @Query() query: PageQueryDto,
    @CurrentPrincipal() principal: Principal,
  ): ProjectPageDto | Promise<ProjectPageDto> {
    // No promise when the page is in this process's memory: the edge then answers within the request's turn.
    const page = this.projects.listPage(query.page ?? 0, query.size ?? DEFAULT_PAGE_SIZE, principal);
    return page instanceof Promise
      ? page.then((found) => answerOf(this.answers, found))
      : answerOf(this.answers, page);
  }
}

/**
 * The lookup cache's page is one frozen object per cached entry, shared by every reader: its answer is
 * built once per entry (kept in `answers`) and declared immutable, so the edge writes its JSON without
 * encoding it again. A caller limited to some projects gets a page cut for it alone (not frozen): mapped
 * per request. (A function, not a method: the controller's methods are its handlers.)
 */
function answerOf(
  answers: WeakMap<Page<MaiaProject>, ProjectPageDto>,
  page: Page<MaiaProject>,
): ProjectPageDto {
  if (!Object.isFrozen(page)) return mapPage(page, toProjectDto);
  let answer = answers.get(page);
  if (answer === undefined) {
    answer = immutableAnswer(mapPage(page, toProjectDto));
    answers.set(page, answer);
  }
  return answer;
}
