import { environmentNodeId } from '../graphql/node/node-id';
import type { MaiaAgent, MaiaEnvironment } from '../maia/maia.types';
import type { AgentDto } from './dto/agent.dto';
import type { EnvironmentDto } from './dto/environment.dto';
import type { Agent, Environment } from './models/environment.model';

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

export function toAgent(agent: MaiaAgent): Agent {
  return { id: agent.agentId, name: agent.name };
}

export function toAgentDto(agent: MaiaAgent): AgentDto {
  if (agent.asSent) return agent.asSent as unknown as AgentDto;
  const out: AgentDto = { agentId: agent.agentId };
  if (agent.name !== null) out.name = agent.name;
  if (agent.restricted !== null) out.restricted = agent.restricted;
  if (agent.status !== null) out.status = agent.status;
  return out;
}
