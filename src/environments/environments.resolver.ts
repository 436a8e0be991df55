import { Args, Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { RequireScope } from '../auth/require-scope.decorator';
import type { GraphqlContext } from '../graphql/graphql-context';
import { mappedOnce, pageOnce } from '../graphql/mapped-once';
import { PageArgs } from '../graphql/page.args';
import { WholeAnswerCacheable } from '../hot-read/whole-answer-cacheable.decorator';
import { Project } from '../projects/models/project.model';
import { EnvironmentNameArgs } from './dto/environment-name.args';
import { toEnvironment } from './environment.mapper';
import { EnvironmentsService } from './environments.service';
import { Environment, EnvironmentPage } from './models/environment.model';

/** The environment fields of `Project`; one upstream list per project and request (DataLoader). */
@Resolver(() => Project)
export class ProjectEnvironmentsResolver {
  constructor(private readonly environmentsService: EnvironmentsService) {}

  private loader(ctx: GraphqlContext) {
    return ctx.loaders.get('environmentsByProject', (projectId: string) =>
      this.environmentsService.listAll(projectId),
    );
  }

  @ResolveField(() => EnvironmentPage, { description: "The project's environments, a page at a time." })
  @RequireScope('read')
  @WholeAnswerCacheable()
  async environments(
    @Parent() project: Project,
    @Args() { page, size }: PageArgs,
    @Context() ctx: GraphqlContext,
  ): Promise<EnvironmentPage> {
    const all = await this.loader(ctx).load(project.id);
    return pageOnce(
      mappedOnce(all, project.id, (e) => toEnvironment(project.id, e)),
      page,
      size,
    );
  }

  @ResolveField(() => Environment, {
    description: 'One environment of the project, by name (NOT_FOUND if none).',
  })
  @RequireScope('read')
  @WholeAnswerCacheable()
  async environment(
    @Parent() project: Project,
    @Args() { name }: EnvironmentNameArgs,
    @Context() ctx: GraphqlContext,
  ): Promise<Environment> {
    // The request's one list of this project's environments, shared with sibling fields.
    const all = await this.loader(ctx).load(project.id);
    return toEnvironment(project.id, EnvironmentsService.pick(all, project.id, name));
  }
}
