import { Controller, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { RequireScope } from '../auth/require-scope.decorator';
import { GATEWAY_EXTENSIONS_TAG, GATEWAY_REST_PREFIX } from '../common/http/maia-routes';
import { RestOperation } from '../common/http/rest-operation.decorator';
import { checkIdempotencyKeyHeader } from './dto/execution-limits';
import { ExecutePipelineResponseDto, ExecutionParamsDto, LaunchDto } from './dto/execution-rest.dto';
import { toLaunchDto } from './execution.mapper';
import { IDEMPOTENT_REPLAYED_HEADER } from './executions.controller';
import { ExecutionsService, launchUnknown } from './executions.service';

/**
 * Gateway extensions beside Maia's execution routes (under `/api/v1` only: `/dpc/v1` stays Maia's, ADR
 * 0017): the launch parameters the gateway recorded for a run, and a re-run with the same parameters. Maia's
 * own execution read is left as Maia answers it.
 */
@ApiTags(GATEWAY_EXTENSIONS_TAG)
@Controller(`${GATEWAY_REST_PREFIX}/projects/:projectId/pipeline-executions`)
export class ExecutionLaunchController {
  constructor(private readonly executions: ExecutionsService) {}

  @Get(':pipelineExecutionId/launch')
  @RequireScope('read')
  @RestOperation('getPipelineExecutionLaunch', {
    summary:
      'Gateway extension: what the gateway sent Maia to start an execution (404 LAUNCH_UNKNOWN when it did not start it)',
    description:
      'The example run is from the seeded history, not launched through the gateway, so it answers 404 LAUNCH_UNKNOWN: use an id that executePipeline answered.',
    errors: [400, 404],
    upstream: false,
    extension: true,
  })
  @ApiOkResponse({ type: LaunchDto })
  async launch(@Param() { projectId, pipelineExecutionId }: ExecutionParamsDto): Promise<LaunchDto> {
    const launch = await this.executions.launchOf(projectId, pipelineExecutionId);
    if (!launch) throw launchUnknown(pipelineExecutionId);
    return toLaunchDto(pipelineExecutionId, launch);
  }

  @Post(':pipelineExecutionId/rerun')
  @HttpCode(201)
  @RequireScope('execute')
  @RestOperation('rerunPipelineExecution', {
    summary:
      'Gateway extension: start an execution again with the parameters the gateway sent for it (no body)',
    description:
      'Same pipeline, environment, version, runner, variables and tag as the launch the gateway recorded (GET …/launch). 404 LAUNCH_UNKNOWN when the gateway did not start that execution or no longer knows it: the example run is from the seeded history, so use an id that executePipeline answered.',
    errors: [400, 404, 409, 410],
    extension: true,
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Repeats within 24 h answer the first new run (header Idempotent-Replayed: true) instead of another one.',
  })
  @ApiCreatedResponse({ type: ExecutePipelineResponseDto })
  async rerun(
    @Param() { projectId, pipelineExecutionId }: ExecutionParamsDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ExecutePipelineResponseDto> {
    checkIdempotencyKeyHeader(idempotencyKey);
    const outcome = await this.executions.rerun(projectId, pipelineExecutionId, idempotencyKey);
    if (outcome.replayed) void reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
    return { pipelineExecutionId: outcome.pipelineExecutionId };
  }
}
