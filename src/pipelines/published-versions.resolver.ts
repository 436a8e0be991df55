import { Args, Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { RequireScope } from '../auth/require-scope.decorator';
import { mapPage, slicePage } from '../common/http/pagination';
import { Environment } from '../environments/models/environment.model';
import type { GraphqlContext } from '../graphql/graphql-context';
import { PageArgs } from '../graphql/page.args';
import { WholeAnswerCacheable } from '../hot-read/whole-answer-cacheable.decorator';
import type { MaiaArtifact } from '../maia/maia.types';
import { PublishedPipeline } from './models/published-pipeline.model';
import { PublishedVersionPage } from './models/published-version.model';
import { toPublishedVersion } from './pipeline.mapper';
import { PipelinesService } from './pipelines.service';
import { PublishedVersionsService } from './published-versions.service';

/** The request's one read of an environment's versions (DataLoader), shared by every field that needs it. */
function versionsOf(
  ctx: GraphqlContext,
  service: PublishedVersionsService,
  key: { projectId: string; environmentName: string },
): Promise<MaiaArtifact[]> {
  return ctx.loaders
    .get(
      'publishedVersions',
      (k: typeof key) => service.listAll(k),
      (k) => PipelinesService.keyOf(k),
    )
    .load(key);
}

@Resolver(() => Environment)
export class EnvironmentVersionsResolver {
  constructor(private readonly publishedVersions: PublishedVersionsService) {}

  @ResolveField(() => PublishedVersionPage, {
    description:
      'The versions published to this environment, as Maia lists them (the emulator: newest version name first): the choices for `versionName` when executing here.',
  })
  @RequireScope('read')
  @WholeAnswerCacheable()
  async versions(
    @Parent() environment: Environment,
    @Args() { page, size }: PageArgs,
    @Context() ctx: GraphqlContext,
  ): Promise<PublishedVersionPage> {
    const key = { projectId: environment.projectId, environmentName: environment.name };
    const all = await versionsOf(ctx, this.publishedVersions, key);
    return mapPage(slicePage(all, page, size), (a) => toPublishedVersion(environment.name, a));
  }
}

@Resolver(() => PublishedPipeline)
export class PublishedPipelineVersionsResolver {
  constructor(private readonly publishedVersions: PublishedVersionsService) {}

  @ResolveField(() => PublishedVersionPage, {
    description:
      "The versions published to this pipeline's environment that hold this pipeline, in the environment's order: the choices for `versionName` when executing it. Read from each version's details, cached like the lists.",
  })
  @RequireScope('read')
  @WholeAnswerCacheable()
  async versions(
    @Parent() pipeline: PublishedPipeline,
    @Args() { page, size }: PageArgs,
    @Context() ctx: GraphqlContext,
  ): Promise<PublishedVersionPage> {
    const { projectId, environmentName } = pipeline;
    // The environment's list and each version's details once per request, whichever pipelines ask.
    // The loader is shared by every pipeline of the request: its key carries the environment too.
    const details = ctx.loaders.get(
      'publishedVersionDetails',
      (k: { projectId: string; environmentName: string; versionName: string }) =>
        this.publishedVersions.details(k.projectId, k.environmentName, k.versionName),
      (k) => JSON.stringify([k.projectId, k.environmentName, k.versionName]),
    );
    const all = await PublishedVersionsService.holdingIn(
      await versionsOf(ctx, this.publishedVersions, { projectId, environmentName }),
      pipeline.name,
      (versionName) => details.load({ projectId, environmentName, versionName }),
    );
    return mapPage(slicePage(all, page, size), (a) => toPublishedVersion(pipeline.environmentName, a));
  }
}
