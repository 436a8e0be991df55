import { Field, ObjectType, registerEnumType } from '@nestjs/graphql';
import { DateTimeScalar } from '../../graphql/scalars/date-time.scalar';
import { PipelineExecution } from '../../executions/models/pipeline-execution.model';

/** Same values as `ExecutionEventKind` in `watch.types.ts`; a TypeScript enum because GraphQL needs one. */
export enum PipelineExecutionEventKind {
  SNAPSHOT = 'SNAPSHOT',
  STARTED = 'STARTED',
  CHANGED = 'CHANGED',
  FINISHED = 'FINISHED',
}

registerEnumType(PipelineExecutionEventKind, {
  name: 'PipelineExecutionEventKind',
  description: 'What a live-status event says about its execution.',
  valuesMap: {
    SNAPSHOT: {
      description: 'The state when the subscription began (or when the gateway first saw the run).',
    },
    STARTED: {
      description:
        'A run that just started: watched from its launch, or in a project feed a run that began after the subscription (one first seen finished comes as it began, then FINISHED).',
    },
    CHANGED: { description: 'Status, message or finishedAt changed; the run is not finished.' },
    FINISHED: {
      description: 'The run reached a terminal status; the last event of a single-execution stream.',
    },
  },
});

@ObjectType({ description: 'One change of a pipeline execution, pushed live.' })
export class PipelineExecutionEvent {
  @Field(() => String, {
    description:
      'Opaque and increasing per execution (per project for pipelineExecutionEvents). Pass it as `after` to resume without gaps or duplicates.',
  })
  cursor!: string;

  @Field(() => DateTimeScalar, { description: 'When the gateway observed the change.' })
  at!: string;

  @Field(() => PipelineExecutionEventKind)
  kind!: PipelineExecutionEventKind;

  @Field(() => PipelineExecution, { description: 'The execution as it is after this event.' })
  execution!: PipelineExecution;
}
