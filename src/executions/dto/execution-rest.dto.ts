import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsEnum,
  IsIn,
  IsInt,
  IsISO8601,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  MaxLength,
} from 'class-validator';
import { ClampedQueryInteger } from '../../common/http/page-query.dto';
import { SANDBOX_EXAMPLE } from '../../common/http/sandbox-examples';
import { IsSafeName } from '../../common/validation';
import { executionStatuses, executionTriggers } from '../../maia/maia.types';

/** Maia's statuses, one enum in the OpenAPI document (a status Maia adds later is passed on as Maia sent it). */
const STATUS = { enum: executionStatuses, enumName: 'ExecutionStatus', example: 'RUNNING' } as const;

export class ExecutionParamsDto {
  @ApiProperty({ format: 'uuid', example: SANDBOX_EXAMPLE.projectId })
  @IsUUID('all')
  projectId!: string;

  @ApiProperty({ format: 'uuid', example: SANDBOX_EXAMPLE.pipelineExecutionId })
  @IsUUID('all')
  pipelineExecutionId!: string;
}

/** Maia's execute body. Variables are objects, as in Maia: `{ name: value }` and `{ name: [[...], ...] }`. */
export class ExecutePipelineBodyDto {
  @ApiProperty({ example: 'FOLDER/load_orders.orch.yaml' })
  @IsSafeName()
  pipelineName!: string;

  @ApiProperty({ example: 'Dev' })
  @IsSafeName()
  environmentName!: string;

  @ApiPropertyOptional({ example: '1.1.0' })
  @IsOptional()
  @IsSafeName()
  versionName?: string;

  @ApiPropertyOptional({ format: 'uuid', example: SANDBOX_EXAMPLE.agentId })
  @IsOptional()
  @IsUUID('all')
  agentId?: string;

  @ApiPropertyOptional({ example: 'nightly-run' })
  @IsOptional()
  @IsSafeName()
  executionTag?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { region: 'eu' },
  })
  @IsOptional()
  @IsObject()
  scalarVariables?: Record<string, string>;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
    example: { ids: [['1'], ['2']] },
  })
  @IsOptional()
  @IsObject()
  gridVariables?: Record<string, string[][]>;
}

/**
 * A gateway extension: what the gateway sent Maia to start a run (Maia does not return it), in the shape of
 * Maia's execute body, with when it was sent.
 */
export class LaunchDto {
  @ApiProperty({ format: 'uuid', description: 'The run this launch started.' })
  pipelineExecutionId!: string;

  @ApiProperty({ format: 'uuid' })
  projectId!: string;

  @ApiProperty({ example: 'FOLDER/load_orders.orch.yaml' })
  pipelineName!: string;

  @ApiProperty({ example: 'Dev' })
  environmentName!: string;

  @ApiPropertyOptional({ description: 'Absent: none was named, so Maia ran the latest published version.' })
  versionName?: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description: "Absent: none was named, so Maia used the environment's default runner.",
  })
  agentId?: string;

  @ApiPropertyOptional()
  executionTag?: string;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  scalarVariables!: Record<string, string>;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
  })
  gridVariables!: Record<string, string[][]>;

  @ApiProperty({ format: 'date-time', description: 'When the gateway started the run.' })
  launchedAt!: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The run this one re-ran, when it was a re-run.' })
  rerunOf?: string;
}

export class ExecutePipelineResponseDto {
  @ApiProperty({ format: 'uuid' })
  pipelineExecutionId!: string;
}

export class CancelExecutionBodyDto {
  @ApiProperty({ enum: ['CANCELLED'], description: 'The only accepted value.' })
  @IsIn(['CANCELLED'], { message: 'status must be CANCELLED' })
  status!: 'CANCELLED';

  @ApiPropertyOptional({
    default: false,
    description: 'false: graceful (via CANCELLING); true: straight to CANCELLED.',
  })
  @IsOptional()
  @IsBoolean()
  forceUpdate?: boolean;
}

/** Maia's execution shape (REST). */
export class ExecutionDto {
  @ApiProperty({ format: 'uuid' }) pipelineExecutionId!: string;
  @ApiProperty({ nullable: true, type: String }) pipelineName!: string | null;
  @ApiProperty({ nullable: true, type: String }) pipelineType!: string | null;
  @ApiProperty({ format: 'uuid' }) projectId!: string;
  @ApiProperty({ nullable: true, type: String }) environmentName!: string | null;
  @ApiProperty(STATUS) status!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startedAt!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) finishedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) message!: string | null;
  @ApiProperty({ enum: executionTriggers, enumName: 'ExecutionTrigger', nullable: true })
  trigger!: string | null;
  @ApiProperty({ nullable: true, type: String }) scheduleId!: string | null;
  @ApiProperty({ nullable: true, type: String }) user!: string | null;
}

/** The light status answer: `{ status }` with Maia's own status string. */
export class ExecutionStatusDto {
  @ApiProperty(STATUS) status!: string;
}

export class StepResultDto {
  @ApiProperty(STATUS) status!: string;
  @ApiPropertyOptional({ format: 'date-time' }) startedAt?: string;
  @ApiPropertyOptional({ format: 'date-time' }) finishedAt?: string;
  @ApiPropertyOptional() message?: string;
}

export class StepDto {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: StepResultDto }) result!: StepResultDto;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) childPipeline?: unknown;
}

export class StepPageDto {
  @ApiProperty() page!: number;
  @ApiProperty() size!: number;
  @ApiProperty() total!: number;
  @ApiProperty({ type: [StepDto] }) results!: StepDto[];
}

export class ExecutionListDto {
  @ApiProperty({ type: [ExecutionDto] }) results!: ExecutionDto[];
  @ApiPropertyOptional({
    description: 'Pass it back as paginationToken for the next page; absent on the last.',
  })
  more?: string;
}

const toArray = ({ value }: { value: unknown }): unknown =>
  value === undefined ? undefined : Array.isArray(value) ? value : [value];

/** Maia's list filters (`GET /v1/pipeline-executions`). */
export class ListExecutionsQueryDto {
  @ApiPropertyOptional({ format: 'uuid', example: SANDBOX_EXAMPLE.projectId })
  @IsOptional()
  @IsUUID('all')
  projectId?: string;

  @ApiPropertyOptional({ description: 'Case-insensitive partial match.' })
  @IsOptional()
  @IsSafeName()
  pipelineName?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsSafeName()
  environmentName?: string;

  @ApiPropertyOptional({ ...STATUS, isArray: true, description: 'Repeatable.' })
  @IsOptional()
  @Transform(toArray)
  @IsEnum(Object.fromEntries(executionStatuses.map((s) => [s, s])), { each: true })
  status?: string[];

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID('all')
  scheduleId?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Inclusive. Without a bound the list is not bounded in time (as Maia lists it).',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  startedAfter?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Inclusive.' })
  @IsOptional()
  @IsISO8601({ strict: true })
  startedBefore?: string;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 100,
    default: 25,
    description: 'Values outside 1..100 are clamped, as Maia does ("capped at 100").',
  })
  @IsOptional()
  @ClampedQueryInteger(1, 100)
  @IsInt()
  limit?: number;

  @ApiPropertyOptional({
    description:
      "Maia's own time-frame filter, passed to Maia as given (its values are Maia's; see docs/maia-api.md).",
  })
  @IsOptional()
  @IsSafeName()
  @MaxLength(64)
  timeFrame?: string;

  @ApiPropertyOptional({ description: 'The `more` token of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  paginationToken?: string;
}
