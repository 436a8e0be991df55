import { Field, Float, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Node } from '../../graphql/node/node.interface';
import { Paginated } from '../../graphql/paginated';
import { DateTimeScalar } from '../../graphql/scalars/date-time.scalar';
import { JSONScalar } from '../../graphql/scalars/json.scalar';

/** Same values as `ExecutionStatus` in `maia.types.ts`; a TypeScript enum because GraphQL needs one. */
export enum PipelineExecutionStatus {
  RUNNING = 'RUNNING',
  CANCELLING = 'CANCELLING',
  SUCCESS = 'SUCCESS',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
  SKIPPED = 'SKIPPED',
  FORBIDDEN = 'FORBIDDEN',
  UNKNOWN = 'UNKNOWN',
}

registerEnumType(PipelineExecutionStatus, {
  name: 'PipelineExecutionStatus',
  description: 'Where a pipeline execution (or one of its steps) stands.',
  valuesMap: {
    RUNNING: { description: 'Running now. Not terminal.' },
    CANCELLING: { description: 'A graceful cancel is under way; CANCELLED follows. Not terminal.' },
    SUCCESS: { description: 'Finished successfully. Terminal.' },
    FAILED: { description: 'Finished with an error; `message` says which. Terminal.' },
    CANCELLED: { description: 'Cancelled, gracefully or forced. Terminal.' },
    SKIPPED: { description: 'Not run (mostly on steps, e.g. after an earlier failure). Terminal.' },
    FORBIDDEN: {
      description:
        "Refused: the restricted runner's allow list does not permit this project/environment. Terminal.",
    },
    UNKNOWN: {
      description: 'A status this gateway does not know; `rawStatus` holds what Maia sent. Not terminal.',
    },
  },
});

export enum PipelineExecutionTrigger {
  DESIGNER = 'DESIGNER',
  API = 'API',
  SCHEDULE = 'SCHEDULE',
  SCHEDULE_RUN_NOW = 'SCHEDULE_RUN_NOW',
  UNKNOWN = 'UNKNOWN',
}

registerEnumType(PipelineExecutionTrigger, {
  name: 'PipelineExecutionTrigger',
  description: 'What started a pipeline execution.',
  valuesMap: {
    DESIGNER: { description: 'Run from the Designer.' },
    API: { description: 'Started through the API (this gateway included).' },
    SCHEDULE: { description: 'Started by a schedule.' },
    SCHEDULE_RUN_NOW: { description: "A schedule's run-now action." },
    UNKNOWN: { description: 'Anything else.' },
  },
});

@ObjectType({
  description: 'One run of a published pipeline.',
  implements: () => [Node],
})
export class PipelineExecution implements Node {
  @Field(() => ID, {
    description:
      "The pipeline execution id (pipelineExecutionId in Maia), Maia's own UUID: every argument that takes an execution id takes it, and so does `node`.",
  })
  id!: string;

  @Field(() => ID)
  projectId!: string;

  @Field(() => String, { nullable: true })
  pipelineName!: string | null;

  @Field(() => String, { nullable: true, description: 'ORCHESTRATION or TRANSFORMATION, as Maia says.' })
  pipelineType!: string | null;

  @Field(() => String, { nullable: true })
  environmentName!: string | null;

  @Field(() => PipelineExecutionStatus)
  status!: PipelineExecutionStatus;

  @Field(() => String, { description: 'The status string exactly as Maia sent it.' })
  rawStatus!: string;

  @Field(() => Boolean, {
    description: 'True once the run can no longer change (SUCCESS, FAILED, CANCELLED, SKIPPED, FORBIDDEN).',
  })
  isTerminal!: boolean;

  @Field(() => DateTimeScalar, { nullable: true })
  startedAt!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  finishedAt!: string | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Milliseconds from startedAt to finishedAt, or to now while the run is not finished.',
  })
  durationMs!: number | null;

  @Field(() => String, {
    nullable: true,
    description: 'The last step message, or the error of a failed run.',
  })
  message!: string | null;

  @Field(() => PipelineExecutionTrigger, { nullable: true })
  trigger!: PipelineExecutionTrigger | null;

  @Field(() => ID, { nullable: true })
  scheduleId!: string | null;

  @Field(() => String, { nullable: true, description: 'Who started the run, when Maia says.' })
  user!: string | null;

  @Field(() => Boolean, {
    description: 'True while the run is not terminal, so cancelPipelineExecution can act.',
  })
  canCancel!: boolean;
}

@ObjectType({ description: 'A scalar variable a launch sent: its name and its value.' })
export class LaunchScalarVariable {
  @Field(() => String, { description: 'The variable name.' })
  name!: string;

  @Field(() => String, { description: 'The value sent, as a string.' })
  value!: string;
}

