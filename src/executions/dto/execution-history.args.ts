import { ArgsType, Field, InputType } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsOptional, ValidateNested } from 'class-validator';
import { IsSafeName } from '../../common/validation';
import { ExecutionPageArgs, RunWindowFilter } from './execution.inputs';

@InputType({
  description:
    'Which runs of a published pipeline to list. With neither startedAfter nor startedBefore, only runs started in the last 7 days are listed.',
})
export class PipelineRunHistoryFilter extends RunWindowFilter {}

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
export class PipelineRunHistoryArgs extends ExecutionPageArgs {
  @Field(() => PipelineRunHistoryFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => PipelineRunHistoryFilter)
  filter?: PipelineRunHistoryFilter;
}

@ArgsType()
export class EnvironmentRunHistoryArgs extends ExecutionPageArgs {
  @Field(() => EnvironmentRunHistoryFilter, { nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => EnvironmentRunHistoryFilter)
  filter?: EnvironmentRunHistoryFilter;
}
