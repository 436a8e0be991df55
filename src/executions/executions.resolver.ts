import { Args, Context, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { AccessPolicy } from '../auth/access-policy';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import type { Principal } from '../auth/principal';
import { RequireScope } from '../auth/require-scope.decorator';
import type { GraphqlContext } from '../graphql/graphql-context';
import { PageArgs } from '../graphql/page.args';
import { mapPage } from '../common/http/pagination';
import type { MaiaExecution } from '../maia/maia.types';
import { Project } from '../projects/models/project.model';
import { ProjectsService } from '../projects/projects.service';
import {
  CancelPipelineExecutionInput,
  ExecutePipelineInput,
  PipelineExecutionArgs,
  PipelineExecutionsArgs,
  RerunPipelineExecutionInput,
} from './dto/execution.inputs';
import { toPipelineExecution, toPipelineExecutionStep, toPipelineLaunch } from './execution.mapper';
import {
  ExecutionsService,
  resolveWindow,
  variablesFromLists,
  type ExecutionConnectionPage,
} from './executions.service';
import {
  CancelPipelineExecutionPayload,
  ExecutePipelinePayload,
  ExecutionWindow,
  PipelineExecution,
  PipelineExecutionConnection,
  PipelineExecutionStepPage,
  PipelineLaunch,
} from './models/pipeline-execution.model';

export function toConnection(page: ExecutionConnectionPage): PipelineExecutionConnection {
  const edges = page.edges.map((edge) => ({ cursor: edge.cursor, node: toPipelineExecution(edge.node) }));
  return {
    edges,
    nodes: edges.map((edge) => edge.node),
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: false,
      startCursor: page.startCursor,
      endCursor: page.endCursor,
    },
    window: windowOf(page.window),
  };
}

function windowOf(window: ExecutionConnectionPage['window']): ExecutionWindow {
  return { startedAfter: window.startedAfter ?? null, startedBefore: window.startedBefore ?? null };
}

/** One details call per (project, execution) and request, whichever payload or query asks. */
function executionLoader(ctx: GraphqlContext, executions: ExecutionsService) {
  return ctx.loaders.get(
    'executionById',
    (key: { projectId: string; executionId: string }): Promise<MaiaExecution> =>
      executions.get(key.projectId, key.executionId),
    (key) => `${key.projectId}/${key.executionId}`,
  );
}

@Resolver(() => PipelineExecution)
export class ExecutionsResolver {
  constructor(
    private readonly executions: ExecutionsService,
    private readonly projects: ProjectsService,
    private readonly access: AccessPolicy,
  ) {}

  @Query(() => PipelineExecution, { description: 'One execution, read from Maia now (never cached).' })
  @RequireScope('read')
  async pipelineExecution(
    @Args() { projectId, executionId }: PipelineExecutionArgs,
    @Context() ctx: GraphqlContext,
  ): Promise<PipelineExecution> {
    return toPipelineExecution(await executionLoader(ctx, this.executions).load({ projectId, executionId }));
  }

  @Query(() => PipelineExecutionConnection, {
    description: 'Executions, newest first. Without startedAfter/startedBefore, the last 7 days.',
  })
  @RequireScope('read')
  async pipelineExecutions(
    @Args() { filter, first, after }: PipelineExecutionsArgs,
    @CurrentPrincipal() principal: Principal,
  ): Promise<PipelineExecutionConnection> {
    // Without a projectId (checked by the guard when given), only the caller's projects are listed.
    const scoped = this.access.restrictExecutionQuery(principal, { ...filter });
    if (scoped.nothingVisible) {
      return {
        edges: [],
        nodes: [],
        pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
        window: windowOf(resolveWindow(filter ?? {}, Date.now())),
      };
    }
    const page = await this.executions.connection(scoped.filter, first, after);
    return toConnection({ ...page, edges: page.edges.filter((edge) => scoped.visible(edge.node)) });
  }

  @Mutation(() => ExecutePipelinePayload, {
    description: 'Starts a published pipeline. Asynchronous: returns at once.',
  })
  @RequireScope('execute')
  async executePipeline(@Args('input') input: ExecutePipelineInput): Promise<ExecutePipelinePayload> {
    const { projectId, idempotencyKey, scalarVariables, gridVariables, ...rest } = input;
    const outcome = await this.executions.execute(
      projectId,
      { ...rest, ...variablesFromLists(scalarVariables, gridVariables) },
      idempotencyKey,
    );
    return { ...outcome, projectId };
  }

