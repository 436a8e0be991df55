import { Args, Query, Resolver } from '@nestjs/graphql';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import type { Principal } from '../auth/principal';
import { ProjectIdArgs } from '../auth/project-args.decorator';
import { RequireScope } from '../auth/require-scope.decorator';
import { PageArgs } from '../graphql/page.args';
import { WholeAnswerCacheable } from '../hot-read/whole-answer-cacheable.decorator';
import { ProjectSelectorArgs } from './dto/project-selector.args';
import { Project, ProjectPage } from './models/project.model';
import { ProjectsService } from './projects.service';

@Resolver(() => Project)
export class ProjectsResolver {
  constructor(private readonly projectsService: ProjectsService) {}

  @Query(() => ProjectPage, { description: 'Projects the gateway credential may see, a page at a time.' })
  @RequireScope('read')
  @WholeAnswerCacheable()
  async projects(
    @Args() { page, size }: PageArgs,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ProjectPage> {
    return this.projectsService.listPage(page, size, principal);
  }

  @Query(() => Project, {
    description:
      'One project, by id or by exact name (exactly one of the two). Names shared by two projects answer AMBIGUOUS_NAME.',
  })
  @RequireScope('read')
  @WholeAnswerCacheable()
  @ProjectIdArgs('id')
  project(@Args() selector: ProjectSelectorArgs, @CurrentPrincipal() principal: Principal): Promise<Project> {
    return this.projectsService.find(selector, principal);
  }
}
