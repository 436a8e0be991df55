import { Args, Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { RequireScope } from '../auth/require-scope.decorator';
import { Environment } from '../environments/models/environment.model';
import type { GraphqlContext } from '../graphql/graphql-context';
import { mappedOnce, pageOnce } from '../graphql/mapped-once';
import { PageArgs } from '../graphql/page.args';
import { WholeAnswerCacheable } from '../hot-read/whole-answer-cacheable.decorator';
import { Project } from '../projects/models/project.model';
import { PublishedPipelinesArgs } from './dto/published-pipelines.args';
import { PublishedPipelinePage } from './models/published-pipeline.model';
import { toPublishedPipeline } from './pipeline.mapper';
import { PipelinesService, type PipelinesKey } from './pipelines.service';

/** One upstream list per (project, environment) and request, whichever field asks (DataLoader). */
async function pipelinesPage(
  ctx: GraphqlContext,
  service: PipelinesService,
  key: PipelinesKey,
  page: number,
  size: number,
): Promise<PublishedPipelinePage> {
  const loader = ctx.loaders.get(
    'publishedPipelines',
    (k: PipelinesKey) => service.listAll(k),
    (k) => PipelinesService.keyOf(k),
  );
  const all = await loader.load(key);
  const models = mappedOnce(all, PipelinesService.keyOf(key), (p) => toPublishedPipeline(key, p));
  return pageOnce(models, page, size);
}

@Resolver(() => Project)
export class ProjectPipelinesResolver {
  constructor(private readonly pipelines: PipelinesService) {}

  @ResolveField(() => PublishedPipelinePage, {
    description: 'Pipelines published to one environment of the project.',
  })
  @RequireScope('read')
  @WholeAnswerCacheable()
  publishedPipelines(
    @Parent() project: Project,
    @Args() { environmentName, page, size }: PublishedPipelinesArgs,
    @Context() ctx: GraphqlContext,
  ): Promise<PublishedPipelinePage> {
    return pipelinesPage(ctx, this.pipelines, { projectId: project.id, environmentName }, page, size);
  }
}

@Resolver(() => Environment)
export class EnvironmentPipelinesResolver {
  constructor(private readonly pipelines: PipelinesService) {}

  @ResolveField(() => PublishedPipelinePage, { description: 'Pipelines published to this environment.' })
  @RequireScope('read')
  @WholeAnswerCacheable()
  publishedPipelines(
    @Parent() environment: Environment,
    @Args() { page, size }: PageArgs,
    @Context() ctx: GraphqlContext,
  ): Promise<PublishedPipelinePage> {
    const key = { projectId: environment.projectId, environmentName: environment.name };
    return pipelinesPage(ctx, this.pipelines, key, page, size);
  }
}
