import { Args, ArgsType, Field, ID, Query, Resolver } from '@nestjs/graphql';
import { ArrayMaxSize, IsArray, IsString, MaxLength } from 'class-validator';
import { AccessPolicy } from '../../auth/access-policy';
import { CurrentPrincipal } from '../../auth/current-principal.decorator';
import type { Principal } from '../../auth/principal';
import { RequireScope } from '../../auth/require-scope.decorator';
import { ErrorCode, GatewayError } from '../../common/errors';
import { toEnvironment } from '../../environments/environment.mapper';
import { EnvironmentsService } from '../../environments/environments.service';
import { toPipelineExecution } from '../../executions/execution.mapper';
import { ExecutionsService, ProbeBudget } from '../../executions/executions.service';
import { toPublishedPipeline } from '../../pipelines/pipeline.mapper';
import { PipelinesService } from '../../pipelines/pipelines.service';
import { ProjectsService } from '../../projects/projects.service';
import { decodeNodeId } from './node-id';
import { asNode, Node } from './node.interface';

/** At most this many ids per `nodes` call: each may cost a catalog lookup. */
const MAX_NODE_IDS = 100;

@ArgsType()
class NodeArgs {
  @Field(() => ID, { description: 'A global id, as an object of a Node type gave it in `id`.' })
  @IsString()
  @MaxLength(2048)
  id!: string;
}

@ArgsType()
class NodesArgs {
  @Field(() => [ID], { description: `Global ids (at most ${MAX_NODE_IDS}).` })
  @IsArray()
  @ArrayMaxSize(MAX_NODE_IDS)
  @IsString({ each: true })
  @MaxLength(2048, { each: true })
  ids!: string[];
}

/** An id that names nothing the caller may see: worded alike whatever the reason (no probing). */
function nodeNotFound(): GatewayError {
  // No detail: an opaque id carries its project, and a hidden one must read exactly as a missing one.
  return new GatewayError(ErrorCode.NOT_FOUND, 'No object has this id');
}

/**
 * Relay's `node` and `nodes`. The project of every id is checked against the caller's projects like any
 * other read: an object of a hidden project answers exactly like one that does not exist.
 *
 * A bare UUID is a project's id or an execution's (both kept Maia's ids): a project the caller may see is
 * tried first (the project directory is cached, so this costs no Maia call), then an execution. An
 * execution is found through the project the gateway recorded when it handed the id out, else by reading it
 * in the caller's own projects, at most MAX_LOCATE_PROBES Maia calls per `node` or `nodes` call (ADR 0019).
 */
@Resolver(() => Node)
export class NodeResolver {
  constructor(
    private readonly projects: ProjectsService,
    private readonly environments: EnvironmentsService,
    private readonly pipelines: PipelinesService,
    private readonly executions: ExecutionsService,
    private readonly access: AccessPolicy,
  ) {}

  @Query(() => Node, {
    nullable: true,
    description:
      'The object with this global id (Relay). An id that names nothing the caller may see answers NOT_FOUND, as a missing one does.',
  })
  @RequireScope('read')
  node(@Args() { id }: NodeArgs, @CurrentPrincipal() principal: Principal): Promise<Node> {
    return this.find(id, principal, new ProbeBudget());
  }

  @Query(() => [Node], {
    nullable: 'items',
    description:
      'The objects with these global ids, in order; each one not found is null with a NOT_FOUND error at its index.',
  })
  @RequireScope('read')
  nodes(@Args() { ids }: NodesArgs, @CurrentPrincipal() principal: Principal): Promise<Node>[] {
    // A rejected item becomes null plus an error at its path; the others are still answered.
    const budget = new ProbeBudget(); // shared: a list of unknown UUIDs costs no more than one
    const found = ids.map((id) => this.find(id, principal, budget));
    // Handled here too: an item may reject before the chain below reaches it.
    for (const item of found) item.catch(() => undefined);
    // Each item settles after those before it, so the errors come in index order whichever lookup was
    // slower: how long a lookup took (a hidden object's or a missing one's) does not show in the answer.
    return found.map((item, index) => Promise.allSettled(found.slice(0, index)).then(() => item));
  }

  private async find(id: string, principal: Principal, budget: ProbeBudget): Promise<Node> {
    const decoded = decodeNodeId(id);
    if (!decoded) throw nodeNotFound();
    if (decoded.type === 'ProjectOrPipelineExecution') {
      const [uuid] = decoded.parts;
      const project = this.access.canSeeProject(principal, uuid)
        ? await this.visibleProject(uuid)
        : undefined;
      return project ?? this.execution(uuid, principal, budget);
    }
    if (decoded.type === 'PipelineExecution') return this.execution(decoded.parts[0], principal, budget);
    const [projectId, ...rest] = decoded.parts;
    if (!this.access.canSeeProject(principal, projectId)) throw nodeNotFound();
    try {
      switch (decoded.type) {
        case 'Project':
          return asNode('Project', await this.projects.getById(projectId));
        case 'Environment': {
          const environment = await this.environments.getByName(projectId, rest[0]);
          return asNode('Environment', toEnvironment(projectId, environment));
        }
        case 'PublishedPipeline': {
          const [environmentName, name] = rest;
          const key = { projectId, environmentName };
          const pipeline = (await this.pipelines.listAll(key)).find((p) => p.name === name);
          if (!pipeline) throw nodeNotFound();
          return asNode('PublishedPipeline', toPublishedPipeline(key, pipeline));
        }
      }
    } catch (error) {
      // A missing project or environment is a missing node; Maia being down stays what it is.
      if (GatewayError.is(error, ErrorCode.NOT_FOUND)) throw nodeNotFound();
      throw error;
    }
  }

  /** The project with this id, when it exists (the caller was checked). */
  private async visibleProject(projectId: string): Promise<Node | undefined> {
    try {
      return asNode('Project', await this.projects.getById(projectId));
    } catch (error) {
      if (GatewayError.is(error, ErrorCode.NOT_FOUND)) return undefined;
      throw error;
    }
  }

  /** The execution with this id in a project the caller may see, or NOT_FOUND worded as for any node. */
  private async execution(executionId: string, principal: Principal, budget: ProbeBudget): Promise<Node> {
    const visible = this.access.filterProjects(principal, await this.projects.directory());
    const execution = await this.executions.locate(
      executionId,
      visible.map((project) => project.id),
      budget,
    );
    if (!execution) throw nodeNotFound();
    return asNode('PipelineExecution', toPipelineExecution(execution));
  }
}
