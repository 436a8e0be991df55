import { performance } from 'node:perf_hooks';
import { httpStatusOf, type ErrorCode } from '../../src/common/errors';
import { MAIA_API, type MaiaApi } from '../../src/maia/maia.types';
import {
  ANALYTICS_FINISHED_EXECUTION,
  KEYS,
  PROJECTS,
  startSecuredWorld,
  type SecuredWorld,
} from '../auth/support/secured-gateway';
import { wsCall } from '../auth/support/probes';
import { spyOnHandlers } from './support/handler-spies';

/**
 * Hostile and broken input, each answered with a 4xx and a stable code from the shared enum, no server
 * error, no resolver or controller invoked, and no call to Maia (the emulator's counters do not move).
 * Round-trip times are printed for the record (no speed assertions here).
 */

const A = PROJECTS.analytics;
const E = ANALYTICS_FINISHED_EXECUTION;
const STABLE_CODES = new Set([
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'QUERY_TOO_COMPLEX',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNAUTHENTICATED',
  'NOT_FOUND',
]);

interface Answer {
  status: number;
  code: string;
  codes: string[];
  body: string;
}

async function answerOf(response: Response): Promise<Answer> {
  const body = await response.text();
  let json: { code?: string; errors?: { extensions?: { code?: string } }[] } = {};
  try {
    json = JSON.parse(body) as typeof json;
  } catch {
    // A non-JSON answer is reported as such and fails the code check.
  }
  const codes = json.errors ? json.errors.map((e) => e.extensions?.code ?? 'NONE') : [json.code ?? 'NONE'];
  return { status: response.status, code: codes[0], codes, body };
}

