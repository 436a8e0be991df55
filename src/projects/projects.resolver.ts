import { Args, Query, Resolver } from '@nestjs/graphql';
import { RequireScope } from '../auth/require-scope.decorator';
import { PageArgs } from '../graphql/page.args';
import { ProjectSelectorArgs } from './dto/project-selector.args';
import { Project, ProjectPage } from './models/project.model';
import { ProjectsService } from './projects.service';

@Resolver(() => Project)
export class ProjectsResolver {
  constructor(private readonly projectsService: ProjectsService) {}

  @Query(() => ProjectPage, { description: 'Projects the gateway credential may see, a page at a time.' })
  @RequireScope('read')
  projects(@Args() { page, size }: PageArgs): Promise<ProjectPage> {
    return this.projectsService.listPage(page, size);
  }

  @Query(() => Project, {
    description:
      'One project, by id or by exact name (exactly one of the two). Names shared by two projects answer AMBIGUOUS_NAME.',
  })
  @RequireScope('read')
  project(@Args() selector: ProjectSelectorArgs): Promise<Project> {
    return this.projectsService.find(selector);
  }
}
