import type { EmulatorConfig } from './emulator.config';
import { snapshotOf, stepsOf, toWireExecution, wireStatuses, type ExecutionRecord } from './execution.model';
import {
  HttpProblem,
  clampedInt,
  isPlainObject,
  isUuid,
  isoParam,
  jsonReply,
  pageOf,
  parsePaging,
  uuidParam,
  type Reply,
} from './http.util';
import type { RouteName } from './route.names';
import type { AllowlistEntry, SeedClient } from './seed.loader';
import type {
  AgentState,
  EnvironmentState,
  ExecutionFilter,
  PipelineState,
  ProjectState,
  WorldState,
} from './world.state';

type PublishedWire = PipelineState['wire'];

/** Who is calling: the client behind the bearer token and, for a restricted client, its roles. */
export interface AuthContext {
  clientId: string;
  /** null = every project and environment; otherwise projectId → environments (null = all of them). */
  roles: ReadonlyMap<string, ReadonlySet<string> | null> | null;
}

export interface RouteContext {
  params: string[];
  query: URLSearchParams | null;
  body: unknown;
  auth: AuthContext;
  nowMs: number;
}

export interface RouteDef {
  name: RouteName;
  /** False only for the token route; every `/dpc/v1/**` route needs a bearer token. */
  authenticated: boolean;
  handle: (ctx: RouteContext) => Reply;
}

export type RouteMatch = { route: RouteDef; params: string[] } | { allow: string[] } | null;

const knownStatuses: ReadonlySet<string> = new Set(wireStatuses);
const tagConflictBody = { error: 'A pipeline execution with this tag is already running.', status: 409 };

/** The Maia API of docs/maia-api.md: route matching by path segments plus one handler per row. */
export class MaiaApiRouter {
  private readonly routes: Record<RouteName, RouteDef>;

  constructor(
    private readonly world: WorldState,
    private readonly config: () => EmulatorConfig,
  ) {
    const def = (name: RouteName, handle: (ctx: RouteContext) => Reply): RouteDef => ({
      name,
      authenticated: name !== 'token',
      handle,
    });
    this.routes = {
      // The token route is answered by the server itself (it needs the raw form body and the clients).
      token: def('token', () => {
        throw new HttpProblem(500, 'token is handled by the server');
      }),
      listProjects: def('listProjects', (c) => this.listProjects(c)),
      listEnvironments: def('listEnvironments', (c) => this.listEnvironments(c)),
      listPublishedPipelines: def('listPublishedPipelines', (c) => this.listPublishedPipelines(c)),
      executePipeline: def('executePipeline', (c) => this.executePipeline(c)),
      getExecution: def('getExecution', (c) => this.getExecution(c)),
      getExecutionStatus: def('getExecutionStatus', (c) => this.getExecutionStatus(c)),
      listSteps: def('listSteps', (c) => this.listSteps(c)),
      cancelExecution: def('cancelExecution', (c) => this.cancelExecution(c)),
      listExecutions: def('listExecutions', (c) => this.listExecutions(c)),
      listArtifacts: def('listArtifacts', (c) => this.listArtifacts(c)),
      getArtifactDetails: def('getArtifactDetails', (c) => this.getArtifactDetails(c)),
      listAgents: def('listAgents', (c) => this.listAgents(c)),
      getAllowlist: def('getAllowlist', (c) => this.getAllowlist(c)),
      putAllowlist: def('putAllowlist', (c) => this.putAllowlist(c)),
      patchAllowlist: def('patchAllowlist', (c) => this.patchAllowlist(c)),
    };
  }

