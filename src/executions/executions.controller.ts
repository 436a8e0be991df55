import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AccessPolicy } from '../auth/access-policy';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import type { Principal } from '../auth/principal';
import { RequireScope } from '../auth/require-scope.decorator';
import { maiaRoutes } from '../common/http/maia-routes';
import { PageQueryDto } from '../common/http/page-query.dto';
import { DEFAULT_PAGE_SIZE, mapPage } from '../common/http/pagination';
import { RestOperation } from '../common/http/rest-operation.decorator';
import { CANCEL_BODY_EXAMPLE, EXECUTE_BODY_EXAMPLE } from '../common/http/sandbox-examples';
import { ProjectParamsDto } from '../environments/dto/environment.dto';
import type { ExecutionStatus } from '../maia/maia.types';
import { checkIdempotencyKeyHeader } from './dto/execution-limits';
import {
  CancelExecutionBodyDto,
  ExecutePipelineBodyDto,
  ExecutePipelineResponseDto,
  ExecutionDto,
  ExecutionListDto,
  ExecutionParamsDto,
  ExecutionStatusDto,
  ListExecutionsQueryDto,
  StepPageDto,
} from './dto/execution-rest.dto';
import { WaitSecondsQueryDto } from './dto/wait-seconds.query';
import { toExecutionDto, toStepDto } from './execution.mapper';
import { ExecutionWatchPort } from './execution-watch.port';
import { ExecutionsService } from './executions.service';

export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

/** Maia's execution routes under the project, same paths, bodies and shapes. */
@ApiTags('pipeline executions')
@Controller(maiaRoutes('projects/:projectId/pipeline-executions'))
export class ProjectExecutionsController {
  constructor(
    private readonly executions: ExecutionsService,
    private readonly watch: ExecutionWatchPort,
  ) {}

  @Post()
  @HttpCode(201)
  @RequireScope('execute')
  @RestOperation('executePipeline', {
    summary: 'Execute a published pipeline (as Maia POST /v1/projects/{projectId}/pipeline-executions)',
    errors: [400, 404, 409, 410, 413, 415],
  })
  @ApiBody({ type: ExecutePipelineBodyDto, examples: { sandbox: { value: EXECUTE_BODY_EXAMPLE } } })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Repeats within 24 h answer the first run (header Idempotent-Replayed: true) instead of a new one.',
  })
  @ApiCreatedResponse({ type: ExecutePipelineResponseDto })
  async execute(
    @Param() { projectId }: ProjectParamsDto,
    @Body() body: ExecutePipelineBodyDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ExecutePipelineResponseDto> {
    checkIdempotencyKeyHeader(idempotencyKey);
    const { pipelineExecutionId, replayed } = await this.executions.execute(
      projectId,
      { ...body },
      idempotencyKey,
    );
    if (replayed) void reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
    return { pipelineExecutionId };
  }

  @Get(':pipelineExecutionId')
  @RequireScope('read')
  @RestOperation('getPipelineExecution', {
    summary: 'An execution, read from Maia now (flat, as Maia documents it)',
    errors: [400, 404],
  })
  @ApiOkResponse({ type: ExecutionDto })
  async get(
    @Param() { projectId, pipelineExecutionId }: ExecutionParamsDto,
    @Query() { waitSeconds }: WaitSecondsQueryDto,
    @Req() request: FastifyRequest,
  ): Promise<ExecutionDto> {
    // waitSeconds: a long-poll on the shared poller of the watch wing.
    const waited = await this.watch.waitForExecution(request, projectId, pipelineExecutionId, waitSeconds);
    return toExecutionDto(waited ?? (await this.executions.get(projectId, pipelineExecutionId)));
  }

  @Get(':pipelineExecutionId/status')
  @RequireScope('read')
  @RestOperation('getExecutionStatusOnly', {
    summary:
      'The status of an execution, the light call for polling (as Maia …/pipeline-executions/{id}/status)',
    errors: [400, 404],
  })
  @ApiOkResponse({ type: ExecutionStatusDto })
  async status(@Param() { projectId, pipelineExecutionId }: ExecutionParamsDto): Promise<ExecutionStatusDto> {
    const { status, rawStatus } = await this.executions.status(projectId, pipelineExecutionId);
    return { status: rawStatus || status };
  }

  @Get(':pipelineExecutionId/steps')
  @RequireScope('read')
  @RestOperation('getPipelineExecutionSteps', {
    summary: 'The steps of an execution (as Maia …/pipeline-executions/{id}/steps)',
    errors: [400, 404],
  })
  @ApiOkResponse({ type: StepPageDto })
  async steps(
    @Param() { projectId, pipelineExecutionId }: ExecutionParamsDto,
    @Query() query: PageQueryDto,
  ): Promise<StepPageDto> {
    const page = await this.executions.steps(
      projectId,
      pipelineExecutionId,
      query.page ?? 0,
      query.size ?? DEFAULT_PAGE_SIZE,
    );
    return mapPage(page, toStepDto);
  }

  @Patch(':pipelineExecutionId')
  @RequireScope('cancel')
  @RestOperation('cancelPipelineExecution', {
    summary: 'Cancel an execution: body {"status": "CANCELLED", "forceUpdate": false}',
    description:
      "The example's run has finished, so it answers 409 ALREADY_FINISHED: cancel a run you started.",
    errors: [400, 404, 409, 413, 415],
  })
  @ApiBody({ type: CancelExecutionBodyDto, examples: { sandbox: { value: CANCEL_BODY_EXAMPLE } } })
  @ApiOkResponse({ type: ExecutePipelineResponseDto })
  cancel(
    @Param() { projectId, pipelineExecutionId }: ExecutionParamsDto,
    @Body() body: CancelExecutionBodyDto,
  ): Promise<ExecutePipelineResponseDto> {
    return this.executions.cancel(projectId, pipelineExecutionId, body.forceUpdate ?? false);
  }
}

@ApiTags('pipeline executions')
@Controller(maiaRoutes('pipeline-executions'))
export class ExecutionsController {
  constructor(
    private readonly executions: ExecutionsService,
    private readonly access: AccessPolicy,
  ) {}

  @Get()
  @RequireScope('read')
  @RestOperation('listPipelineExecutions', {
    summary: 'List executions, newest first, with token paging (as Maia GET /v1/pipeline-executions)',
    errors: [400],
  })
  @ApiOkResponse({ type: ExecutionListDto })
  async list(
    @Query() query: ListExecutionsQueryDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ExecutionListDto> {
    // Without a projectId (checked by the guard when given), only the caller's projects are listed.
    const scoped = this.access.restrictExecutionQuery(principal, query);
    if (scoped.nothingVisible) return { results: [] };
    const page = await this.executions.list({
      ...scoped.filter,
      status: query.status as ExecutionStatus[] | undefined,
      // Maia's own default (25) applies when the caller gives none: nothing is added on its behalf.
      limit: query.limit,
    });
    return {
      results: page.results.filter((e) => scoped.visible(e)).map(toExecutionDto),
      ...(page.more ? { more: page.more } : {}),
    };
  }
}
