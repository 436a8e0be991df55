import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../auth/require-scope.decorator';
import { maiaRoutes } from '../common/http/maia-routes';
import { PageQueryDto } from '../common/http/page-query.dto';
import { DEFAULT_PAGE_SIZE, mapPage } from '../common/http/pagination';
import { RestOperation } from '../common/http/rest-operation.decorator';
import { WholeAnswerCacheable } from '../hot-read/whole-answer-cacheable.decorator';
import { AgentPageDto } from './dto/agent.dto';
import { toAgentDto } from './environment.mapper';
import { RunnersService } from './runners.service';

@ApiTags('runners')
@Controller(maiaRoutes('agents'))
export class RunnersController {
  constructor(private readonly runners: RunnersService) {}

  @Get()
  @RequireScope('read')
  @WholeAnswerCacheable()
  @RestOperation('listAgents', {
    summary:
      "List the account's runners (as Maia GET /v1/agents): the values execute takes as agentId. Not scoped to a project.",
    errors: [400],
  })
  @ApiOkResponse({ type: AgentPageDto })
  async list(@Query() query: PageQueryDto): Promise<AgentPageDto> {
    const page = await this.runners.listPage(query.page ?? 0, query.size ?? DEFAULT_PAGE_SIZE);
    return mapPage(page, toAgentDto);
  }
}