  /** Matches a path (without query) split on "/"; captured segments are still URL-encoded. */
  match(method: string, segs: string[]): RouteMatch {
    const r = this.routes;
    let byMethod: Partial<Record<string, RouteDef>> | null = null;
    let params: string[] = [];
    const n = segs.length;
    if (segs[1] === 'oauth') {
      if (n === 4 && segs[2] === 'dpc' && segs[3] === 'token') byMethod = { POST: r.token };
    } else if (segs[1] === 'dpc' && segs[2] === 'v1') {
      const top = segs[3];
      if (top === 'projects') {
        if (n === 4) {
          byMethod = { GET: r.listProjects };
        } else if (n === 6) {
          params = [segs[4]];
          if (segs[5] === 'environments') byMethod = { GET: r.listEnvironments };
          else if (segs[5] === 'published-pipelines') byMethod = { GET: r.listPublishedPipelines };
          else if (segs[5] === 'pipeline-executions') byMethod = { POST: r.executePipeline };
          else if (segs[5] === 'artifacts') byMethod = { GET: r.listArtifacts };
        } else if (n === 7 && segs[5] === 'artifacts' && segs[6] === 'details') {
          params = [segs[4]];
          byMethod = { GET: r.getArtifactDetails };
        } else if (segs[5] === 'pipeline-executions') {
          params = [segs[4], segs[6]];
          if (n === 7) byMethod = { GET: r.getExecution, PATCH: r.cancelExecution };
          else if (n === 8 && segs[7] === 'status') byMethod = { GET: r.getExecutionStatus };
          else if (n === 8 && segs[7] === 'steps') byMethod = { GET: r.listSteps };
        }
      } else if (top === 'pipeline-executions' && n === 4) {
        byMethod = { GET: r.listExecutions };
      } else if (top === 'agents' && n === 4) {
        byMethod = { GET: r.listAgents };
      } else if (top === 'agents' && n === 6 && segs[5] === 'allowlist') {
        params = [segs[4]];
        byMethod = { GET: r.getAllowlist, PUT: r.putAllowlist, PATCH: r.patchAllowlist };
      }
    }
    if (!byMethod) return null;
    const route = byMethod[method];
    if (!route) return { allow: Object.keys(byMethod) };
    return { route, params };
  }

  // --- projects, environments, published pipelines -------------------------------------------------

  private listProjects(c: RouteContext): Reply {
    const paging = parsePaging(c.query);
    const roles = c.auth.roles;
    const visible =
      roles === null ? this.world.projectList : this.world.projectList.filter((p) => roles.has(p.id));
    return jsonReply(200, pageOf(visible, paging));
  }

  private listEnvironments(c: RouteContext): Reply {
    const project = this.requireProject(c, c.params[0]);
    const paging = parsePaging(c.query);
    const envs = c.auth.roles?.get(project.id);
    const visible = envs ? project.environmentList.filter((e) => envs.has(e.name)) : project.environmentList;
    return jsonReply(200, pageOf(visible, paging));
  }

  private listPublishedPipelines(c: RouteContext): Reply {
    const project = this.requireProject(c, c.params[0]);
    const environmentName = nonEmpty(c.query?.get('environmentName'));
    const paging = parsePaging(c.query);
    if (environmentName === null) {
      // Maia answers without an environment too (a public client never sends one): what is published to
      // any environment the credential sees, each pipeline once.
      const envs = c.auth.roles?.get(project.id);
      const seen = new Map<string, PublishedWire>();
      for (const env of project.environments.values()) {
        if (envs && !envs.has(env.name)) continue;
        for (const pipeline of env.published) seen.set(pipeline.wire.name, pipeline.wire);
      }
      return jsonReply(200, pageOf([...seen.values()], paging));
    }
    const env = this.requireEnvironment(c, project, environmentName);
    return jsonReply(
      200,
      pageOf(
        env.published.map((p) => p.wire),
        paging,
      ),
    );
  }

  // --- artifacts (published versions) and runners ---------------------------------------------------

  private listArtifacts(c: RouteContext): Reply {
    const project = this.requireProject(c, c.params[0]);
    const environmentName = nonEmpty(c.query?.get('environmentName'));
    const paging = parsePaging(c.query);
    const envs = c.auth.roles?.get(project.id);
    const environments =
      environmentName === null
        ? [...project.environments.values()].filter((e) => !envs || envs.has(e.name))
        : [this.requireEnvironment(c, project, environmentName)];
    const artifacts = environments.flatMap((env) => this.world.artifactsOf(env).map((a) => a.wire));
    return jsonReply(200, pageOf(artifacts, paging));
  }

  private getArtifactDetails(c: RouteContext): Reply {
    const project = this.requireProject(c, c.params[0]);
    const environmentName = nonEmpty(c.query?.get('environmentName'));
    const versionName = nonEmpty(c.query?.get('versionName'));
    if (environmentName === null) throw new HttpProblem(400, 'environmentName is required');
    if (versionName === null) throw new HttpProblem(400, 'versionName is required');
    const env = this.requireEnvironment(c, project, environmentName);
    const artifact = this.world.artifactsOf(env).find((a) => a.versionName === versionName);
    if (!artifact) {
      throw new HttpProblem(404, `Version "${versionName}" is not published to environment "${env.name}"`);
    }
    return jsonReply(200, {
      artifactDetails: artifact.wire,
      pipelines: artifact.pipelines.map((p) => ({ name: p.name })),
    });
  }

