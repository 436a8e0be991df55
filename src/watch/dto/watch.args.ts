import { ArgsType, Field, ID } from '@nestjs/graphql';
import { Type } from 'class-transformer';
import { IsOptional, IsUUID, Matches, ValidateNested } from 'class-validator';
import { PipelineExecutionArgs, PipelineExecutionFilter } from '../../executions/dto/execution.inputs';

@ArgsType()
export class PipelineExecutionUpdatedArgs extends PipelineExecutionArgs {
  @Field(() => String, {
    nullable: true,
    description: 'Resume: the cursor of the last event received. Without it, the current state comes first.',
  })
  @IsOptional()
  @Matches(/^\d{1,16}$/, { message: 'after must be a cursor from an earlier event' })
  after?: string;
}

@ArgsType()
export class PipelineExecutionEventsArgs {
  @Field(() => ID)
  @IsUUID('all')
  projectId!: string;

  @Field(() => PipelineExecutionFilter, {
    nullable: true,
    description: 'Narrows the events (its projectId, if given, must be the same project).',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => PipelineExecutionFilter)
  filter?: PipelineExecutionFilter;

  @Field(() => String, {
    nullable: true,
    description:
      'Resume: the cursor of the last event received; the events after it come first, then what happens next. Without it, what happens from the moment of subscribing. A cursor the feed no longer keeps (WATCH_HISTORY_SIZE events, WATCH_HISTORY_TTL_SECONDS) ends the stream with BAD_USER_INPUT: subscribe without it and read the list again.',
  })
  @IsOptional()
  @Matches(/^\d{1,16}$/, { message: 'after must be a cursor from an earlier event' })
  after?: string;
}
