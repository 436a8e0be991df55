import { httpStatusOf, type ErrorCode } from '../../src/common/errors';
import type { Scope } from '../../src/auth/require-scope.decorator';
import { graphqlCall, restCall, sseCall, wsCall, type Outcome } from './support/probes';
import {
  ALL_PROJECT_IDS,
  ANALYTICS_FINISHED_EXECUTION,
  KEYS,
  NONEXISTENT_PROJECT,
  PROJECTS,
  startSecuredWorld,
  type SecuredWorld,
} from './support/secured-gateway';

/**
 * Every GraphQL query, mutation and subscription and every REST route (SSE and waitSeconds included) ×
 * {no credentials, wrong key, expired JWT, read-only key, key for another project, admin}, against the
 * emulator: the expected outcome for each cell, and no data of a project the caller may not see in any
 * answer. The target project is Analytics Warehouse; "another project" is a read/execute/cancel key for
 * Marketing only; the read-only key may read Analytics Warehouse only.
 */

type Caller = 'none' | 'wrongKey' | 'expiredJwt' | 'reader' | 'otherProject' | 'admin';
const CALLERS: Caller[] = ['none', 'wrongKey', 'expiredJwt', 'reader', 'otherProject', 'admin'];
type Transport = 'graphql' | 'rest' | 'sse' | 'ws';

interface Op {
  name: string;
  /** What it covers: `graphql:Query.projects`, `rest:GET /api/v1/projects`... */
  covers: string;
  transport: Transport;
  scope: Scope;
  /** `project`: acts on Analytics Warehouse; `list`: lists whatever the caller may see; `public`: anyone. */
  target: 'project' | 'list' | 'public';
  /** The answer when allowed (default OK); a subscription that stays quiet may also be OK. */
  allowed?: string;
  quietIsOk?: boolean;
  /** The request's own text: ids in it may be echoed back (not a leak). */
  request: string;
  /** Calls it; `projectId` replaces the target project (Analytics Warehouse) wherever it appears. */
  call(url: string, credentials: Record<string, string>, projectId?: string): Promise<Outcome>;
}

/** `value` with the target project's id replaced by `projectId`. */
function onProject<T>(value: T, projectId: string | undefined): T {
  if (projectId === undefined || value === undefined) return value;
  const text = JSON.stringify(value).replaceAll(A, projectId).replaceAll(A_NAME, nameOf(projectId));
  return JSON.parse(text) as T;
}
const A_NAME = 'Analytics Warehouse';
const nameOf = (projectId: string) => (projectId === A ? A_NAME : `Project ${projectId.slice(0, 8)}`);

const A = PROJECTS.analytics;
const E = ANALYTICS_FINISHED_EXECUTION;
const execFields = 'id projectId pipelineName status message';

function gqlOp(
  name: string,
  covers: string,
  scope: Scope,
  target: Op['target'],
  query: string,
  variables: Record<string, unknown> = {},
  allowed?: string,
): Op {
  return {
    name,
    covers: `graphql:${covers}`,
    transport: 'graphql',
    scope,
    target,
    allowed,
    request: query + JSON.stringify(variables),
    call: (url, headers, projectId) =>
      graphqlCall(url, headers, onProject(query, projectId), onProject(variables, projectId)),
  };
}

/**
 * `node`/`nodes` on an object of the target project: the global id is built from the project the call
 * targets (an opaque id holds its project, so it cannot be rewritten in the request's text).
 */
function nodeOp(name: string, covers: string, ids: (projectId: string) => string[]): Op {
  const many = covers === 'Query.nodes';
  const query = many
    ? 'query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }'
    : 'query ($id: ID!) { node(id: $id) { __typename id ... on Environment { name projectId } ... on PublishedPipeline { name projectId environmentName } } }';
  const variables = (projectId: string) => (many ? { ids: ids(projectId) } : { id: ids(projectId)[0] });
  return {
    name,
    covers: `graphql:${covers}`,
    transport: 'graphql',
    scope: 'read',
    target: 'project',
    request: query + JSON.stringify(variables(A)),
    call: (url, headers, projectId) => graphqlCall(url, headers, query, variables(projectId ?? A)),
  };
}
const environmentId = (projectId: string) =>
  Buffer.from(`Environment:${projectId}:Dev`).toString('base64url');
const MISSING_EXECUTION = '00000000-0000-4000-8000-00000000e404';
const executionOf = (projectId: string) => (projectId === A ? E : MISSING_EXECUTION);
const pipelineId = (projectId: string) =>
  Buffer.from(
    `PublishedPipeline:${projectId}:Dev:${encodeURIComponent('FOLDER/load_orders.orch.yaml')}`,
  ).toString('base64url');

