import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import type { GraphQLObjectType, GraphQLSchema } from 'graphql';
import pino from 'pino';
import { PINO } from '../../src/logging/logging.module';
import { GraphqlQueryLane } from '../../src/graphql/lane/query-lane';
import { HotReadCache } from '../../src/hot-read/hot-read-cache';
import {
  ANALYTICS_FINISHED_EXECUTION,
  KEYS,
  NONEXISTENT_PROJECT,
  PROJECTS,
  startSecuredWorld,
  type SecuredWorld,
} from '../auth/support/secured-gateway';
import { eventually } from '../support/eventually';
import { STANDALONE_REDIS_URL } from '../support/redis-topologies';

/**
 * The GraphQL query lane (src/graphql/lane, docs/adr/0035-graphql-query-lane.md) executes queries Apollo
 * already accepted at the HTTP server's request listener. A differential suite: every request of the
 * corpus is sent with the lane on and with it off (Apollo's path) to the same gateway, and the two answers
 * must be the same bytes (status, headers, body), counted the same in the metrics and logged the same. A
 * user must never notice which path answered; a refused document or caller must never reach the lane.
 */

interface Req {
  body?: unknown;
  /** Sent as is when given (not JSON-encoded). */
  raw?: string;
  key?: string;
  bearer?: string;
  headers?: Record<string, string>;
  method?: 'POST' | 'GET';
  url?: string;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Headers that differ per request whichever path answers (the id is checked to be echoed separately). */
const PER_REQUEST_HEADERS = new Set(['date', 'x-request-id', 'connection', 'keep-alive']);

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
/** A published pipeline of Analytics Warehouse's Dev environment (src/emulator/seed.json). */
const PIPELINE = 'FOLDER/load_orders.orch.yaml';
// Runs to cancel: ten minutes long, so none has finished by its cancel on however loaded a machine.
const LONG_PIPELINE = 'FOLDER/long_backfill.orch.yaml';

const PROJECTS_QUERY = 'query Projects { projects { page size total results { id name description } } }';
const NESTED_QUERY =
  'query Nested { projects { total results { id name environments { total results { name defaultAgent { id name } ' +
  'publishedPipelines { total results { name publishedTime } } } } } } }';

interface LogLine {
  level: number;
  msg: string;
  req?: unknown;
  res?: unknown;
}

describe.each(['graphql-js', 'jit'])('GraphQL query lane (%s): lane and Apollo answer alike', (executor) => {
  let world: SecuredWorld;
  let lane: GraphqlQueryLane;
  let logged: string[];

  beforeAll(async () => {
    world = await startSecuredWorld({
      REDIS_URL: STANDALONE_REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      GRAPHQL_QUERY_LANE: 'on',
      GRAPHQL_QUERY_LANE_EXECUTOR: executor,
      CACHE_HOT_READ_TTL_MS: '0',
      GRAPHQL_MAX_ALIASES: '3',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      // Short-lived lookups (a stale answer within the test), one attempt per call, no breaker.
      CACHE_TTL_PROJECTS_SECONDS: '1',
      CACHE_L1_TTL_SECONDS: '1',
      MAIA_MAX_ATTEMPTS: '1',
      MAIA_BREAKER_FAILURE_THRESHOLD: '1000',
    });
    lane = world.gateway.app.get(GraphqlQueryLane);
    // The completion lines (and any other) are captured here instead of written to stdout.
    const logger = world.gateway.app.get<pino.Logger>(PINO);
    const stream = (logger as unknown as Record<symbol, { write: (line: string) => boolean }>)[
      pino.symbols.streamSym
    ];
    logged = [];
    jest.spyOn(stream, 'write').mockImplementation((line: string) => {
      logged.push(line);
      return true;
    });
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await world?.close();
  });

  afterEach(async () => {
    await world.maia.clearFaults();
    lane.enabled = true;
  });

  async function send(req: Req): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...req.headers };
    if (req.key !== undefined) headers['x-api-key'] = req.key;
    if (req.bearer !== undefined) headers.authorization = `Bearer ${req.bearer}`;
    const method = req.method ?? 'POST';
    const response = await fetch(`${world.url}${req.url ?? '/graphql'}`, {
      method,
      headers,
      body: method === 'GET' ? undefined : (req.raw ?? JSON.stringify(req.body)),
    });
    const kept: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (!PER_REQUEST_HEADERS.has(name)) kept[name] = value;
    });
    expect(response.headers.get('x-request-id')).toBeTruthy();
    return { status: response.status, headers: kept, body: await response.text() };
  }

  /** The completion lines logged while `run` ran, without what differs per request (time, id, duration). */
  async function linesOf<T>(run: () => Promise<T>): Promise<[T, unknown[]]> {
    const from = logged.length;
    const value = await run();
    // The line is written once the answer is sent: wait for it rather than for time.
    await eventually(() => logged.length > from);
    const lines = logged
      .slice(from)
      .map((line) => JSON.parse(line) as LogLine & Record<string, unknown>)
      .filter((line) => line.msg === 'request completed')
      .map(({ level, msg, req, res }) => ({ level, msg, req, res }));
    return [value, lines];
  }

  async function metricsText(): Promise<string> {
    return (await fetch(`${world.url}/metrics`)).text();
  }

  /** The HTTP request counters of GraphQL, by series (label set). */
  async function graphqlCounters(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const line of (await metricsText()).split('\n')) {
      if (!line.startsWith('gateway_http_requests_total{transport="graphql"')) continue;
      out.set(line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
    return out;
  }

  function increments(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [series, value] of after) {
      const delta = value - (before.get(series) ?? 0);
      if (delta !== 0) out[series] = delta;
    }
    return out;
  }

  /**
   * Apollo first (so it may accept the document), then the lane, then Apollo again: the last two must
   * answer alike, and the lane must have served the request exactly when `served` says.
   */
  async function differential(req: Req, served: boolean): Promise<Answer> {
    lane.enabled = false;
    await send(req);
    const metrics0 = await graphqlCounters();
    lane.enabled = true;
    const before = lane.served;
    const [viaLane, laneLines] = await linesOf(() => send(req));
    const laneServed = lane.served - before;
    const metrics1 = await graphqlCounters();
    lane.enabled = false;
    const [viaApollo, apolloLines] = await linesOf(() => send(req));
    const metrics2 = await graphqlCounters();
    expect(laneServed).toBe(served ? 1 : 0);
    expect(viaLane).toEqual(viaApollo);
    expect(laneLines).toEqual(apolloLines);
    expect(laneLines).toHaveLength(1);
    expect(increments(metrics0, metrics1)).toEqual(increments(metrics1, metrics2));
    return viaLane;
  }

  it('serves lookup and nested reads as Apollo does, for callers of every right', async () => {
    for (const key of [KEYS.admin, KEYS.reader, KEYS.otherProject, KEYS.noProjects]) {
      const answer = await differential({ body: { query: PROJECTS_QUERY }, key }, true);
      expect(answer.status).toBe(200);
      expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    }
    const nested = await differential(
      { body: { query: NESTED_QUERY, operationName: 'Nested' }, key: KEYS.admin },
      true,
    );
    expect(JSON.parse(nested.body)).toMatchObject({ data: { projects: { total: 5 } } });
    await differential(
      { body: { query: NESTED_QUERY, operationName: null, variables: null }, key: KEYS.reader },
      true,
    );
  });

  it('serves aliases, fragments, __typename, directives and a chosen operation alike', async () => {
    const query =
      'query A($skip: Boolean = false) { a: projects(size: 1) { total } b: projects(size: 2) { ...P } __typename ' +
      'c: projects @skip(if: $skip) { total } } fragment P on ProjectPage { total results { id __typename } } ' +
      'query B { viewer { __typename } }';
    await differential({ body: { query, operationName: 'A' }, key: KEYS.admin }, true);
    await differential(
      { body: { query, operationName: 'A', variables: { skip: true } }, key: KEYS.admin },
      true,
    );
    await differential({ body: { query, operationName: 'B' }, key: KEYS.reader }, true);
  });

  it('serves abstract types, lists with nulls and connections alike (node, nodes, executions)', async () => {
    const nodeFields = `__typename id ... on Project { name } ... on Environment { name projectId defaultAgent { id } }
      ... on PublishedPipeline { name projectId environmentName publishedTime }`;
    const listed = JSON.parse(
      (
        await differential(
          {
            body: {
              query: `query L($id: ID!) { project(id: $id) { __typename id name environments { results { __typename id
                publishedPipelines(size: 100) { results { __typename id } } } } } }`,
              variables: { id: PROJECTS.analytics },
            },
            key: KEYS.admin,
          },
          true,
        )
      ).body,
    ) as {
      data: {
        project: {
          id: string;
          environments: { results: { id: string; publishedPipelines: { results: { id: string }[] } }[] };
        };
      };
    };
    const project = listed.data.project;
    const environment = project.environments.results[0];
    const ids = [project.id, environment.id, environment.publishedPipelines.results[0]?.id ?? environment.id];
    for (const id of ids) {
      await differential(
        {
          body: { query: `query N($id: ID!) { node(id: $id) { ${nodeFields} } }`, variables: { id } },
          key: KEYS.admin,
        },
        true,
      );
    }
    // One id never issued: a null at its index with NOT_FOUND, the others answered.
    await differential(
      {
        body: {
          query: `query M($ids: [ID!]!) { nodes(ids: $ids) { ${nodeFields} } }`,
          variables: { ids: [...ids, 'bm9wZQ=='] },
        },
        key: KEYS.reader,
      },
      true,
    );
    await differential(
      {
        body: {
          query:
            '{ pipelineExecutions(first: 3, filter: { startedAfter: "2020-01-01T00:00:00.000Z" }) { pageInfo { hasNextPage endCursor } edges { cursor node { id status startedAt } } } }',
        },
        key: KEYS.admin,
      },
      true,
    );
  });

  it('serves introspection alike (development mode has it on)', async () => {
    await differential(
      {
        body: { query: '{ __schema { queryType { name } } __type(name: "Project") { name } }' },
        key: KEYS.reader,
      },
      true,
    );
  });

  it('answers resolver errors byte for byte: NOT_FOUND, BAD_USER_INPUT, partial results', async () => {
    const byId = 'query P($id: ID) { project(id: $id) { id name environments { total } } }';
    // The caller's own project, another project (NOT_FOUND, as a missing one), one that does not exist.
    await differential(
      { body: { query: byId, variables: { id: PROJECTS.analytics } }, key: KEYS.reader },
      true,
    );
    for (const id of [PROJECTS.marketing, NONEXISTENT_PROJECT, 'not-a-uuid']) {
      const answer = await differential({ body: { query: byId, variables: { id } }, key: KEYS.reader }, true);
      const code = (JSON.parse(answer.body) as { errors: { extensions: { code: string } }[] }).errors[0]
        .extensions.code;
      expect(['NOT_FOUND', 'BAD_USER_INPUT']).toContain(code);
    }
    // A page size over the bound (the validation pipe), and a partial result: one alias fails, one does not.
    await differential({ body: { query: '{ projects(size: 500) { total } }' }, key: KEYS.admin }, true);
    const partial = await differential(
      {
        body: {
          query: `{ mine: project(id: "${PROJECTS.analytics}") { name } theirs: project(id: "${PROJECTS.marketing}") { name } }`,
        },
        key: KEYS.reader,
      },
      true,
    );
    expect(JSON.parse(partial.body)).toMatchObject({ data: null });
  });

  it('answers an upstream failure alike, each request calling Maia once', async () => {
    const query =
      'query E($projectId: ID!, $executionId: ID!) { pipelineExecution(projectId: $projectId, executionId: $executionId) { id status } }';
    const variables = { projectId: PROJECTS.analytics, executionId: ANALYTICS_FINISHED_EXECUTION };
    await differential({ body: { query, variables }, key: KEYS.admin }, true);
    await world.maia.addFault({ route: 'getExecution', status: 503 });
    lane.enabled = true;
    await send({ body: { query, variables }, key: KEYS.admin });
    await world.maia.resetCounters();
    const before = lane.served;
    await send({ body: { query, variables }, key: KEYS.admin });
    expect(lane.served).toBe(before + 1);
    expect(await world.maia.count('getExecution')).toBe(1);
    const answer = await differential({ body: { query, variables }, key: KEYS.admin }, true);
    expect(answer.body).toContain('"errors"');
  });

  it('answers a stale read alike: extensions.stale, x-cache-stale and Warning', async () => {
    const query = 'query S { projects(size: 3) { total results { id } } }';
    await differential({ body: { query }, key: KEYS.admin }, true);
    await world.maia.addFault({ route: 'listProjects', status: 503 });
    // Fresh until the lookup's 1 s TTL runs out; then Maia fails and the stale entry answers.
    await eventually(
      async () => {
        const answer = await send({ body: { query }, key: KEYS.admin });
        expect(answer.headers['x-cache-stale']).toBeDefined();
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const stale = await differential({ body: { query }, key: KEYS.admin }, true);
    expect(stale.headers.warning).toBe('110 - "Response is Stale"');
    expect(JSON.parse(stale.body)).toMatchObject({ extensions: { stale: expect.any(Array) as unknown } });
  });

  it('leaves variables that do not coerce to Apollo, before any resolver runs', async () => {
    const query =
      'query V($id: ID!, $size: Int!) { project(id: $id) { environments(size: $size) { total } } }';
    const good = { id: PROJECTS.analytics, size: 2 };
    await differential({ body: { query, variables: good }, key: KEYS.reader }, true);
    for (const variables of [
      { id: PROJECTS.analytics },
      { ...good, size: 'two' },
      { ...good, size: 2 ** 40 },
      {},
    ]) {
      await world.maia.resetCounters();
      const answer = await differential({ body: { query, variables }, key: KEYS.reader }, false);
      expect(answer.status).toBe(400);
    }
  });

  it('leaves refused callers to Apollo: no key, a bad key, an expired token, a wrong scope', async () => {
    const expired = await world.jwt({}, { expiresInSeconds: -120 });
    const executeOnly = await world.jwt({ scope: 'execute' });
    const reader = await world.jwt({ scope: 'read', maia_projects: [PROJECTS.analytics] });
    const body = { query: PROJECTS_QUERY };
    for (const req of [{ body }, { body, key: 'not-a-key' }, { body, bearer: expired }]) {
      const answer = await differential(req, false);
      expect(answer.status).toBe(401);
    }
    // Admitted, but the root field's guard refuses the scope: the lane executes, the guard answers.
    const forbidden = await differential({ body, bearer: executeOnly }, true);
    expect(forbidden.body).toContain('FORBIDDEN');
    // A JWT (verified asynchronously) that may read.
    await differential({ body, bearer: reader }, true);
  });

  it('leaves every other request shape to Apollo', async () => {
    const body = { query: PROJECTS_QUERY };
    await differential({ body, key: KEYS.admin }, true);
    const others: Req[] = [
      { body, key: KEYS.admin, headers: { accept: 'application/graphql-response+json' } },
      { body, key: KEYS.admin, headers: { accept: 'text/html;q=0.5, application/json' } },
      { body: { ...body, extensions: {} }, key: KEYS.admin },
      { body: [body], key: KEYS.admin },
      { raw: JSON.stringify(body), key: KEYS.admin, headers: { 'content-type': 'text/plain' } },
      {
        raw: JSON.stringify(body),
        key: KEYS.admin,
        headers: { 'content-type': 'application/json; charset=latin1' },
      },
      { raw: `${JSON.stringify(body)} x`, key: KEYS.admin },
      {
        raw: JSON.stringify({ ...body, variables: { __proto__: { a: 1 } } }).replace(
          '"variables":{}',
          '"variables":{"__proto__":{"a":1}}',
        ),
        key: KEYS.admin,
      },
      // Prototype keys spelt with unicode escapes: Fastify refuses them (400) as it does plain ones.
      {
        raw: `{"query":${JSON.stringify(PROJECTS_QUERY)},"variables":{"\\u005f_proto__":{"a":1}}}`,
        key: KEYS.admin,
      },
      {
        raw: `{"query":${JSON.stringify(PROJECTS_QUERY)},"variables":{"\\u0063onstructor":{"prototype":{"a":1}}}}`,
        key: KEYS.admin,
      },
      // A name no operation has, whatever characters it holds, is Apollo's to refuse.
      { body: { ...body, operationName: '\u0001' }, key: KEYS.admin },
      { body: { ...body, variables: [] }, key: KEYS.admin },
      { body: { ...body, operationName: 5 }, key: KEYS.admin },
      { body, key: KEYS.admin, url: '/graphql?x=1' },
      {
        method: 'GET',
        key: KEYS.admin,
        url: `/graphql?query=${encodeURIComponent(PROJECTS_QUERY)}`,
        headers: { 'apollo-require-preflight': '1' },
      },
    ];
    for (const req of others) await differential(req, false);
  });

  it('never serves a subscription or a document Apollo refused, however often it is sent', async () => {
    const refused = [
      'subscription S { __typename }',
      '{ projects { total nope } }',
      '{ a: __typename b: __typename c: __typename d: __typename }',
      '{ projects { total ',
    ];
    const documents = lane.documents;
    for (const query of refused) {
      for (let i = 0; i < 2; i++) await differential({ body: { query }, key: KEYS.admin }, false);
    }
    expect(lane.documents).toBe(documents);
  });

  /** Ids the emulator or the gateway made per call (runs, request ids): the same placeholder on both paths. */
  function normalised(answer: Answer): Answer {
    const seeded = new Set<string>(Object.values(PROJECTS));
    const body = answer.body.replace(UUID, (id) => (seeded.has(id) ? id : 'x'.repeat(id.length)));
    // A placeholder of an id's length: the content-length compares as it is.
    return { ...answer, body };
  }

  /**
   * `differential` for requests with effects: the three sends may differ (`reqOf(0)` for Apollo's first,
   * `reqOf(1)` for the lane, `reqOf(2)` for Apollo again), and the answers compare with generated ids
   * normalised (a launch's run id). The log lines and metric increments compare as
   * they are. `effects` counts what the request did upstream (Maia's calls of a route): the same per path.
   */
  async function mutationDifferential(
    reqOf: (send: number) => Req,
    served: boolean,
    effects: () => Promise<number> = async () => 0,
  ): Promise<[Answer, Answer]> {
    lane.enabled = false;
    await send(reqOf(0));
    const metrics0 = await graphqlCounters();
    lane.enabled = true;
    const before = lane.served;
    const effects0 = await effects();
    const [viaLane, laneLines] = await linesOf(() => send(reqOf(1)));
    const laneServed = lane.served - before;
    const effects1 = await effects();
    const metrics1 = await graphqlCounters();
    lane.enabled = false;
    const [viaApollo, apolloLines] = await linesOf(() => send(reqOf(2)));
    const effects2 = await effects();
    const metrics2 = await graphqlCounters();
    expect(laneServed).toBe(served ? 1 : 0);
    expect(normalised(viaLane)).toEqual(normalised(viaApollo));
    expect(laneLines).toEqual(apolloLines);
    expect(laneLines).toHaveLength(1);
    expect(increments(metrics0, metrics1)).toEqual(increments(metrics1, metrics2));
    expect(effects1 - effects0).toBe(effects2 - effects1);
    return [viaLane, viaApollo];
  }

  const EXECUTE =
    'mutation Execute($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId replayed execution { id pipelineName environmentName } } }';
  const launchInput = (extra: Record<string, unknown> = {}) => ({
    projectId: PROJECTS.analytics,
    pipelineName: PIPELINE,
    environmentName: 'Dev',
    ...extra,
  });
  const executeCalls = () => world.maia.count('executePipeline');
  const dataOf = (answer: Answer) =>
    JSON.parse(answer.body) as {
      data: Record<string, { pipelineExecutionId: string; replayed: boolean } | null> | null;
      errors?: { extensions: { code: string } }[];
    };
  const codeOf = (answer: Answer) => dataOf(answer).errors?.[0]?.extensions.code;
  /** Ids of `n` long runs launched one after the other (each still running when a test cancels it). */
  const launchLongRuns = async (n: number): Promise<string[]> => {
    const launched: string[] = [];
    for (let i = 0; i < n; i++) {
      const answer = await send({
        body: { query: EXECUTE, variables: { input: launchInput({ pipelineName: LONG_PIPELINE }) } },
        key: KEYS.operator,
      });
      launched.push(dataOf(answer).data?.executePipeline?.pipelineExecutionId ?? '');
    }
    return launched;
  };

  it('serves executePipeline as Apollo does: one launch per call, without and with an idempotency key', async () => {
    const [lane1, apollo1] = await mutationDifferential(
      () => ({ body: { query: EXECUTE, variables: { input: launchInput() } }, key: KEYS.operator }),
      true,
      executeCalls,
    );
    expect(lane1.status).toBe(200);
    // Two launches, two runs: the ids differ where the normalised answers do not.
    expect(dataOf(lane1).data?.executePipeline?.pipelineExecutionId).not.toBe(
      dataOf(apollo1).data?.executePipeline?.pipelineExecutionId,
    );
    // A fresh key per call: a first use each time (not replayed), one launch each.
    const base = randomUUID();
    const [keyed] = await mutationDifferential(
      (i) => ({
        body: { query: EXECUTE, variables: { input: launchInput({ idempotencyKey: `${base}-${i}` }) } },
        key: KEYS.admin,
      }),
      true,
      executeCalls,
    );
    expect(dataOf(keyed).data?.executePipeline?.replayed).toBe(false);
    // An Idempotency-Key header means nothing to GraphQL (the key is a member of the input): the same on both.
    await mutationDifferential(
      () => ({
        body: { query: EXECUTE, variables: { input: launchInput() } },
        key: KEYS.operator,
        headers: { 'idempotency-key': 'a-header-graphql-ignores' },
      }),
      true,
      executeCalls,
    );
  });

  it('replays a key already used, and refuses a key reused for another launch, as Apollo does', async () => {
    const key = randomUUID();
    const replay = {
      body: { query: EXECUTE, variables: { input: launchInput({ idempotencyKey: key }) } },
      key: KEYS.operator,
    };
    // The first send launches (Apollo); the lane's and Apollo's sends replay it: the same run, no launch.
    await world.maia.resetCounters();
    const [viaLane, viaApollo] = await mutationDifferential(() => replay, true, executeCalls);
    expect(await executeCalls()).toBe(1);
    expect(viaLane).toEqual(viaApollo);
    expect(dataOf(viaLane).data?.executePipeline?.replayed).toBe(true);
    const reused = await mutationDifferential(
      () => ({
        body: {
          query: EXECUTE,
          variables: { input: launchInput({ idempotencyKey: key, executionTag: 'other' }) },
        },
        key: KEYS.operator,
      }),
      true,
      executeCalls,
    );
    expect(codeOf(reused[0])).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await executeCalls()).toBe(1);
  });

  it('refuses bad input, a scope or project the caller lacks and an unknown pipeline alike, launching nothing', async () => {
    await world.maia.resetCounters();
    const refusals: [Req, string][] = [
      [
        {
          body: { query: EXECUTE, variables: { input: launchInput({ idempotencyKey: 'bad key\u0001' }) } },
          key: KEYS.operator,
        },
        'BAD_USER_INPUT',
      ],
      [
        {
          body: { query: EXECUTE, variables: { input: launchInput({ executionTag: 'x'.repeat(5000) }) } },
          key: KEYS.operator,
        },
        'BAD_USER_INPUT',
      ],
      [
        {
          body: { query: EXECUTE, variables: { input: launchInput({ projectId: 'not-a-uuid' }) } },
          key: KEYS.operator,
        },
        'BAD_USER_INPUT',
      ],
      // read only: the guard's FORBIDDEN; another project's caller: NOT_FOUND, as a missing project.
      [{ body: { query: EXECUTE, variables: { input: launchInput() } }, key: KEYS.reader }, 'FORBIDDEN'],
      [
        { body: { query: EXECUTE, variables: { input: launchInput() } }, key: KEYS.otherProject },
        'NOT_FOUND',
      ],
      [
        {
          body: { query: EXECUTE, variables: { input: launchInput({ projectId: NONEXISTENT_PROJECT }) } },
          key: KEYS.admin,
        },
        'NOT_FOUND',
      ],
    ];
    for (const [req, code] of refusals) {
      const [answer] = await mutationDifferential(() => req, true, executeCalls);
      expect(codeOf(answer)).toBe(code);
    }
    expect(await executeCalls()).toBe(0);
    // A pipeline Maia does not have: Maia is asked each time and refuses, on both paths.
    const [unknown] = await mutationDifferential(
      () => ({
        body: {
          query: EXECUTE,
          variables: { input: launchInput({ pipelineName: 'FOLDER/nope.orch.yaml' }) },
        },
        key: KEYS.operator,
      }),
      true,
      executeCalls,
    );
    expect(dataOf(unknown).data).toBeNull();
    // Variables that do not coerce (a member missing): Apollo's 400, before anything runs.
    const [uncoerced] = await mutationDifferential(
      () => ({
        body: { query: EXECUTE, variables: { input: { projectId: PROJECTS.analytics } } },
        key: KEYS.operator,
      }),
      false,
      executeCalls,
    );
    expect(uncoerced.status).toBe(400);
  });

  it('answers a Maia failure of a launch alike, each call reaching Maia once', async () => {
    await world.maia.addFault({ route: 'executePipeline', status: 503 });
    await world.maia.resetCounters();
    const [failed] = await mutationDifferential(
      () => ({ body: { query: EXECUTE, variables: { input: launchInput() } }, key: KEYS.operator }),
      true,
      executeCalls,
    );
    expect(await executeCalls()).toBe(3);
    expect(codeOf(failed)).toMatch(/^UPSTREAM_/);
    const base = randomUUID();
    await mutationDifferential(
      (i) => ({
        body: { query: EXECUTE, variables: { input: launchInput({ idempotencyKey: `${base}-${i}` }) } },
        key: KEYS.operator,
      }),
      true,
      executeCalls,
    );
  });

  // graphql-jit 0.8.9 ignores variable defaults and gives a nullable variable left out inside a literal input
  // object `null` (lane-operations.ts): the lane executes those documents with graphql-js; a literal input
  // of non-null variables stays graphql-jit's.
  it('cancels alike with literal input fields, a variable default left out and a nullable variable left out', async () => {
    const launched = await launchLongRuns(9);
    const cancelCalls = () => world.maia.count('cancelExecution');
    const documents = [
      // graphql-jit's path: every variable non-null and given, `force` takes its default in the literal.
      'mutation CancelLiteral($p: ID!, $e: ID!) { cancelPipelineExecution(input: { projectId: $p, executionId: $e }) { pipelineExecutionId } }',
      // A variable default the client leaves out (graphql-jit: "was not provided").
      'mutation CancelDefault($p: ID!, $e: ID!, $force: Boolean! = false) { cancelPipelineExecution(input: { projectId: $p, executionId: $e, force: $force }) { pipelineExecutionId } }',
      // A nullable variable left out at a field with a default (graphql-jit: `force: null`, BAD_USER_INPUT).
      'mutation CancelNullable($p: ID!, $e: ID!, $force: Boolean) { cancelPipelineExecution(input: { projectId: $p, executionId: $e, force: $force }) { pipelineExecutionId } }',
    ];
    for (const [d, query] of documents.entries()) {
      const before = await cancelCalls();
      const [viaLane] = await mutationDifferential(
        (i) => ({
          body: { query, variables: { p: PROJECTS.analytics, e: launched[3 * d + i] } },
          key: KEYS.operator,
        }),
        true,
        cancelCalls,
      );
      expect(dataOf(viaLane).errors).toBeUndefined();
      expect(dataOf(viaLane).data?.cancelPipelineExecution).toEqual({
        pipelineExecutionId: launched[3 * d + 1],
      });
      // One cancel per send, each path.
      expect((await cancelCalls()) - before).toBe(3);
    }
  });

  it('answers queries with a variable default left out and a nullable variable left out in a literal alike', async () => {
    const sized = await differential(
      {
        body: { query: 'query Sized($n: Int! = 2) { projects(size: $n) { size total results { id } } }' },
        key: KEYS.admin,
      },
      true,
    );
    expect(JSON.parse(sized.body)).toMatchObject({ data: { projects: { size: 2 } } });
    const filtered = await differential(
      {
        body: {
          query:
            'query Filtered($p: ID!, $name: String) { pipelineExecutions(first: 3, filter: { projectId: $p, pipelineName: $name }) { edges { node { id } } } }',
          variables: { p: PROJECTS.analytics },
        },
        key: KEYS.admin,
      },
      true,
    );
    expect(JSON.parse(filtered.body)).not.toHaveProperty('errors');
  });

  it('serves cancelPipelineExecution, rerunPipelineExecution and invalidateCache alike', async () => {
    const launched = await launchLongRuns(6);
    const CANCEL =
      'mutation Cancel($input: CancelPipelineExecutionInput!) { cancelPipelineExecution(input: $input) { pipelineExecutionId } }';
    const cancelCalls = () => world.maia.count('cancelExecution');
    const [cancelled] = await mutationDifferential(
      (i) => ({
        body: {
          query: CANCEL,
          variables: { input: { projectId: PROJECTS.analytics, executionId: launched[i] } },
        },
        key: KEYS.operator,
      }),
      true,
      cancelCalls,
    );
    expect(cancelled.body).toContain('"cancelPipelineExecution"');
    // A finished run: ALREADY_FINISHED; a reader: FORBIDDEN.
    for (const [key, code] of [
      [KEYS.operator, 'ALREADY_FINISHED'],
      [KEYS.reader, 'FORBIDDEN'],
    ]) {
      const [answer] = await mutationDifferential(
        () => ({
          body: {
            query: CANCEL,
            variables: {
              input: { projectId: PROJECTS.analytics, executionId: ANALYTICS_FINISHED_EXECUTION },
            },
          },
          key,
        }),
        true,
        cancelCalls,
      );
      expect(codeOf(answer)).toBe(code);
    }
    const RERUN =
      'mutation Rerun($input: RerunPipelineExecutionInput!) { rerunPipelineExecution(input: $input) { pipelineExecutionId replayed } }';
    await mutationDifferential(
      (i) => ({
        body: {
          query: RERUN,
          variables: { input: { projectId: PROJECTS.analytics, executionId: launched[3 + i] } },
        },
        key: KEYS.operator,
      }),
      true,
      executeCalls,
    );
    const [unknownLaunch] = await mutationDifferential(
      () => ({
        body: {
          query: RERUN,
          variables: { input: { projectId: PROJECTS.analytics, executionId: ANALYTICS_FINISHED_EXECUTION } },
        },
        key: KEYS.operator,
      }),
      true,
      executeCalls,
    );
    expect(codeOf(unknownLaunch)).toBe('LAUNCH_UNKNOWN');
    for (const [key, code] of [
      [KEYS.admin, undefined],
      [KEYS.operator, 'FORBIDDEN'],
    ]) {
      const [answer] = await mutationDifferential(
        () => ({ body: { query: 'mutation { invalidateCache { invalidated } }' }, key }),
        true,
      );
      expect(codeOf(answer)).toBe(code);
    }
    await mutationDifferential(
      () => ({ body: { query: 'mutation M { __typename }' }, key: KEYS.reader }),
      true,
    );
  });

  it('runs the root fields of a mutation one after the other, stopping where Apollo stops (graphql-js executes them)', async () => {
    // The first launch fails (a non-null payload: data is null); graphql-js runs no field after it, so the
    // second pipeline is never launched. graphql-jit would launch it (lane-operations.ts).
    const query = `mutation Two($bad: ExecutePipelineInput!, $good: ExecutePipelineInput!) {
      a: executePipeline(input: $bad) { pipelineExecutionId } b: executePipeline(input: $good) { pipelineExecutionId } }`;
    const variables = { bad: launchInput({ pipelineName: 'FOLDER/nope.orch.yaml' }), good: launchInput() };
    await world.maia.resetCounters();
    const [answer] = await mutationDifferential(
      () => ({ body: { query, variables }, key: KEYS.operator }),
      true,
      executeCalls,
    );
    expect(dataOf(answer).data).toBeNull();
    expect(await world.maia.count('executePipeline', 201)).toBe(0);
    // Both fine: both launched, in order, on both paths (tags of running runs must differ).
    const tag = randomUUID();
    const both = (i: number) => ({
      bad: launchInput({ executionTag: `${tag}-${i}-a` }),
      good: launchInput({ executionTag: `${tag}-${i}-b` }),
    });
    const [ok] = await mutationDifferential(
      (i) => ({ body: { query, variables: both(i) }, key: KEYS.operator }),
      true,
      executeCalls,
    );
    expect(Object.keys(dataOf(ok).data ?? {})).toEqual(['a', 'b']);
  });

  it('never runs a mutation twice: a failure after execution started closes the connection', async () => {
    const query =
      'mutation Once($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }';
    const body = { query, variables: { input: launchInput({ pipelineName: 'FOLDER/nope.orch.yaml' }) } };
    lane.enabled = false;
    await send({ body, key: KEYS.operator });
    lane.enabled = true;
    // A hook of the lane's error path that throws once the launch has been answered (with an error).
    const hooks = (lane as unknown as { errorHooks: unknown[] }).errorHooks;
    const failing = {
      requestDidStart: () =>
        Promise.resolve({
          didEncounterErrors: () => Promise.reject(new Error('injected after execution')),
        }),
    };
    hooks.push(failing);
    try {
      await world.maia.resetCounters();
      await expect(send({ body, key: KEYS.operator })).rejects.toThrow();
      expect(await executeCalls()).toBe(1);
    } finally {
      hooks.splice(hooks.indexOf(failing), 1);
    }
  });

  it('serves a document Apollo has not seen only after Apollo accepted it', async () => {
    lane.enabled = true;
    const query = `query Fresh${randomUUID().replace(/-/g, '')} { projects(size: 1) { total } }`;
    const before = lane.served;
    const first = await send({ body: { query }, key: KEYS.admin });
    expect(lane.served).toBe(before);
    const second = await send({ body: { query }, key: KEYS.admin });
    expect(lane.served).toBe(before + 1);
    expect(second).toEqual(first);
    // The same text naming another operation is another document.
    await send({ body: { query, operationName: 'Other' }, key: KEYS.admin });
    expect(lane.served).toBe(before + 1);
  });

  it('times a request from its arrival, as Fastify does: a slow body upload is part of its duration', async () => {
    const body = JSON.stringify({ query: PROJECTS_QUERY });
    /** The completion line's `responseTime` of a request whose body follows its head `uploadMs` later. */
    const timed = async (uploadMs: number): Promise<number> => {
      const from = logged.length;
      await new Promise<void>((resolve, reject) => {
        const req = request(`${world.url}/graphql`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'x-api-key': KEYS.admin,
          },
        });
        req.on('error', reject);
        req.on('response', (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.flushHeaders();
        // The slow client under test: its body arrives a while after its head.
        setTimeout(() => req.end(body), uploadMs);
      });
      await eventually(() => logged.length > from);
      const line = logged
        .slice(from)
        .map((l) => JSON.parse(l) as { msg: string; responseTime: number })
        .find((l) => l.msg === 'request completed');
      return line?.responseTime ?? -1;
    };
    // Half the upload's wait: the server may take the head in a while later on a busy machine; timed from
    // after the body, as it was, a request takes a few milliseconds.
    lane.enabled = false;
    expect(await timed(400)).toBeGreaterThanOrEqual(200);
    lane.enabled = true;
    const before = lane.served;
    expect(await timed(400)).toBeGreaterThanOrEqual(200);
    expect(lane.served - before).toBe(1);
  });

  it("compiles against Apollo's schema without Nest's plain property readers (graphql-jit only)", () => {
    const jitSchema = (lane as unknown as { jitSchema?: GraphQLSchema }).jitSchema;
    if (executor !== 'jit') {
      expect(jitSchema).toBeUndefined();
      return;
    }
    const apollo = (lane as unknown as { schema: GraphQLSchema }).schema;
    const fieldsOf = (schema: GraphQLSchema | undefined, type: string) =>
      (schema?.getType(type) as GraphQLObjectType | undefined)?.getFields() ?? {};
    // Plain fields of the models read inline; the fields with resolvers of ours keep them.
    for (const [type, field] of [
      ['Project', 'id'],
      ['Project', 'name'],
      ['ProjectPage', 'results'],
    ]) {
      expect(fieldsOf(apollo, type)[field].resolve).toBeInstanceOf(Function);
      expect(fieldsOf(jitSchema, type)[field].resolve).toBeUndefined();
    }
    expect(fieldsOf(jitSchema, 'Project').environments.resolve).toBe(
      fieldsOf(apollo, 'Project').environments.resolve,
    );
  });

  it('echoes the caller’s request id', async () => {
    lane.enabled = true;
    const before = lane.served;
    const response = await fetch(`${world.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEYS.admin, 'x-request-id': 'lane-test-1' },
      body: JSON.stringify({ query: PROJECTS_QUERY }),
    });
    await response.text();
    expect(lane.served).toBe(before + 1);
    expect(response.headers.get('x-request-id')).toBe('lane-test-1');
  });
});

describe('GraphQL query lane and rate limits', () => {
  let world: SecuredWorld;
  let lane: GraphqlQueryLane;

  beforeAll(async () => {
    world = await startSecuredWorld({
      REDIS_URL: STANDALONE_REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      GRAPHQL_QUERY_LANE: 'on',
      CACHE_HOT_READ_TTL_MS: '0',
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_BURST: '3',
      RATE_LIMIT_PER_MINUTE: '1',
      RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '2',
    });
    lane = world.gateway.app.get(GraphqlQueryLane);
  });

  afterAll(async () => {
    await world?.close();
  });

  async function post(key: string): Promise<{ status: number; body: string; retryAfter: string | null }> {
    const response = await fetch(`${world.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify({ query: PROJECTS_QUERY }),
    });
    return {
      status: response.status,
      body: await response.text(),
      retryAfter: response.headers.get('retry-after'),
    };
  }

  it('charges each request once, and the refusal is Apollo’s', async () => {
    // Apollo accepts the document (the admin's budget), then the reader's budget is spent through the lane.
    expect((await post(KEYS.admin)).status).toBe(200);
    const before = lane.served;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await post(KEYS.reader)).status);
    expect(statuses).toEqual([200, 200, 200]);
    expect(lane.served).toBe(before + 3);
    const refused = await post(KEYS.reader);
    expect(lane.served).toBe(before + 3);
    expect(refused.status).toBe(429);
    expect(refused.body).toContain('RATE_LIMITED');
    expect(refused.retryAfter).not.toBeNull();
    // The same refusal with the lane off.
    lane.enabled = false;
    const apollo = await post(KEYS.reader);
    expect({ ...apollo, retryAfter: null }).toEqual({ ...refused, retryAfter: null });
  });

  it('charges a mutation once on the lane, and the refusal is Apollo’s', async () => {
    const mutate = async () => {
      const response = await fetch(`${world.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': KEYS.operator },
        body: JSON.stringify({ query: 'mutation M { __typename }' }),
      });
      return { status: response.status, body: await response.text() };
    };
    lane.enabled = true;
    const before = lane.served;
    const statuses: number[] = [];
    // Apollo accepts the document (the first of the burst of three), the lane serves the next two.
    for (let i = 0; i < 4; i++) statuses.push((await mutate()).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(lane.served).toBe(before + 2);
  });

  it('charges a refused credential once', async () => {
    const statuses: number[] = [];
    lane.enabled = true;
    for (let i = 0; i < 3; i++) statuses.push((await post('not-a-key')).status);
    expect(statuses).toEqual([401, 401, 429]);
  });
});

describe('GraphQL query lane behind the whole-answer cache', () => {
  let world: SecuredWorld;
  let lane: GraphqlQueryLane;

  beforeAll(async () => {
    world = await startSecuredWorld({
      REDIS_URL: STANDALONE_REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      GRAPHQL_QUERY_LANE: 'on',
      CACHE_HOT_READ_TTL_MS: '60000',
    });
    lane = world.gateway.app.get(GraphqlQueryLane);
  });

  afterAll(async () => {
    await world?.close();
  });

  async function post(body: unknown): Promise<{ status: number; body: string }> {
    const response = await fetch(`${world.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEYS.admin },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.text() };
  }

  it('leaves declared reads to Apollo and the cache, and serves the other queries from the body the cache read', async () => {
    const before = lane.served;
    const cached = [await post({ query: PROJECTS_QUERY }), await post({ query: PROJECTS_QUERY })];
    expect(cached[1]).toEqual(cached[0]);
    expect(lane.served).toBe(before);
    const query =
      'query E($projectId: ID!, $executionId: ID!) { pipelineExecution(projectId: $projectId, executionId: $executionId) { id status } }';
    const variables = { projectId: PROJECTS.analytics, executionId: ANALYTICS_FINISHED_EXECUTION };
    const first = await post({ query, variables });
    expect(lane.served).toBe(before);
    const second = await post({ query, variables });
    expect(lane.served).toBe(before + 1);
    expect(second).toEqual(first);
    expect(first.status).toBe(200);
  });

  it('serves a mutation from the body the cache read; invalidateCache on the lane empties the cache', async () => {
    const cache = world.gateway.app.get(HotReadCache);
    const invalidate = { query: 'mutation { invalidateCache { invalidated } }' };
    // Apollo accepts the mutation; then a declared read is kept again.
    expect((await post(invalidate)).body).toContain('"invalidated":"all"');
    await post({ query: PROJECTS_QUERY });
    expect(cache.stats().entries).toBeGreaterThan(0);
    const before = lane.served;
    const answer = await post(invalidate);
    expect(lane.served).toBe(before + 1);
    expect(answer).toEqual({ status: 200, body: '{"data":{"invalidateCache":{"invalidated":"all"}}}\n' });
    expect(cache.stats().entries).toBe(0);
    // The next read is built again (a miss), not served from what was dropped.
    const misses = cache.stats().misses;
    await post({ query: PROJECTS_QUERY });
    expect(cache.stats().misses).toBe(misses + 1);
  });
});