  /** Every runner of the account: the list is account-wide, whatever projects the credential may see. */
  private listAgents(c: RouteContext): Reply {
    const paging = parsePaging(c.query);
    const agents = [...this.world.agents.values()].map((a) => ({
      agentId: a.id,
      name: a.name,
      restricted: a.restricted,
    }));
    return jsonReply(200, pageOf(agents, paging));
  }

  // --- executions ---------------------------------------------------------------------------------

  private executePipeline(c: RouteContext): Reply {
    const project = this.requireProject(c, c.params[0]);
    const body = c.body;
    if (!isPlainObject(body)) throw new HttpProblem(400, 'Request body must be a JSON object');
    const pipelineName = requiredString(body.pipelineName, 'pipelineName');
    const environmentName = requiredString(body.environmentName, 'environmentName');
    const versionName = optionalString(body.versionName, 'versionName');
    const agentIdRaw = optionalString(body.agentId, 'agentId');
    if (agentIdRaw !== null && !isUuid(agentIdRaw)) throw new HttpProblem(400, 'agentId must be a UUID');
    const executionTag = optionalString(body.executionTag, 'executionTag');
    const scalarVariables = scalarVariablesOf(body.scalarVariables);
    const gridVariables = gridVariablesOf(body.gridVariables);

    const env = this.requireEnvironment(c, project, environmentName);
    const pipeline = project.pipelines.get(pipelineName);
    if (!pipeline || !pipeline.environments.has(env.name)) {
      throw new HttpProblem(
        404,
        `Published pipeline "${pipelineName}" not found in environment "${env.name}"`,
      );
    }
    if (pipeline.seed.disabled) throw new HttpProblem(410, `Pipeline "${pipelineName}" is disabled`);
    if (versionName !== null && !pipeline.versions.has(versionName)) {
      throw new HttpProblem(404, `Version "${versionName}" of pipeline "${pipelineName}" not found`);
    }
    let agent: AgentState | null = null;
    if (agentIdRaw !== null) {
      agent = this.world.agents.get(agentIdRaw.toLowerCase()) ?? null;
      if (!agent) throw new HttpProblem(404, `Agent ${agentIdRaw} not found`);
    } else if (env.defaultAgentId) {
      agent = this.world.agents.get(env.defaultAgentId) ?? null;
    }
    if (executionTag !== null && this.world.runningWithTag(project.id, env.name, executionTag, c.nowMs)) {
      return jsonReply(409, tagConflictBody);
    }
    const rec = this.world.execute({
      project,
      environment: env,
      pipeline,
      versionName: versionName ?? pipeline.latestVersion,
      agent,
      executionTag,
      scalarVariables,
      gridVariables,
      timeScale: this.config().timeScale,
      nowMs: c.nowMs,
    });
    return jsonReply(201, { pipelineExecutionId: rec.id });
  }

  private getExecution(c: RouteContext): Reply {
    const rec = this.requireExecution(c);
    const snap = snapshotOf(rec, c.nowMs);
    if (this.config().detailsWrapped) return jsonReply(200, { result: toWireExecution(rec, snap, false) });
    return jsonReply(200, toWireExecution(rec, snap, true));
  }

  private getExecutionStatus(c: RouteContext): Reply {
    const rec = this.requireExecution(c);
    return jsonReply(200, { status: snapshotOf(rec, c.nowMs).status });
  }

  private listSteps(c: RouteContext): Reply {
    const rec = this.requireExecution(c);
    const paging = parsePaging(c.query);
    return jsonReply(200, pageOf(stepsOf(rec, snapshotOf(rec, c.nowMs), c.nowMs), paging));
  }

  private cancelExecution(c: RouteContext): Reply {
    const rec = this.requireExecution(c);
    const body = c.body;
    if (!isPlainObject(body)) throw new HttpProblem(400, 'Request body must be a JSON object');
    if (body.status !== 'CANCELLED') throw new HttpProblem(400, 'status must be "CANCELLED"');
    if (
      body.forceUpdate !== undefined &&
      body.forceUpdate !== null &&
      typeof body.forceUpdate !== 'boolean'
    ) {
      throw new HttpProblem(400, 'forceUpdate must be a boolean');
    }
    this.world.cancel(rec, body.forceUpdate === true, c.nowMs);
    return jsonReply(200, { pipelineExecutionId: rec.id });
  }