function restOp(
  name: string,
  route: string,
  scope: Scope,
  target: Op['target'],
  path: string,
  body?: unknown,
  allowed?: string,
): Op {
  const [method] = route.split(' ');
  return {
    name,
    covers: `rest:${route}`,
    transport: 'rest',
    scope,
    target,
    allowed,
    request: path + JSON.stringify(body ?? null),
    call: (url, headers, projectId) =>
      restCall(url, headers, method, onProject(path, projectId), onProject(body, projectId)),
  };
}

/**
 * A Maia route under the gateway's base (`/api/v1`) and, as the same op, under Maia's own (`/dpc/v1`, a
 * client that swaps only the host): both must be authorized the same way.
 */
function maiaRestOps(
  name: string,
  route: string,
  scope: Scope,
  target: Op['target'],
  path: string,
  body?: unknown,
  allowed?: string,
): Op[] {
  const hostSwapped = (text: string) => text.replace('/api/v1/', '/dpc/v1/');
  return [
    restOp(name, route, scope, target, path, body, allowed),
    restOp(`${name} (/dpc/v1)`, hostSwapped(route), scope, target, hostSwapped(path), body, allowed),
  ];
}

const OPS: Op[] = [
  gqlOp(
    'projects',
    'Query.projects',
    'read',
    'list',
    '{ projects(page: 0, size: 100) { total results { id name description } } }',
  ),
  gqlOp(
    'viewer (the caller itself)',
    'Query.viewer',
    'read',
    'list',
    '{ viewer { name kind scopes allProjects projectIds } }',
  ),
  gqlOp(
    'project by id, with environments, pipelines and run histories',
    'Query.project',
    'read',
    'project',
    `query ($id: ID) { project(id: $id) { id name
       environments { results { id name defaultAgent { id name restricted }
         versions { results { versionName } } runners { results { id name } }
         executions(first: 5, filter: { pipelineName: "FOLDER/load_orders.orch.yaml" }) { nodes { ${execFields} } }
         publishedPipelines { results { id name projectId versions { results { versionName } } lastExecution { ${execFields} } executions(first: 5) { nodes { id } } } } } }
       environment(name: "Dev") { name }
       executions(first: 5) { nodes { ${execFields} } } } }`,
    { id: A },
  ),
  gqlOp(
    'project by name',
    'Query.project',
    'read',
    'project',
    '{ project(name: "Analytics Warehouse") { id name } }',
  ),
  nodeOp('node: a project', 'Query.node', (p) => [p]),
  nodeOp('node: an environment', 'Query.node', (p) => [environmentId(p)]),
  nodeOp('node: a published pipeline', 'Query.node', (p) => [pipelineId(p)]),
  nodeOp('nodes: a project, its environment and its pipeline', 'Query.nodes', (p) => [
    p,
    environmentId(p),
    pipelineId(p),
  ]),
  // An execution's id is Maia's bare UUID (it holds no project): on another project, a run nobody has.
  nodeOp('node: an execution', 'Query.node', (p) => [executionOf(p)]),
  nodeOp('nodes: an execution and its typed id', 'Query.nodes', (p) => [
    executionOf(p),
    Buffer.from(`PipelineExecution:${executionOf(p)}`).toString('base64url'),
  ]),
  gqlOp(
    'pipelineExecution',
    'Query.pipelineExecution',
    'read',
    'project',
    `query ($p: ID!, $e: ID!) { pipelineExecution(projectId: $p, executionId: $e) { ${execFields} steps { results { name } } project { id name } } }`,
    { p: A, e: E },
  ),
  gqlOp(
    'pipelineExecutions of every visible project',
    'Query.pipelineExecutions',
    'read',
    'list',
    `{ pipelineExecutions(first: 100) { nodes { ${execFields} project { id } } } }`,
  ),
  gqlOp(
    'pipelineExecutions of one project',
    'Query.pipelineExecutions',
    'read',
    'project',
    `query ($p: ID!) { pipelineExecutions(first: 100, filter: { projectId: $p }) { nodes { ${execFields} } } }`,
    { p: A },
  ),
  gqlOp(
    'executePipeline',
    'Mutation.executePipeline',
    'execute',
    'project',
    `mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }`,
    { input: { projectId: A, pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Dev' } },
  ),
  gqlOp(
    'cancelPipelineExecution (a finished run)',
    'Mutation.cancelPipelineExecution',
    'cancel',
    'project',
    `mutation ($input: CancelPipelineExecutionInput!) { cancelPipelineExecution(input: $input) { pipelineExecutionId } }`,
    { input: { projectId: A, executionId: E } },
    'ALREADY_FINISHED',
  ),
  gqlOp(
    'rerunPipelineExecution (a run the gateway did not launch)',
    'Mutation.rerunPipelineExecution',
    'execute',
    'project',
    `mutation ($input: RerunPipelineExecutionInput!) { rerunPipelineExecution(input: $input) { pipelineExecutionId } }`,
    { input: { projectId: A, executionId: E, idempotencyKey: 'matrix' } },
    'LAUNCH_UNKNOWN',
  ),
  gqlOp(
    'invalidateCache',
    'Mutation.invalidateCache',
    'admin',
    'project',
    'mutation ($p: ID) { invalidateCache(projectId: $p) { __typename } }',
    { p: A },
  ),
  {
    name: 'pipelineExecutionUpdated',
    covers: 'graphql:Subscription.pipelineExecutionUpdated',
    transport: 'ws',
    scope: 'read',
    target: 'project',
    request: `${A} ${E}`,
    call: (url, params, projectId = A) =>
      wsCall(
        url,
        params,
        `subscription ($p: ID!, $e: ID!) { pipelineExecutionUpdated(projectId: $p, executionId: $e) { cursor execution { ${execFields} } } }`,
        { p: projectId, e: E },
      ),
  },
  {
    name: 'pipelineExecutionEvents',
    covers: 'graphql:Subscription.pipelineExecutionEvents',
    transport: 'ws',
    scope: 'read',
    target: 'project',
    quietIsOk: true,
    request: A,
    call: (url, params, projectId = A) =>
      wsCall(
        url,
        params,
        `subscription ($p: ID!) { pipelineExecutionEvents(projectId: $p) { cursor execution { ${execFields} } } }`,
        {
          p: projectId,
        },
      ),
  },
  ...maiaRestOps('REST projects', 'GET /api/v1/projects', 'read', 'list', '/api/v1/projects?size=100'),
  ...maiaRestOps(
    'REST environments',
    'GET /api/v1/projects/{projectId}/environments',
    'read',
    'project',
    `/api/v1/projects/${A}/environments`,
  ),
  ...maiaRestOps(
    'REST published pipelines',
    'GET /api/v1/projects/{projectId}/published-pipelines',
    'read',
    'project',
    `/api/v1/projects/${A}/published-pipelines?environmentName=Dev`,
  ),
  ...maiaRestOps(
    'REST published versions',
    'GET /api/v1/projects/{projectId}/artifacts',
    'read',
    'project',
    `/api/v1/projects/${A}/artifacts?environmentName=Dev`,
  ),
  ...maiaRestOps(
    'REST published version details',
    'GET /api/v1/projects/{projectId}/artifacts/details',
    'read',
    'project',
    `/api/v1/projects/${A}/artifacts/details?environmentName=Dev&versionName=1.1.0`,
  ),
  // The account's runners: not scoped to a project, so any reader may list them (as Maia lists them).
  ...maiaRestOps('REST runners', 'GET /api/v1/agents', 'read', 'list', '/api/v1/agents'),
  ...maiaRestOps(
    'REST execute',
    'POST /api/v1/projects/{projectId}/pipeline-executions',
    'execute',
    'project',
    `/api/v1/projects/${A}/pipeline-executions`,
    { pipelineName: 'FOLDER/load_orders.orch.yaml', environmentName: 'Dev' },
  ),
  ...maiaRestOps(
    'REST execution',
    'GET /api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}',
    'read',
    'project',
    `/api/v1/projects/${A}/pipeline-executions/${E}`,
  ),
  ...maiaRestOps(
    'REST execution with waitSeconds',
    'GET /api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}',
    'read',
    'project',
    `/api/v1/projects/${A}/pipeline-executions/${E}?waitSeconds=1`,
  ),
  ...maiaRestOps(
    'REST light status',
    'GET /api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}/status',
    'read',
    'project',
    `/api/v1/projects/${A}/pipeline-executions/${E}/status`,
  ),
  ...maiaRestOps(
    'REST steps',
    'GET /api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}/steps',
    'read',
    'project',
    `/api/v1/projects/${A}/pipeline-executions/${E}/steps`,
  ),
  ...maiaRestOps(
    'REST cancel (a finished run)',
    'PATCH /api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}',
    'cancel',
    'project',
    `/api/v1/projects/${A}/pipeline-executions/${E}`,
    { status: 'CANCELLED', forceUpdate: false },
    'ALREADY_FINISHED',
  ),
  {
    name: 'REST events (SSE)',
    covers: 'rest:GET /api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}/events',
    transport: 'sse',
    scope: 'read',
    target: 'project',
    request: `${A} ${E}`,
    call: (url, headers, projectId = A) =>
      sseCall(url, headers, `/api/v1/projects/${projectId}/pipeline-executions/${E}/events`),
  },
  restOp(
    'REST launch of an execution (a run the gateway did not launch)',
    'GET /api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}/launch',
    'read',
    'project',
    `/api/v1/projects/${A}/pipeline-executions/${E}/launch`,
    undefined,
    'LAUNCH_UNKNOWN',
  ),
  restOp(
    'REST re-run (a run the gateway did not launch)',
    'POST /api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}/rerun',
    'execute',
    'project',
    `/api/v1/projects/${A}/pipeline-executions/${E}/rerun`,
    undefined,
    'LAUNCH_UNKNOWN',
  ),
  ...maiaRestOps(
    'REST executions of every visible project',
    'GET /api/v1/pipeline-executions',
    'read',
    'list',
    '/api/v1/pipeline-executions?limit=100',
  ),
  ...maiaRestOps(
    'REST executions of one project',
    'GET /api/v1/pipeline-executions',
    'read',
    'project',
    `/api/v1/pipeline-executions?limit=100&projectId=${A}`,
  ),
  restOp(
    'REST cache invalidation',
    'POST /api/v1/cache/invalidate',
    'admin',
    'project',
    '/api/v1/cache/invalidate',
    { projectId: A },
  ),
  // Probes and metrics are public by design (no credentials, no rate limit), and say nothing of projects.
  restOp('liveness', 'GET /health/live', 'read', 'public', '/health/live'),
  restOp('readiness', 'GET /health/ready', 'read', 'public', '/health/ready'),
  restOp('metrics', 'GET /metrics', 'read', 'public', '/metrics'),
];

interface Expected {
  code: string;
  status?: number;
}

function expectedOutcome(op: Op, caller: Caller): Expected {
  if (op.target === 'public') return { code: 'OK', status: 200 };
  if (caller === 'none' || caller === 'wrongKey' || caller === 'expiredJwt') {
    return op.transport === 'ws'
      ? { code: 'CLOSED', status: 4403 }
      : { code: 'UNAUTHENTICATED', status: 401 };
  }
  const allowed = op.allowed ?? 'OK';
  const withStatus = (code: string): Expected =>
    op.transport === 'rest' || op.transport === 'sse'
      ? {
          code,
          status:
            code === 'OK'
              ? op.name.startsWith('REST execute')
                ? 201
                : 200
              : httpStatusOf(code as ErrorCode),
        }
      : { code };
  if (caller === 'admin') return withStatus(allowed);
  if (caller === 'reader') return withStatus(op.scope === 'read' ? allowed : 'FORBIDDEN');
  // otherProject: read/execute/cancel on Marketing only.
  if (op.scope === 'admin') return withStatus('FORBIDDEN');
  return withStatus(op.target === 'project' ? 'NOT_FOUND' : allowed);
}

interface Observation {
  op: Op;
  caller: Caller;
  outcome: Outcome;
}

describe('authorization matrix', () => {
  let world: SecuredWorld;
  const credentials = {} as Record<Caller, Record<string, string>>;
  const observations: Observation[] = [];

  beforeAll(async () => {
    world = await startSecuredWorld();
    // Expired 2 minutes ago: beyond the 30 s leeway. Otherwise it would be an admin token.
    const expired = await world.jwt({}, { expiresInSeconds: -120 });
    credentials.none = {};
    credentials.wrongKey = { 'x-api-key': 'not-a-configured-key-000000' };
    credentials.expiredJwt = { authorization: `Bearer ${expired}` };
    credentials.reader = { 'x-api-key': KEYS.reader };
    credentials.otherProject = { 'x-api-key': KEYS.otherProject };
    credentials.admin = { 'x-api-key': KEYS.admin };
  });
  afterAll(async () => {
    await world?.close();
  });

  it('covers every GraphQL root field and every REST route the gateway serves', async () => {
    const introspection = await graphqlCall(
      world.url,
      credentials.admin,
      '{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }',
    );
    const schema = (
      JSON.parse(introspection.body) as {
        data: { __schema: Record<string, { fields: { name: string }[] } | null> };
      }
    ).data.__schema;
    const graphqlFields = [
      ...(schema.queryType?.fields ?? []).map((f) => `graphql:Query.${f.name}`),
      ...(schema.mutationType?.fields ?? []).map((f) => `graphql:Mutation.${f.name}`),
      ...(schema.subscriptionType?.fields ?? []).map((f) => `graphql:Subscription.${f.name}`),
    ];
    const openapi = (await (await fetch(`${world.url}/api/docs-json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const restRoutes = Object.entries(openapi.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `rest:${method.toUpperCase()} ${path}`),
    );
    const covered = new Set(OPS.map((op) => op.covers));
    expect([...graphqlFields, ...restRoutes].filter((c) => !covered.has(c))).toEqual([]);
    expect(graphqlFields.length).toBeGreaterThanOrEqual(9);
    expect(restRoutes.length).toBeGreaterThanOrEqual(10);
  });

  describe.each(OPS)('$name', (op) => {
    it.each(CALLERS)('as %s', async (caller) => {
      const outcome = await op.call(world.url, credentials[caller]);
      observations.push({ op, caller, outcome });
      const expected = expectedOutcome(op, caller);
      const acceptable = [expected.code, ...(op.quietIsOk && expected.code === 'OK' ? ['QUIET'] : [])];
      expect({
        op: op.name,
        caller,
        code: acceptable.includes(outcome.code) ? expected.code : outcome.code,
        body: outcome.body.slice(0, 300),
      }).toEqual({
        op: op.name,
        caller,
        code: expected.code,
        body: outcome.body.slice(0, 300),
      });
      if (expected.status !== undefined) expect(outcome.status).toBe(expected.status);
      if (expected.code === 'UNAUTHENTICATED') {
        // The same answer whatever was wrong: no hint of which part failed.
        expect(outcome.message).toBe('Missing or invalid credentials');
      }
    });
  });

  it('lists show the caller exactly the projects it may see', async () => {
    const projectIds = (caller: Caller) =>
      graphqlCall(world.url, credentials[caller], '{ projects(size: 100) { total results { id } } }').then(
        (o) =>
          (JSON.parse(o.body) as { data: { projects: { total: number; results: { id: string }[] } } }).data
            .projects,
      );
    expect(await projectIds('reader')).toEqual({ total: 1, results: [{ id: A }] });
    expect(await projectIds('otherProject')).toEqual({ total: 1, results: [{ id: PROJECTS.marketing }] });
    expect((await projectIds('admin')).total).toBe(ALL_PROJECT_IDS.length);

    const executionsOf = async (caller: Caller) => {
      const rest = await restCall(
        world.url,
        credentials[caller],
        'GET',
        '/api/v1/pipeline-executions?limit=100',
      );
      return new Set(
        (JSON.parse(rest.body) as { results: { projectId: string }[] }).results.map((e) => e.projectId),
      );
    };
    expect(await executionsOf('reader')).toEqual(new Set([A]));
    expect(await executionsOf('otherProject')).toEqual(new Set([PROJECTS.marketing]));
  });

  it('answers a project the caller may not see exactly like one that does not exist', async () => {
    const normalise = (o: Outcome, id: string) => ({
      status: o.status,
      code: o.code,
      body: o.body
        .replaceAll(id, '<project>')
        .replaceAll(nameOf(id), '<name>')
        .replace(/"(locations|instance)":[^\]}]*[\]}],?/g, ''),
    });
    for (const op of OPS.filter((o) => o.target === 'project' && o.scope !== 'admin')) {
      const hidden = await op.call(world.url, credentials.otherProject);
      // The same operation, by an admin, on a project id nobody has.
      const missing = await op.call(world.url, credentials.admin, NONEXISTENT_PROJECT);
      expect({ op: op.name, ...normalise(hidden, A) }).toEqual({
        op: op.name,
        ...normalise(missing, NONEXISTENT_PROJECT),
      });
    }
  });

  it('never answers with data of a project the caller may not see (ids of other projects and their runs)', async () => {
    expect(observations.length).toBe(OPS.length * CALLERS.length);
    const executions = await world.maia.executions();
    const visible: Partial<Record<Caller, string[]>> = { reader: [A], otherProject: [PROJECTS.marketing] };
    let scanned = 0;
    for (const { op, caller, outcome } of observations) {
      const allowedProjects = visible[caller];
      if (!allowedProjects) continue;
      const hiddenIds = [
        ...ALL_PROJECT_IDS.filter((p) => !allowedProjects.includes(p)),
        ...executions.filter((e) => !allowedProjects.includes(e.projectId)).map((e) => e.pipelineExecutionId),
      ].filter((id) => !op.request.includes(id)); // ids the caller sent itself may be echoed back
      const leaked = hiddenIds.filter((id) => outcome.body.toLowerCase().includes(id.toLowerCase()));
      expect({ op: op.name, caller, leaked }).toEqual({ op: op.name, caller, leaked: [] });
      scanned += 1;
    }
    expect(scanned).toBe(OPS.length * 2);
  });
});
