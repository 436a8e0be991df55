import { Args, Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { ErrorCode, GatewayError } from '../common/errors';
import { Environment } from '../environments/models/environment.model';
import type { GraphqlContext } from '../graphql/graphql-context';
import type { MaiaExecution } from '../maia/maia.types';
import { PublishedPipeline } from '../pipelines/models/published-pipeline.model';
import { RequireScope } from '../auth/require-scope.decorator';
import { EnvironmentRunHistoryArgs, PipelineRunHistoryArgs } from './dto/execution-history.args';
import { filterHash, type UserFilter } from './execution-cursor';
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

function pipelineKey(pipeline: PublishedPipeline): string {
  return JSON.stringify([pipeline.projectId, pipeline.environmentName, pipeline.name]);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
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
    @Context() ctx: GraphqlContext,
  ): Promise<PipelineExecutionConnection> {
    const upstream: UserFilter = {
      ...filter,
      projectId: pipeline.projectId,
      environmentName: pipeline.environmentName,
      pipelineName: pipeline.name,
    };
    // The same page asked again in one request (aliases, a pipeline reached by two paths) is one call.
    const loader = ctx.loaders.get(
      'pipelineExecutions',
      (key: { upstream: UserFilter; first: number; after?: string }) =>
        this.executionsService.connection(key.upstream, key.first, key.after),
      (key) => JSON.stringify([filterHash(key.upstream), key.first, key.after ?? null]),
    );
    const page = await loader.load({ upstream, first, after });
    return toConnection(exactly(page, pipeline.name));
  }

  @ResolveField(() => PipelineExecution, {
    nullable: true,
    description: `The newest run of exactly this pipeline in its environment within the last 7 days, or null (also when none is among the newest ${LAST_EXECUTION_PAGES * 100} runs whose names contain this one). Batched per request: the pipelines of one environment asked together share one list of that environment's newest runs; a pipeline not found there gets a list of its own.`,
  })
  @RequireScope('read')
  async lastExecution(
    @Parent() pipeline: PublishedPipeline,
    @Context() ctx: GraphqlContext,
  ): Promise<PipelineExecution | null> {
    const loader = ctx.loaders.batch(
      'lastExecution',
      (keys: readonly PublishedPipeline[]) => this.newestOfEach(keys),
      pipelineKey,
    );
    const newest = await loader.load(pipeline);
    return newest ? toPipelineExecution(newest) : null;
  }

  /**
   * The newest run of each pipeline, pipelines grouped by environment. A group of several first reads the
   * environment's newest runs (no name filter: one list serves them all) for as many pages as the group has
   * pipelines less one, so it never costs more calls than asking per pipeline when every name is found;
   * a pipeline not found there, while the environment has older runs in the window, is asked on its own.
   */
  private async newestOfEach(
    pipelines: readonly PublishedPipeline[],
  ): Promise<(MaiaExecution | null | Error)[]> {
    const groups = new Map<string, PublishedPipeline[]>();
    for (const pipeline of pipelines) {
      const key = JSON.stringify([pipeline.projectId, pipeline.environmentName]);
      groups.set(key, [...(groups.get(key) ?? []), pipeline]);
    }
    const found = new Map<string, MaiaExecution | null | Error>();
    await Promise.all(
      [...groups.values()].map(async (group) => {
        try {
          const newest = await this.newestInEnvironment(group);
          group.forEach((pipeline, index) => found.set(pipelineKey(pipeline), newest[index]));
        } catch (error) {
          for (const pipeline of group) found.set(pipelineKey(pipeline), asError(error));
        }
      }),
    );
    return pipelines.map((pipeline) => found.get(pipelineKey(pipeline)) ?? null);
  }

  private async newestInEnvironment(group: readonly PublishedPipeline[]): Promise<(MaiaExecution | null)[]> {
    if (group.length === 1) return [await this.newest(group[0])];
    const { projectId, environmentName } = group[0];
    const wanted = new Set(group.map((pipeline) => pipeline.name));
    const newest = new Map<string, MaiaExecution>();
    let exhausted = false;
    let after: string | undefined;
    const pages = Math.min(LAST_EXECUTION_PAGES, group.length - 1);
    for (let page = 0; page < pages && newest.size < wanted.size; page += 1) {
      const found = await this.executionsService.connection({ projectId, environmentName }, 100, after);
      for (const { node } of found.edges) {
        if (node.pipelineName !== null && wanted.has(node.pipelineName) && !newest.has(node.pipelineName)) {
          newest.set(node.pipelineName, node);
        }
      }
      if (!found.hasNextPage || found.endCursor === null) {
        exhausted = true;
        break;
      }
      after = found.endCursor;
    }
    return Promise.all(
      group.map(async (pipeline) => newest.get(pipeline.name) ?? (exhausted ? null : this.newest(pipeline))),
    );
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
    const page = await this.executionsService.connection(upstream, first, after);
    return toConnection(pipelineName === undefined ? page : exactly(page, pipelineName));
  }
}