  private listExecutions(c: RouteContext): Reply {
    const q = c.query;
    const projectIdRaw = nonEmpty(q?.get('projectId'));
    const statuses = q
      ? q
          .getAll('status')
          .flatMap((s) => s.split(','))
          .filter((s) => s !== '')
      : [];
    for (const s of statuses) {
      if (!knownStatuses.has(s))
        throw new HttpProblem(400, `status "${s}" is not one of ${wireStatuses.join(', ')}`);
    }
    const pipelineName = nonEmpty(q?.get('pipelineName'));
    const roles = c.auth.roles;
    const filter: ExecutionFilter = {
      visible:
        roles === null
          ? () => true
          : (rec: ExecutionRecord) => {
              if (!roles.has(rec.projectId)) return false;
              const envs = roles.get(rec.projectId);
              return !envs || envs.has(rec.environmentName);
            },
      projectId: projectIdRaw === null ? null : uuidParam(projectIdRaw, 'projectId'),
      pipelineNameLower: pipelineName === null ? null : pipelineName.toLowerCase(),
      environmentName: nonEmpty(q?.get('environmentName')),
      statuses: statuses.length > 0 ? new Set(statuses) : null,
      scheduleId: nonEmpty(q?.get('scheduleId')),
      startedAfterMs: isoParam(q?.get('startedAfter') ?? null, 'startedAfter'),
      startedBeforeMs: isoParam(q?.get('startedBefore') ?? null, 'startedBefore'),
    };
    const limit = clampedInt(q?.get('limit') ?? null, 'limit', 25, 1, 100);
    const token = nonEmpty(q?.get('paginationToken'));
    const fromIndex = token === null ? this.world.ordered.length - 1 : this.decodePaginationToken(token);
    const { results, nextIndex } = this.world.list(filter, fromIndex, limit, c.nowMs);
    const body: { results: unknown[]; more?: string } = {
      results: results.map(({ rec, snap }) => toWireExecution(rec, snap, true)),
    };
    if (nextIndex !== null) body.more = this.encodePaginationToken(nextIndex);
    return jsonReply(200, body);
  }

  /** Opaque to clients; carries the world generation so a token from before a reset is refused. */
  private encodePaginationToken(index: number): string {
    return Buffer.from(`v1:${this.world.generation}:${index}`).toString('base64url');
  }

  private decodePaginationToken(token: string): number {
    const match = /^v1:(\d+):(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      !match ||
      Number(match[1]) !== this.world.generation ||
      Number(match[2]) >= this.world.ordered.length
    ) {
      throw new HttpProblem(400, 'paginationToken is invalid or expired');
    }
    return Number(match[2]);
  }

  // --- runner allow lists -------------------------------------------------------------------------

  private getAllowlist(c: RouteContext): Reply {
    return jsonReply(200, allowlistView(this.requireAgent(c)));
  }

  private putAllowlist(c: RouteContext): Reply {
    const agent = this.requireAgent(c);
    const body = c.body;
    if (!isPlainObject(body)) throw new HttpProblem(400, 'Request body must be a JSON object');
    const entries = allowlistEntries(body.allowlist, 'allowlist');
    const restricted = optionalBoolean(body.restricted, 'restricted');
    agent.allowlist = dedupe(entries);
    if (restricted !== null) agent.restricted = restricted;
    return jsonReply(200, allowlistView(agent));
  }

  private patchAllowlist(c: RouteContext): Reply {
    const agent = this.requireAgent(c);
    const body = c.body;
    if (!isPlainObject(body)) throw new HttpProblem(400, 'Request body must be a JSON object');
    if (body.add === undefined && body.remove === undefined && body.restricted === undefined) {
      throw new HttpProblem(400, 'Give at least one of add, remove, restricted');
    }
    const add = body.add === undefined ? [] : allowlistEntries(body.add, 'add');
    const remove = body.remove === undefined ? [] : allowlistEntries(body.remove, 'remove');
    const restricted = optionalBoolean(body.restricted, 'restricted');
    const removed = new Set(remove.map(entryKey));
    agent.allowlist = dedupe([...agent.allowlist.filter((e) => !removed.has(entryKey(e))), ...add]);
    if (restricted !== null) agent.restricted = restricted;
    return jsonReply(200, allowlistView(agent));
  }

  // --- lookups that answer 400/403/404 ------------------------------------------------------------

  private requireProject(c: RouteContext, rawId: string): ProjectState {
    const id = uuidParam(rawId, 'projectId');
    const project = this.world.projects.get(id);
    if (!project) throw new HttpProblem(404, `Project ${id} not found`);
    if (c.auth.roles !== null && !c.auth.roles.has(id)) {
      throw new HttpProblem(403, `The credential has no role on project ${id}`);
    }
    return project;
  }

