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
    const loader = ctx.loaders.get(
      'publishedVersions',
      (k: typeof key) => this.publishedVersions.listAll(k),
      (k) => PipelinesService.keyOf(k),
    );
    const all: MaiaArtifact[] = await loader.load(key);
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
  ): Promise<PublishedVersionPage> {
    const all = await this.publishedVersions.holding(
      pipeline.projectId,
      pipeline.environmentName,
      pipeline.name,
    );
    return mapPage(slicePage(all, page, size), (a) => toPublishedVersion(pipeline.environmentName, a));
  }
}
