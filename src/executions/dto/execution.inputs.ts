import { ArgsType, Field, ID, InputType, Int } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { IsSafeName } from '../../common/validation';
import { DateTimeScalar } from '../../graphql/scalars/date-time.scalar';
import { PipelineExecutionStatus } from '../models/pipeline-execution.model';
import { IDEMPOTENCY_KEY_PATTERN, MAX_VARIABLE_VALUE_LENGTH, MAX_VARIABLES } from './execution-limits';

/** What every run list filters by: statuses and the start window (7 days when neither bound is given). */
@InputType({ isAbstract: true })
export abstract class RunWindowFilter {
  @Field(() => [PipelineExecutionStatus], { nullable: true, description: 'Any of these statuses.' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(8)
  @IsEnum(PipelineExecutionStatus, { each: true })
  status?: PipelineExecutionStatus[];

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'Started at or after (inclusive). With neither bound, the last 7 days are listed.',
  })
  @IsOptional()
  @IsString()
  startedAfter?: string;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Started at or before (inclusive).' })
  @IsOptional()
  @IsString()
  startedBefore?: string;
}

@InputType({
  description:
    'Which executions to list. Every member narrows the list. With neither startedAfter nor startedBefore, only executions started in the last 7 days are listed.',
})
export class PipelineExecutionFilter extends RunWindowFilter {
  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all')
  projectId?: string;

  @Field(() => String, {
    nullable: true,
    description: 'Case-insensitive partial match on the pipeline name.',
  })
  @IsOptional()
  @IsSafeName()
  pipelineName?: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsSafeName()
  environmentName?: string;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @IsUUID('all')
  scheduleId?: string;
}

/** A page of runs: Relay's `first` and `after`, shared by every run list. */
@ArgsType()
export class ExecutionPageArgs {
  @Field(() => Int, { defaultValue: 25, description: 'Page size, 1..100.' })
  @IsInt()
  @Min(1)
  @Max(100)
  first: number = 25;

  @Field(() => String, {
    nullable: true,
    description: 'The endCursor (or an edge cursor) of the previous page.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(4096)
  after?: string;
}

@ArgsType()
export class PipelineExecutionsArgs extends ExecutionPageArgs {
  @Field(() => PipelineExecutionFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => PipelineExecutionFilter)
  filter?: PipelineExecutionFilter;
}

@ArgsType()
export class PipelineExecutionArgs {
  @Field(() => ID)
  @IsUUID('all')
  projectId!: string;

  @Field(() => ID)
  @IsUUID('all')
  executionId!: string;
}

@InputType({ description: 'A scalar pipeline variable: its name and its value as a string.' })
export class ScalarVariableInput {
  @Field(() => String)
  @IsSafeName()
  name!: string;

  @Field(() => String)
  @IsString()
  @MaxLength(MAX_VARIABLE_VALUE_LENGTH)
  value!: string;
}

@InputType({ description: 'A grid pipeline variable: its name and its rows, each a list of column values.' })
export class GridVariableInput {
  @Field(() => String)
  @IsSafeName()
  name!: string;

  @Field(() => [[String]])
  @IsArray()
  @ArrayMaxSize(10_000)
  @IsArray({ each: true })
  rows!: string[][];
}

@InputType({
  description: 'What to execute: a published pipeline in an environment, optionally a given version.',
})
export class ExecutePipelineInput {
  @Field(() => ID)
  @IsUUID('all')
  projectId!: string;

  @Field(() => String)
  @IsSafeName()
  pipelineName!: string;

  @Field(() => String)
  @IsSafeName()
  environmentName!: string;

  @Field(() => String, {
    nullable: true,
    description: 'A published artifact version; default: the latest published.',
  })
  @IsOptional()
  @IsSafeName()
  versionName?: string;

  @Field(() => ID, { nullable: true, description: "A runner id; default: the environment's default runner." })
  @IsOptional()
  @IsUUID('all')
  agentId?: string;

  @Field(() => String, {
    nullable: true,
    description:
      'While a run with this tag is running in the environment, another one is refused with CONFLICT.',
  })
  @IsOptional()
  @IsSafeName()
  executionTag?: string;

  @Field(() => [ScalarVariableInput], {
    nullable: true,
    description: 'Scalar variables as name/value pairs.',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_VARIABLES)
  @ValidateNested({ each: true })
  @Type(() => ScalarVariableInput)
  scalarVariables?: ScalarVariableInput[];

  @Field(() => [GridVariableInput], { nullable: true, description: 'Grid variables as name/rows pairs.' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_VARIABLES)
  @ValidateNested({ each: true })
  @Type(() => GridVariableInput)
  gridVariables?: GridVariableInput[];

  @Field(() => String, {
    nullable: true,
    description:
      'Repeating a call with the same key within 24 h returns the first run (replayed: true) instead of starting another; the same key with a different request is IDEMPOTENCY_KEY_REUSED.',
  })
  @IsOptional()
  @Matches(IDEMPOTENCY_KEY_PATTERN, { message: 'idempotencyKey must be 1 to 255 visible ASCII characters' })
  idempotencyKey?: string;
}

@InputType()
export class CancelPipelineExecutionInput {
  @Field(() => ID)
  @IsUUID('all')
  projectId!: string;

  @Field(() => ID)
  @IsUUID('all')
  executionId!: string;

  @Field(() => Boolean, {
    defaultValue: false,
    description: 'false: graceful (RUNNING → CANCELLING → CANCELLED); true: straight to CANCELLED.',
  })
  @IsBoolean()
  force: boolean = false;
}

@InputType({
  description:
    'Which run to start again: the gateway launches the same pipeline, environment, version, runner, variables and tag that it sent for that run.',
})
export class RerunPipelineExecutionInput {
  @Field(() => ID, { description: 'The project of the run.' })
  @IsUUID('all')
  projectId!: string;

  @Field(() => ID, { description: 'The run to start again (PipelineExecution.id).' })
  @IsUUID('all')
  executionId!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'Repeating a call with the same key within 24 h returns the first new run (replayed: true) instead of starting another; the same key for another run is IDEMPOTENCY_KEY_REUSED.',
  })
  @IsOptional()
  @Matches(IDEMPOTENCY_KEY_PATTERN, { message: 'idempotencyKey must be 1 to 255 visible ASCII characters' })
  idempotencyKey?: string;
}
