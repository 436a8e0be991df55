import { Args, Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { ErrorCode, GatewayError } from '../common/errors';
import { Environment } from '../environments/models/environment.model';
import type { GraphqlContext } from '../graphql/graphql-context';
import type { MaiaExecution } from '../maia/maia.types';
import { PublishedPipeline } from '../pipelines/models/published-pipeline.model';
import { RequireScope } from '../auth/require-scope.decorator';
import { EnvironmentRunHistoryArgs, PipelineRunHistoryArgs } from './dto/execution-history.args';
import type { UserFilter } from './execution-cursor';
import { toPipelineExecution } from './execution.mapper';
import { toConnection } from './executions.resolver';
import { ExecutionsService, type ExecutionConnectionPage } from './executions.service';
import { PipelineExecution, PipelineExecutionConnection } from './models/pipeline-execution.model';

/** `lastExecution` reads at most this many of Maia's pages (of 100) looking for an exact name. */
const LAST_EXECUTION_PAGES = 5;

/**
 * Keeps the runs of exactly `pipelineName` from a page Maia filtered by partial match. The cursors stay
 * those of Maia's page, so `endCursor` continues after the last run Maia gave, kept or not.
 */
function exactly(page: ExecutionConnectionPage, pipelineName: string): ExecutionConnectionPage {
  const edges = page.edges.filter((edge) => edge.node.pipelineName === pipelineName);
  return { ...page, edges, startCursor: edges.length > 0 ? edges[0].cursor : null };
}

/** Run history where a frontend looks for it: on a published pipeline and on an environment. */
@Resolver(() => PublishedPipeline)
export class PublishedPipelineExecutionsResolver {
  constructor(private readonly executionsService: ExecutionsService) {}

  @ResolveField(() => PipelineExecutionConnection, {
    description:
      'Runs of exactly this pipeline in its environment, newest first. Without startedAfter/startedBefore, the last 7 days. Maia matches names partially; the gateway keeps exact matches only, so a page may hold fewer runs than `first` (even none while `hasNextPage` is true) and its `endCursor` stays valid.',
  })
  @RequireScope('read')
  async executions(
    @Parent() pipeline: PublishedPipeline,
    @Args() { filter, first, after }: PipelineRunHistoryArgs,
  ): Promise<PipelineExecutionConnection> {
    const upstream: UserFilter = {
      ...filter,
      projectId: pipeline.projectId,
      environmentName: pipeline.environmentName,
      pipelineName: pipeline.name,
    };
    return toConnection(
      exactly(await this.executionsService.connection(upstream, first, after ?? undefined), pipeline.name),
    );
  }

  @ResolveField(() => PipelineExecution, {
    nullable: true,
    description: `The newest run of exactly this pipeline in its environment within the last 7 days, or null (also when none is among the newest ${LAST_EXECUTION_PAGES * 100} runs whose names contain this one). One Maia list call per pipeline and request, more only while partial matches fill the pages.`,
  })
  @RequireScope('read')
  async lastExecution(
    @Parent() pipeline: PublishedPipeline,
    @Context() ctx: GraphqlContext,
  ): Promise<PipelineExecution | null> {
    const loader = ctx.loaders.get(
      'lastExecution',
      (key: PublishedPipeline) => this.newest(key),
      (key) => JSON.stringify([key.projectId, key.environmentName, key.name]),
    );
    const newest = await loader.load(pipeline);
    return newest ? toPipelineExecution(newest) : null;
  }

  private async newest(pipeline: PublishedPipeline): Promise<MaiaExecution | null> {
    const filter: UserFilter = {
      projectId: pipeline.projectId,
      environmentName: pipeline.environmentName,
      pipelineName: pipeline.name,
    };
    let after: string | undefined;
    for (let page = 0; page < LAST_EXECUTION_PAGES; page += 1) {
      const found = await this.executionsService.connection(filter, 100, after);
      const match = found.edges.find((edge) => edge.node.pipelineName === pipeline.name);
      if (match) return match.node;
      if (!found.hasNextPage || found.endCursor === null) return null;
      after = found.endCursor;
    }
    return null;
  }
}

@Resolver(() => Environment)
export class EnvironmentExecutionsResolver {
  constructor(private readonly executionsService: ExecutionsService) {}

  @ResolveField(() => PipelineExecutionConnection, {
    description:
      "Runs in this environment, newest first. Without startedAfter/startedBefore, the last 7 days. `pipelineName` matches exactly (see its description for paging); `pipelineNameContains` is Maia's partial match.",
  })
  @RequireScope('read')
  async executions(
    @Parent() environment: Environment,
    @Args() { filter, first, after }: EnvironmentRunHistoryArgs,
  ): Promise<PipelineExecutionConnection> {
    const { pipelineName, pipelineNameContains, ...rest } = filter ?? {};
    if (pipelineName !== undefined && pipelineNameContains !== undefined) {
      throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'Give pipelineName or pipelineNameContains, not both');
    }
    const upstream: UserFilter = {
      ...rest,
      projectId: environment.projectId,
      environmentName: environment.name,
      pipelineName: pipelineName ?? pipelineNameContains,
    };
    const page = await this.executionsService.connection(upstream, first, after ?? undefined);
    return toConnection(pipelineName === undefined ? page : exactly(page, pipelineName));
  }
}
