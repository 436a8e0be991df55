import type { MaiaProject } from '../maia/maia.types';
import type { ProjectDto } from './dto/project.dto';

/** Maia's wire shape, for REST: as Maia sent it (unknown members kept), or else built from the domain. */
export function toProjectDto(project: MaiaProject): ProjectDto {
  if (project.asSent) return project.asSent as unknown as ProjectDto;
  return { id: project.id, name: project.name, description: project.description };
}