  @Mutation(() => ExecutePipelinePayload, {
    description:
      'Starts again what a run launched through this gateway (same pipeline, environment, version, runner, variables and tag; see PipelineExecution.launch), as executePipeline does: asynchronous, idempotent with idempotencyKey. A run whose launch the gateway did not record answers LAUNCH_UNKNOWN.',
  })
  @RequireScope('execute')
  async rerunPipelineExecution(
    @Args('input') { projectId, executionId, idempotencyKey }: RerunPipelineExecutionInput,
  ): Promise<ExecutePipelinePayload> {
    const outcome = await this.executions.rerun(projectId, executionId, idempotencyKey);
    return { ...outcome, projectId };
  }

  @Mutation(() => CancelPipelineExecutionPayload, {
    description:
      'Cancels a running execution (gracefully unless force). A finished one answers ALREADY_FINISHED.',
  })
  @RequireScope('cancel')
  async cancelPipelineExecution(
    @Args('input') { projectId, executionId, force }: CancelPipelineExecutionInput,
  ): Promise<CancelPipelineExecutionPayload> {
    const { pipelineExecutionId } = await this.executions.cancel(projectId, executionId, force);
    return { pipelineExecutionId, projectId };
  }

  @ResolveField(() => PipelineExecutionStepPage, {
    description: 'The steps (component runs) of this execution.',
  })
  @RequireScope('read')
  async steps(
    @Parent() execution: PipelineExecution,
    @Args() { page, size }: PageArgs,
  ): Promise<PipelineExecutionStepPage> {
    return mapPage(
      await this.executions.steps(execution.projectId, execution.id, page, size),
      toPipelineExecutionStep,
    );
  }

  @ResolveField(() => PipelineLaunch, {
    nullable: true,
    description:
      'What the gateway sent Maia to start this run (version, runner, variables, tag), kept for EXECUTION_LAUNCH_TTL_MS; null when the gateway did not start it (or no longer knows). rerunPipelineExecution starts the same again.',
  })
  @RequireScope('read')
  async launch(
    @Parent() execution: PipelineExecution,
    @Context() ctx: GraphqlContext,
  ): Promise<PipelineLaunch | null> {
    // A run list asks for every row's launch in the same tick: one Redis round trip for all of them.
    const launch = await ctx.loaders
      .batch(
        'launch',
        (runs: readonly { projectId: string; executionId: string }[]) => this.executions.launchesOf(runs),
        (run) => `${run.projectId}\n${run.executionId}`,
      )
      .load({ projectId: execution.projectId, executionId: execution.id });
    return launch ? toPipelineLaunch(launch) : null;
  }

  @ResolveField(() => Project, { description: 'The project this execution belongs to.' })
  @RequireScope('read')
  project(@Parent() execution: PipelineExecution, @Context() ctx: GraphqlContext): Promise<Project> {
    return ctx.loaders
      .get('projectById', (id: string) => this.projects.getById(id))
      .load(execution.projectId);
  }
}

@Resolver(() => ExecutePipelinePayload)
export class ExecutePipelinePayloadResolver {
  constructor(private readonly executions: ExecutionsService) {}

  @ResolveField(() => PipelineExecution, { nullable: true })
  @RequireScope('read')
  async execution(
    @Parent() payload: ExecutePipelinePayload,
    @Context() ctx: GraphqlContext,
  ): Promise<PipelineExecution> {
    const key = { projectId: payload.projectId, executionId: payload.pipelineExecutionId };
    return toPipelineExecution(await executionLoader(ctx, this.executions).load(key));
  }
}

@Resolver(() => CancelPipelineExecutionPayload)
export class CancelPipelineExecutionPayloadResolver {
  constructor(private readonly executions: ExecutionsService) {}

  @ResolveField(() => PipelineExecution, { nullable: true })
  @RequireScope('read')
  async execution(
    @Parent() payload: CancelPipelineExecutionPayload,
    @Context() ctx: GraphqlContext,
  ): Promise<PipelineExecution> {
    const key = { projectId: payload.projectId, executionId: payload.pipelineExecutionId };
    return toPipelineExecution(await executionLoader(ctx, this.executions).load(key));
  }
}

@Resolver(() => Project)
export class ProjectExecutionsResolver {
  constructor(private readonly executionsService: ExecutionsService) {}

  @ResolveField(() => PipelineExecutionConnection, {
    description:
      "This project's executions, newest first. Without startedAfter/startedBefore, the last 7 days.",
  })
  @RequireScope('read')
  async executions(
    @Parent() project: Project,
    @Args() { filter, first, after }: PipelineExecutionsArgs,
  ): Promise<PipelineExecutionConnection> {
    return toConnection(
      await this.executionsService.connection({ ...filter, projectId: project.id }, first, after),
    );
  }
}