describe('bad input', () => {
  let world: SecuredWorld;
  let handlers: ReturnType<typeof spyOnHandlers>;
  const admin = { 'x-api-key': KEYS.admin };
  const timings: { name: string; ms: number }[] = [];

  beforeAll(async () => {
    handlers = spyOnHandlers();
    world = await startSecuredWorld();
    // Warm the project directory (the guard checks project ids against it) with one real call.
    const warm = await fetch(`${world.url}/api/v1/projects/${A}/environments`, { headers: admin });
    expect(warm.status).toBe(200);
    // And GraphQL's first request (schema caches, JIT), so the printed times are those of a warm gateway.
    const warmGraphql = await fetch(`${world.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({ query: '{ projects { total } }' }),
    });
    expect(warmGraphql.status).toBe(200);
  });
  afterAll(async () => {
    handlers?.restore();
    await world?.close();

    console.log(
      `bad-input round trips (ms):\n${timings.map((t) => `  ${t.ms.toFixed(1).padStart(7)}  ${t.name}`).join('\n')}`,
    );
  });

  /** Sends `request`, and checks: 4xx, a stable code, no handler ran, Maia was not called. */
  async function refused(
    name: string,
    request: () => Promise<Response>,
    expected: { status?: number; code: string },
  ): Promise<Answer> {
    const upstreamBefore = (await world.maia.counters()).total;
    const handlersBefore = handlers.calls();
    const startedAt = performance.now();
    const answer = await answerOf(await request());
    timings.push({ name, ms: performance.now() - startedAt });
    // A request error (parse, validation, limits, transport) is an HTTP 4xx. A refusal while executing
    // (argument validation, guards) is, as GraphQL over HTTP has it, a 200 whose data is null and whose
    // errors carry a 4xx-class code.
    const executionRefusal =
      answer.status === 200 &&
      /"data":null/.test(answer.body) &&
      answer.codes.every((c) => httpStatusOf(c as ErrorCode) < 500);
    expect({
      name,
      clientError: (answer.status >= 400 && answer.status < 500) || executionRefusal,
      code: answer.code,
    }).toEqual({
      name,
      clientError: true,
      code: expected.code,
    });
    if (expected.status !== undefined) expect(answer.status).toBe(expected.status);
    for (const code of answer.codes) expect(STABLE_CODES).toContain(code);
    expect(handlers.calls() - handlersBefore).toBe(0);
    expect((await world.maia.counters()).total - upstreamBefore).toBe(0);
    return answer;
  }

  const postGraphql = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${world.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin, ...headers },
      body,
    });
  const query = (text: string, variables: Record<string, unknown> = {}) =>
    postGraphql(JSON.stringify({ query: text, variables }));

  describe('GraphQL bombs are refused before any resolver runs', () => {
    it('depth bomb', async () => {
      let inner = 'id';
      for (let i = 0; i < 15; i += 1) inner = `project { executions(first: 1) { nodes { ${inner} } } }`;
      await refused(
        'depth bomb (45 levels)',
        () => query(`{ pipelineExecutions(first: 1) { nodes { ${inner} } } }`),
        {
          status: 400,
          code: 'QUERY_TOO_COMPLEX',
        },
      );
    });

    it('alias bomb', async () => {
      const aliases = Array.from({ length: 200 }, (_, i) => `a${i}: projects { total }`).join(' ');
      await refused('alias bomb (200 aliases)', () => query(`{ ${aliases} }`), {
        status: 400,
        code: 'QUERY_TOO_COMPLEX',
      });
    });

    it('directive bomb', async () => {
      const fields = Array.from(
        { length: 12 },
        (_, i) => `f${i}: projects @include(if: true) { total }`,
      ).join(' ');
      await refused('directive bomb (12 directives)', () => query(`{ ${fields} }`), {
        status: 400,
        code: 'QUERY_TOO_COMPLEX',
      });
      const many = Array.from({ length: 300 }, () => '@include(if: true)').join(' ');
      await refused('directive bomb (300 on one field)', () => query(`{ projects ${many} { total } }`), {
        status: 400,
        code: 'QUERY_TOO_COMPLEX',
      });
    });

    it('__typename repetition bombs', async () => {
      await refused('__typename x 8,000', () => query(`{ ${'__typename '.repeat(8_000)}}`), {
        status: 400,
        code: 'QUERY_TOO_COMPLEX',
      });
      const aliased = Array.from({ length: 1_000 }, (_, i) => `t${i}: __typename`).join(' ');
      await refused('aliased __typename x 1,000', () => query(`{ ${aliased} }`), {
        status: 400,
        code: 'QUERY_TOO_COMPLEX',
      });
    });

    it('cost bomb (wide and deep within the other limits)', async () => {
      // 14 aliases (limit 15), 11 levels (limit 12): only the cost estimate (about 6,400 > 5,000) refuses it.
      const wide = Array.from(
        { length: 14 },
        (_, i) =>
          `p${i}: pipelineExecutions(first: 100) { nodes { project { executions(first: 100) { nodes { project { environments(size: 100) { results { publishedPipelines(size: 100) { results { name projectId environmentName publishedTime } } } } } } } } } }`,
      ).join(' ');
      await refused('cost bomb', () => query(`{ ${wide} }`), { status: 400, code: 'QUERY_TOO_COMPLEX' });
    });

    it('the same limits hold on graphql-ws subscriptions', async () => {
      const upstreamBefore = (await world.maia.counters()).total;
      const handlersBefore = handlers.calls();
      const sub = (selection: string) =>
        `subscription ($p: ID!, $e: ID!) { pipelineExecutionUpdated(projectId: $p, executionId: $e) { ${selection} } }`;
      const aliases = Array.from({ length: 30 }, (_, i) => `c${i}: cursor`).join(' ');
      let deep = 'id';
      for (let i = 0; i < 15; i += 1) deep = `project { executions(first: 1) { nodes { ${deep} } } }`;
      for (const [name, document] of [
        ['ws alias bomb', sub(aliases)],
        ['ws depth bomb', sub(`execution { ${deep} }`)],
        ['ws __typename x 5,000', sub(`cursor ${'__typename '.repeat(5_000)}`)],
      ]) {
        const startedAt = performance.now();
        const outcome = await wsCall(world.url, admin, document, { p: A, e: E });
        timings.push({ name, ms: performance.now() - startedAt });
        expect({ name, code: outcome.code }).toEqual({ name, code: 'QUERY_TOO_COMPLEX' });
      }
      expect(handlers.calls() - handlersBefore).toBe(0);
      expect((await world.maia.counters()).total - upstreamBefore).toBe(0);
    });

    it('fragment cycles and unknown fields are plain GRAPHQL_VALIDATION_FAILED', async () => {
      await refused(
        'fragment cycle',
        () =>
          query(
            'query { projects { ...A } } fragment A on ProjectPage { results { id } ...B } fragment B on ProjectPage { ...A }',
          ),
        { status: 400, code: 'GRAPHQL_VALIDATION_FAILED' },
      );
      await refused('unknown field', () => query('{ projects { secrets } }'), {
        status: 400,
        code: 'GRAPHQL_VALIDATION_FAILED',
      });
    });
  });

  describe('oversized and malformed requests', () => {
    it('an oversized body is PAYLOAD_TOO_LARGE on GraphQL and REST', async () => {
      const padding = 'x'.repeat(150 * 1024);
      await refused(
        '150 kB GraphQL body',
        () => postGraphql(JSON.stringify({ query: `{ projects { total } } # ${padding}` })),
        {
          status: 413,
          code: 'PAYLOAD_TOO_LARGE',
        },
      );
      await refused(
        '150 kB REST body',
        () =>
          fetch(`${world.url}/api/v1/projects/${A}/pipeline-executions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...admin },
            body: JSON.stringify({
              pipelineName: 'p',
              environmentName: 'Dev',
              scalarVariables: { v: padding },
            }),
          }),
        { status: 413, code: 'PAYLOAD_TOO_LARGE' },
      );
    });

    it('oversized variables are refused, whole or field by field', async () => {
      await refused(
        '200 kB of variables',
        () => query('query ($p: ID!) { project(id: $p) { id } }', { p: A, junk: 'y'.repeat(200 * 1024) }),
        { status: 413, code: 'PAYLOAD_TOO_LARGE' },
      );
      await refused(
        'a 60 kB pipeline name',
        () =>
          query(
            'mutation ($i: ExecutePipelineInput!) { executePipeline(input: $i) { pipelineExecutionId } }',
            {
              i: { projectId: A, pipelineName: 'n'.repeat(60 * 1024), environmentName: 'Dev' },
            },
          ),
        { code: 'BAD_USER_INPUT' },
      );
      await refused(
        'a name with control characters',
        () =>
          query(
            'mutation ($i: ExecutePipelineInput!) { executePipeline(input: $i) { pipelineExecutionId } }',
            {
              i: { projectId: A, pipelineName: 'bad\u0000name\n', environmentName: 'Dev' },
            },
          ),
        { code: 'BAD_USER_INPUT' },
      );
    });

    it('malformed JSON is BAD_USER_INPUT on GraphQL and REST', async () => {
      await refused('malformed GraphQL JSON', () => postGraphql('{"query": "{ projects { total } }"'), {
        status: 400,
        code: 'BAD_USER_INPUT',
      });
      await refused(
        'malformed REST JSON',
        () =>
          fetch(`${world.url}/api/v1/projects/${A}/pipeline-executions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...admin },
            body: '{"pipelineName": ',
          }),
        { status: 400, code: 'BAD_USER_INPUT' },
      );
      for (const [contentType, prefix] of [
        ['text/plain', '/api/v1'],
        ['application/x-www-form-urlencoded', '/dpc/v1'],
      ]) {
        await refused(
          `a REST body sent as ${contentType} under ${prefix}`,
          () =>
            fetch(`${world.url}${prefix}/projects/${A}/pipeline-executions/${E}`, {
              method: 'PATCH',
              headers: { 'content-type': contentType, ...admin },
              body: 'status=CANCELLED',
            }),
          { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
        );
      }
      await refused(
        'a JSON array (batch)',
        () => postGraphql(JSON.stringify([{ query: '{ projects { total } }' }, { query: '{ __typename }' }])),
        {
          status: 400,
          code: 'BAD_USER_INPUT',
        },
      );
      await refused('no query at all', () => postGraphql(JSON.stringify({ variables: {} })), {
        status: 400,
        code: 'BAD_USER_INPUT',
      });
      await refused(
        'variables of the wrong type',
        () => query('query ($p: ID!) { project(id: $p) { id } }', { p: { $gt: '' } }),
        {
          code: 'BAD_USER_INPUT',
        },
      );
    });
  });

  describe('ids and names', () => {
    it('invalid ids are BAD_USER_INPUT on GraphQL and REST', async () => {
      await refused(
        'GraphQL projectId not a UUID',
        () =>
          query('query ($p: ID!, $e: ID!) { pipelineExecution(projectId: $p, executionId: $e) { id } }', {
            p: 'not-a-uuid',
            e: E,
          }),
        { code: 'BAD_USER_INPUT' },
      );
      await refused(
        'GraphQL executionId not a UUID',
        () =>
          query('query ($p: ID!, $e: ID!) { pipelineExecution(projectId: $p, executionId: $e) { id } }', {
            p: A,
            e: '1 OR 1=1',
          }),
        { code: 'BAD_USER_INPUT' },
      );
      await refused(
        'REST projectId not a UUID',
        () => fetch(`${world.url}/api/v1/projects/not-a-uuid/environments`, { headers: admin }),
        {
          status: 400,
          code: 'BAD_USER_INPUT',
        },
      );
      await refused(
        'REST execution id not a UUID',
        () => fetch(`${world.url}/api/v1/projects/${A}/pipeline-executions/12345`, { headers: admin }),
        { status: 400, code: 'BAD_USER_INPUT' },
      );
      for (const path of [
        `/dpc/v1/projects/not-a-uuid/environments`,
        `/dpc/v1/projects/${A}/pipeline-executions/12345/status`,
        `/api/v1/projects/${A}/pipeline-executions/1%20OR%201=1/status`,
        `/dpc/v1/pipeline-executions?projectId=not-a-uuid`,
      ]) {
        await refused(`REST ${path}`, () => fetch(`${world.url}${path}`, { headers: admin }), {
          status: 400,
          code: 'BAD_USER_INPUT',
        });
      }
    });

    it('path traversal in ids never reaches another route', async () => {
      for (const [name, path] of [
        ['encoded ../ in a project id', `/api/v1/projects/..%2F..%2Fpipeline-executions/environments`],
        ['encoded ../ in an execution id', `/api/v1/projects/${A}/pipeline-executions/..%2F..%2F${A}/steps`],
        ['double-encoded ../', `/api/v1/projects/%252e%252e%252fprojects/environments`],
        [
          'encoded ../ on the light status call',
          `/dpc/v1/projects/${A}/pipeline-executions/..%2F${A}/status`,
        ],
      ]) {
        const answer = await refused(name, () => fetch(`${world.url}${path}`, { headers: admin }), {
          code: 'BAD_USER_INPUT',
        });
        expect(answer.status).toBe(400);
      }
      // The router does not match a dot segment where an id belongs: a plain 404 route miss.
      await refused(
        'dot segments in the SSE route',
        () =>
          fetch(`${world.url}/api/v1/projects/${A}/pipeline-executions/%2e%2e/events`, { headers: admin }),
        { status: 404, code: 'NOT_FOUND' },
      );
      await refused(
        'GraphQL project id with ../',
        () =>
          query('query ($p: ID!) { pipelineExecutions(filter: { projectId: $p }) { nodes { id } } }', {
            p: `../${A}`,
          }),
        { code: 'BAD_USER_INPUT' },
      );
    });

    it('names with ../ and %2F stay names: the one intended upstream route is called, with the name intact', async () => {
      const before = await world.maia.counters();
      const traversal = '../../../v1/projects?x=%2F..%2F#';
      const answer = await answerOf(
        await query(
          'query ($p: ID, $n: String!) { project(id: $p) { environment(name: $n) { name publishedPipelines { results { name } } } } }',
          {
            p: A,
            n: traversal,
          },
        ),
      );
      expect(answer.status).toBeLessThan(500);
      const after = await world.maia.counters();
      const moved = Object.entries(after.routes)
        .filter(([route, c]) => c.total !== (before.routes[route]?.total ?? 0))
        .map(([route]) => route);
      // Only the environments listing (the name is compared against its results) may have been asked.
      expect(moved.filter((route) => route !== 'listEnvironments' && route !== 'token')).toEqual([]);

      // The Maia client itself refuses anything but a UUID where a path segment goes, before any request.
      const maia = world.gateway.app.get<MaiaApi>(MAIA_API, { strict: false });
      const beforeClient = (await world.maia.counters()).total;
      for (const id of ['../../projects', '..%2F..%2Fprojects', '..', '.', `${A}/../..`, `${A}%2F..`]) {
        const error = await maia.listEnvironments(id, { page: 0, size: 1 }).then(
          () => undefined,
          (e: unknown) => e as { code?: string },
        );
        expect({ id, code: error?.code }).toEqual({ id, code: 'BAD_USER_INPUT' });
      }
      expect((await world.maia.counters()).total).toBe(beforeClient);
    });
  });

  describe('cross-site requests', () => {
    it('Apollo CSRF prevention refuses simple requests: GET without a preflight header, text/plain and form posts', async () => {
      const get = await refused(
        'GET without apollo-require-preflight',
        () =>
          fetch(`${world.url}/graphql?query=${encodeURIComponent('{ projects { total } }')}`, {
            headers: admin,
          }),
        { status: 400, code: 'BAD_USER_INPUT' },
      );
      expect(get.body).toMatch(/Cross-Site Request Forgery/i);
      for (const type of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
      ]) {
        await refused(
          `POST ${type}`,
          () =>
            fetch(`${world.url}/graphql`, {
              method: 'POST',
              headers: { 'content-type': type, ...admin },
              body: JSON.stringify({ query: '{ projects { total } }' }),
            }),
          // No multipart parser at all: the body format itself is refused (415).
          { code: type.startsWith('multipart/') ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_USER_INPUT' },
        );
      }
      // With the preflight header a GET query is served (the limits above still apply).
      const allowed = await fetch(
        `${world.url}/graphql?query=${encodeURIComponent('{ projects { total } }')}`,
        {
          headers: { ...admin, 'apollo-require-preflight': 'true' },
        },
      );
      expect(allowed.status).toBe(200);
    });

    it('a mutation over GET is refused', async () => {
      await refused(
        'mutation over GET',
        () =>
          fetch(
            `${world.url}/graphql?query=${encodeURIComponent(`mutation { invalidateCache(projectId: "${A}") { __typename } }`)}`,
            { headers: { ...admin, 'apollo-require-preflight': 'true' } },
          ),
        { code: 'BAD_USER_INPUT' },
      );
    });
  });
});