  private requireEnvironment(c: RouteContext, project: ProjectState, name: string): EnvironmentState {
    const env = project.environments.get(name);
    if (!env) throw new HttpProblem(404, `Environment "${name}" not found in project ${project.id}`);
    const envs = c.auth.roles?.get(project.id);
    if (envs && !envs.has(name))
      throw new HttpProblem(403, `The credential has no role on environment "${name}"`);
    return env;
  }

  private requireExecution(c: RouteContext): ExecutionRecord {
    const project = this.requireProject(c, c.params[0]);
    const id = uuidParam(c.params[1], 'pipelineExecutionId');
    const rec = project.executions.get(id);
    if (!rec) throw new HttpProblem(404, `Pipeline execution ${id} not found in project ${project.id}`);
    const envs = c.auth.roles?.get(project.id);
    if (envs && !envs.has(rec.environmentName)) {
      throw new HttpProblem(403, `The credential has no role on environment "${rec.environmentName}"`);
    }
    return rec;
  }

  private requireAgent(c: RouteContext): AgentState {
    const id = uuidParam(c.params[0], 'agentId');
    const agent = this.world.agents.get(id);
    if (!agent) throw new HttpProblem(404, `Agent ${id} not found`);
    // Managing runners is an account-wide admin task; a credential limited to some projects may not.
    if (c.auth.roles !== null)
      throw new HttpProblem(403, 'Managing a runner allow list needs an account-wide role');
    return agent;
  }
}

/** Resolves a client's seed roles into the lookup shape requests use. */
export function authContextOf(client: SeedClient): AuthContext {
  if (client.roles === null) return { clientId: client.clientId, roles: null };
  const roles = new Map<string, ReadonlySet<string> | null>();
  for (const role of client.roles)
    roles.set(role.projectId, role.environments ? new Set(role.environments) : null);
  return { clientId: client.clientId, roles };
}

function allowlistView(agent: AgentState) {
  return {
    agentId: agent.id,
    agentName: agent.name,
    restricted: agent.restricted,
    allowlist: agent.allowlist,
  };
}

function allowlistEntries(raw: unknown, field: string): AllowlistEntry[] {
  if (!Array.isArray(raw))
    throw new HttpProblem(400, `${field} must be an array of {projectId, environmentName}`);
  return raw.map((e: unknown, i) => {
    if (!isPlainObject(e)) throw new HttpProblem(400, `${field}[${i}] must be an object`);
    if (typeof e.projectId !== 'string' || !isUuid(e.projectId)) {
      throw new HttpProblem(400, `${field}[${i}].projectId must be a UUID`);
    }
    if (typeof e.environmentName !== 'string' || e.environmentName === '') {
      throw new HttpProblem(400, `${field}[${i}].environmentName must be a non-empty string`);
    }
    return { projectId: e.projectId.toLowerCase(), environmentName: e.environmentName };
  });
}

function entryKey(e: AllowlistEntry): string {
  return `${e.projectId}\u0000${e.environmentName}`;
}

function dedupe(entries: AllowlistEntry[]): AllowlistEntry[] {
  const seen = new Map<string, AllowlistEntry>();
  for (const e of entries) if (!seen.has(entryKey(e))) seen.set(entryKey(e), e);
  return [...seen.values()];
}

function requiredString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '')
    throw new HttpProblem(400, `${field} is required and must be a string`);
  return value;
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value === '')
    throw new HttpProblem(400, `${field} must be a non-empty string`);
  return value;
}

function optionalBoolean(value: unknown, field: string): boolean | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'boolean') throw new HttpProblem(400, `${field} must be a boolean`);
  return value;
}

function nonEmpty(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === '' ? null : value;
}

function scalarVariablesOf(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) throw new HttpProblem(400, 'scalarVariables must be an object of strings');
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw new HttpProblem(400, `scalarVariables.${name} must be a string`);
  }
  return raw as Record<string, string>;
}

function gridVariablesOf(raw: unknown): Record<string, string[][]> {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) throw new HttpProblem(400, 'gridVariables must be an object of string[][]');
  for (const [name, rows] of Object.entries(raw)) {
    const ok =
      Array.isArray(rows) &&
      rows.every((row) => Array.isArray(row) && row.every((cell) => typeof cell === 'string'));
    if (!ok) throw new HttpProblem(400, `gridVariables.${name} must be an array of arrays of strings`);
  }
  return raw as Record<string, string[][]>;
}