@ObjectType({ description: 'A grid variable a launch sent: its name and its rows.' })
export class LaunchGridVariable {
  @Field(() => String, { description: 'The variable name.' })
  name!: string;

  @Field(() => [[String]], { description: 'The rows sent, each a list of column values.' })
  rows!: string[][];
}

@ObjectType({
  description:
    'What the gateway sent Maia to start a run (Maia does not return it), kept for EXECUTION_LAUNCH_TTL_MS: rerunPipelineExecution starts the same again. Who launched it is not kept.',
})
export class PipelineLaunch {
  @Field(() => String, { description: 'The published pipeline that was run.' })
  pipelineName!: string;

  @Field(() => String, { description: 'The environment it ran in.' })
  environmentName!: string;

  @Field(() => String, {
    nullable: true,
    description: 'The published version asked for; null: none was named, so Maia ran the latest.',
  })
  versionName!: string | null;

  @Field(() => ID, {
    nullable: true,
    description: "The runner asked for; null: none was named, so Maia used the environment's default.",
  })
  agentId!: string | null;

  @Field(() => String, { nullable: true, description: 'The execution tag sent, if any.' })
  executionTag!: string | null;

  @Field(() => [LaunchScalarVariable], { description: 'The scalar variables sent (empty when none).' })
  scalarVariables!: LaunchScalarVariable[];

  @Field(() => [LaunchGridVariable], { description: 'The grid variables sent (empty when none).' })
  gridVariables!: LaunchGridVariable[];

  @Field(() => DateTimeScalar, { description: 'When the gateway started the run.' })
  launchedAt!: string;

  @Field(() => ID, {
    nullable: true,
    description: 'The execution this run re-ran (rerunPipelineExecution), or null for a first launch.',
  })
  rerunOf!: string | null;
}

@ObjectType({ description: 'One component run of a pipeline execution.' })
export class PipelineExecutionStep {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => PipelineExecutionStatus)
  status!: PipelineExecutionStatus;

  @Field(() => String)
  rawStatus!: string;

  @Field(() => DateTimeScalar, { nullable: true })
  startedAt!: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  finishedAt!: string | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Milliseconds from startedAt to finishedAt, when both are known.',
  })
  durationMs!: number | null;

  @Field(() => String, { nullable: true })
  message!: string | null;

  @Field(() => JSONScalar, {
    nullable: true,
    description: 'The child pipeline this step ran, as Maia sent it.',
  })
  childPipeline!: unknown;
}

@ObjectType({ description: 'A page of execution steps.' })
export class PipelineExecutionStepPage extends Paginated(PipelineExecutionStep) {}

@ObjectType({ description: 'Relay page information.' })
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => Boolean, { description: 'Always false: the list pages forward only.' })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true, description: 'Pass it as `after` to get the next page.' })
  endCursor!: string | null;
}

@ObjectType({
  description:
    "The start-time window a run list covers, as sent to Maia: the caller's bounds, or the last 7 days the gateway applies when neither bound is given.",
})
export class ExecutionWindow {
  @Field(() => DateTimeScalar, { nullable: true, description: 'Runs started at or after this time.' })
  startedAfter!: string | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Runs started at or before this time.' })
  startedBefore!: string | null;
}

@ObjectType()
export class PipelineExecutionEdge {
  @Field(() => String, { description: 'Opaque; `after` this cursor continues right after this execution.' })
  cursor!: string;

  @Field(() => PipelineExecution)
  node!: PipelineExecution;
}

@ObjectType({ description: 'Executions, newest first, a page at a time (Relay connection).' })
export class PipelineExecutionConnection {
  @Field(() => [PipelineExecutionEdge])
  edges!: PipelineExecutionEdge[];

  @Field(() => [PipelineExecution], {
    description: 'The nodes of `edges`, for clients that need no cursors.',
  })
  nodes!: PipelineExecution[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => ExecutionWindow, {
    description:
      'The window this list covers, including the default one the gateway applied (no silent defaults).',
  })
  window!: ExecutionWindow;
}

@ObjectType()
export class ExecutePipelinePayload {
  @Field(() => ID)
  pipelineExecutionId!: string;

  /** Resolved on demand by a field resolver (one details call). */
  @Field(() => PipelineExecution, { nullable: true, description: 'The execution as Maia reports it now.' })
  execution?: PipelineExecution | null;

  @Field(() => Boolean, {
    description: 'True when an earlier call with the same idempotencyKey started this run.',
  })
  replayed!: boolean;

  projectId!: string;
}

@ObjectType()
export class CancelPipelineExecutionPayload {
  @Field(() => ID)
  pipelineExecutionId!: string;

  @Field(() => PipelineExecution, {
    nullable: true,
    description: 'The execution right after the cancel request.',
  })
  execution?: PipelineExecution | null;

  projectId!: string;
}