describe('GraphQL query lane in production mode', () => {
  let world: SecuredWorld;
  let lane: GraphqlQueryLane;

  beforeAll(async () => {
    world = await startSecuredWorld({
      REDIS_URL: STANDALONE_REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      GATEWAY_MODE: 'production',
      AUTH_JWKS_URL: '',
      AUTH_JWT_ISSUER: '',
      AUTH_JWT_AUDIENCE: '',
      CACHE_HOT_READ_TTL_MS: '0',
      RATE_LIMIT_ENABLED: 'true',
    });
    lane = world.gateway.app.get(GraphqlQueryLane);
  });

  afterAll(async () => {
    await world?.close();
  });

  it('is on by default and serves what Apollo accepted; introspection stays refused', async () => {
    const post = async (query: string) => {
      const response = await fetch(`${world.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': KEYS.admin },
        body: JSON.stringify({ query }),
      });
      return { status: response.status, body: await response.text() };
    };
    const before = lane.served;
    const first = await post(PROJECTS_QUERY);
    const second = await post(PROJECTS_QUERY);
    expect(lane.served).toBe(before + 1);
    expect(second).toEqual(first);
    for (let i = 0; i < 2; i++) {
      const refused = await post('{ __schema { queryType { name } } }');
      expect(refused.status).toBe(400);
    }
    expect(lane.served).toBe(before + 1);
  });
});
