import { ArgsType, Field, InputType, Int } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsEnum,
  IsInt,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { IsSafeName } from '../../common/validation';
import { DateTimeScalar } from '../../graphql/scalars/date-time.scalar';
import { PipelineExecutionStatus } from '../models/pipeline-execution.model';

@InputType({
  description:
    'Which runs of a published pipeline to list. With neither startedAfter nor startedBefore, only runs started in the last 7 days are listed.',
})
export class PipelineRunHistoryFilter {
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
    'Which runs of an environment to list. With neither startedAfter nor startedBefore, only runs started in the last 7 days are listed.',
})
export class EnvironmentRunHistoryFilter extends PipelineRunHistoryFilter {
  @Field(() => String, {
    nullable: true,
    description:
      'Only runs of the pipeline with exactly this name (case and all). Maia matches names partially, so the gateway drops the partial matches: a page may then hold fewer runs than `first`, even none while `hasNextPage` is true; its `endCursor` stays valid.',
  })
  @IsOptional()
  @IsSafeName()
  pipelineName?: string;

  @Field(() => String, {
    nullable: true,
    description:
      'Only runs of pipelines whose name contains this text, case-insensitively: Maia\'s own partial match ("Pipeline 1" also matches "Pipeline 10"). Not with pipelineName.',
  })
  @IsOptional()
  @IsSafeName()
  pipelineNameContains?: string;
}

@ArgsType()
export class PipelineRunHistoryArgs {
  @Field(() => PipelineRunHistoryFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => PipelineRunHistoryFilter)
  filter?: PipelineRunHistoryFilter;

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
export class EnvironmentRunHistoryArgs {
  @Field(() => EnvironmentRunHistoryFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => EnvironmentRunHistoryFilter)
  filter?: EnvironmentRunHistoryFilter;

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
