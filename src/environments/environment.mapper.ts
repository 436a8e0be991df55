import { environmentNodeId } from '../graphql/node/node-id';
import type { MaiaEnvironment } from '../maia/maia.types';
import type { EnvironmentDto } from './dto/environment.dto';
import type { Environment } from './models/environment.model';

export function toEnvironment(projectId: string, environment: MaiaEnvironment): Environment {
  return {
    id: environmentNodeId(projectId, environment.name),
    name: environment.name,
    projectId,
    defaultAgent: environment.defaultAgentId
      ? { id: environment.defaultAgentId, name: environment.defaultAgentName }
      : null,
  };
}

/** Maia's wire shape, for REST: as Maia sent it, or else optional members left out rather than null. */
export function toEnvironmentDto(environment: MaiaEnvironment): EnvironmentDto {
  if (environment.asSent) return environment.asSent as unknown as EnvironmentDto;
  const out: EnvironmentDto = { name: environment.name };
  if (environment.defaultAgentId) out.defaultAgentId = environment.defaultAgentId;
  if (environment.defaultAgentName) out.defaultAgentName = environment.defaultAgentName;
  return out;
}
