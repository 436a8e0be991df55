import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { hashApiKey } from '../../src/auth/api-key.authenticator';
import {
  ANALYTICS_FINISHED_EXECUTION,
  apiKeysJson,
  KEYS,
  PROJECTS,
  startSecuredWorld,
  type SecuredWorld,
} from '../auth/support/secured-gateway';
import { spyOnHandlers } from '../security/support/handler-spies';
import { eventually } from '../support/eventually';
import { STANDALONE_REDIS_URL } from '../support/redis-topologies';

/**
 * The hot-read cache (src/hot-read) serves repeated lookup reads ahead of Nest and Apollo. What a user
 * must never notice: an answer built for another caller, a refused credential let through, an execution
 * or a mutation answered twice from memory, an answer outliving an invalidation, a stale answer replayed
 * as fresh. A real Redis and the emulator counting upstream calls; the cache's TTL is long here (60 s) so
 * that only the rules under test decide what is served again.
 */

const PROJECTS_QUERY = 'query P { projects { total results { id name } } }';

/** A second caller with exactly the reader's rights (read, Analytics Warehouse), under another name. */
const READER_TWIN_KEY = 'reader-twin-key-5e6f7a8b9c0d1e2f';

/** The secured world's keys, and the reader's twin. */
function apiKeysWithTwin(): string {
  const keys = JSON.parse(apiKeysJson()) as Record<string, unknown>[];
  const reader = keys.find((k) => k.name === 'reader');
  return JSON.stringify([...keys, { ...reader, name: 'reader-twin', sha256: hashApiKey(READER_TWIN_KEY) }]);
}

interface GraphqlAnswer {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: { extensions?: { code?: string } }[] };
  headers: Headers;
}

describe('hot-read cache', () => {
  let world: SecuredWorld;
  let handlers: ReturnType<typeof spyOnHandlers>;

  beforeAll(async () => {
    handlers = spyOnHandlers(); // before the gateway is built: Nest captures the handlers then
    world = await startSecuredWorld({
      REDIS_URL: STANDALONE_REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      CACHE_HOT_READ_TTL_MS: '60000',
      AUTH_API_KEYS: apiKeysWithTwin(),
      // Short-lived lookups, so a stale answer can be provoked within the test; one attempt per call and
      // no circuit breaker in the way, so Maia is reached again the moment it recovers.
      CACHE_TTL_PROJECTS_SECONDS: '1',
      MAIA_MAX_ATTEMPTS: '1',
      MAIA_BREAKER_FAILURE_THRESHOLD: '1000',
    });
  });

  afterAll(async () => {
    await world?.close();
    handlers?.restore();
  });

  beforeEach(async () => {
    await world.maia.resetCounters();
  });

  async function graphql(
    apiKey: string,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GraphqlAnswer> {
    const response = await fetch(`${world.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ query, variables }),
    });
    return {
      status: response.status,
      body: (await response.json()) as GraphqlAnswer['body'],
      headers: response.headers,
    };
  }

  async function rest(
    apiKey: string,
    path: string,
  ): Promise<{ status: number; body: unknown; headers: Headers }> {
    const response = await fetch(`${world.url}${path}`, { headers: { 'x-api-key': apiKey } });
    return { status: response.status, body: await response.json(), headers: response.headers };
  }

  const projectIds = (answer: GraphqlAnswer) =>
    ((answer.body.data?.projects as { results: { id: string }[] }).results ?? []).map((p) => p.id).sort();

  it('answers each caller with its own projects, however the requests interleave (GraphQL and REST)', async () => {
    for (let round = 0; round < 3; round++) {
      expect(projectIds(await graphql(KEYS.reader, PROJECTS_QUERY))).toEqual([PROJECTS.analytics]);
      expect(projectIds(await graphql(KEYS.otherProject, PROJECTS_QUERY))).toEqual([PROJECTS.marketing]);
      expect(projectIds(await graphql(KEYS.admin, PROJECTS_QUERY))).toHaveLength(5);
      const readerRest = (await rest(KEYS.reader, '/api/v1/projects')).body as { results: { id: string }[] };
      expect(readerRest.results.map((p) => p.id)).toEqual([PROJECTS.analytics]);
      const otherRest = (await rest(KEYS.otherProject, '/api/v1/projects')).body as {
        results: { id: string }[];
      };
      expect(otherRest.results.map((p) => p.id)).toEqual([PROJECTS.marketing]);
    }
  });

  it('shares an answer between callers of the same rights, never between callers of different rights', async () => {
    const query = 'query Shared { projects(size: 7) { total results { id name } } }';
    const first = await graphql(KEYS.reader, query);
    expect(projectIds(first)).toEqual([PROJECTS.analytics]);
    const firstRest = await rest(KEYS.reader, '/api/v1/projects?size=7');
    const before = handlers.calls();
    // Another key, another name, the same rights: the reader's answers, from memory.
    const twin = await graphql(READER_TWIN_KEY, query);
    expect(twin.body).toEqual(first.body);
    expect((await rest(READER_TWIN_KEY, '/api/v1/projects?size=7')).body).toEqual(firstRest.body);
    // A JWT of the same rights shares them too: rights, not the kind of credential, make the key.
    const jwt = await world.jwt({ scope: 'read', maia_projects: [PROJECTS.analytics] });
    const jwtAnswer = await fetch(`${world.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${jwt}` },
      body: JSON.stringify({ query }),
    });
    expect(await jwtAnswer.json()).toEqual(first.body);
    expect(handlers.calls()).toBe(before); // three answers, no resolver or controller ran

    // Same scopes, another project; same project, more scopes; every project: each built for its caller.
    const other = await graphql(KEYS.otherProject, query);
    expect(projectIds(other)).toEqual([PROJECTS.marketing]);
    const otherRest = (await rest(KEYS.otherProject, '/api/v1/projects?size=7')).body as {
      results: { id: string }[];
    };
    expect(otherRest.results.map((p) => p.id)).toEqual([PROJECTS.marketing]);
    expect(handlers.calls()).toBe(before + 2);
    const operator = await graphql(KEYS.operator, query);
    expect(projectIds(operator)).toEqual([PROJECTS.analytics]);
    expect(handlers.calls()).toBe(before + 3); // the reader's answer was not lent to more rights
    expect(projectIds(await graphql(KEYS.admin, query))).toHaveLength(5);
    expect(handlers.calls()).toBe(before + 4);
    // And the reader still gets only its own project, from memory.
    expect((await graphql(KEYS.reader, query)).body).toEqual(first.body);
    expect(handlers.calls()).toBe(before + 4);
  });

  it('refuses a wrong key even for an answer it holds, and a caller without rights to a project', async () => {
    expect((await graphql(KEYS.admin, PROJECTS_QUERY)).status).toBe(200);
    const wrong = await graphql('not-a-key', PROJECTS_QUERY);
    expect([wrong.status, wrong.body.data ?? null, wrong.body.errors?.[0]?.extensions?.code]).toEqual([
      401,
      null,
      'UNAUTHENTICATED',
    ]);
    const path = `/api/v1/projects/${PROJECTS.analytics}/environments`;
    expect((await rest(KEYS.admin, path)).status).toBe(200);
    expect((await rest(KEYS.otherProject, path)).status).toBe(404); // hidden = missing, as without the cache
    expect((await rest('not-a-key', path)).status).toBe(401);
  });

  it('serves a repeated lookup read without any upstream or lookup work, and forgets it on invalidation', async () => {
    const first = await graphql(KEYS.admin, 'query Again { projects(size: 5) { total results { id } } }');
    const upstreamAfterFirst = await world.maia.count('listProjects');
    const handlerCalls = handlers.calls();
    const second = await graphql(KEYS.admin, 'query Again { projects(size: 5) { total results { id } } }');
    expect(second.body).toEqual(first.body);
    expect(await world.maia.count('listProjects')).toBe(upstreamAfterFirst);
    expect(handlers.calls()).toBe(handlerCalls); // answered ahead of every resolver
    const metrics = await (await fetch(`${world.url}/metrics`)).text();
    expect(
      Number(/^gateway_hot_read_requests_total\{result="hit"\} (\d+)$/m.exec(metrics)?.[1]),
    ).toBeGreaterThan(0);
    expect(Number(/^gateway_hot_read_entries (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);

    const invalidated = await graphql(KEYS.admin, 'mutation { invalidateCache { invalidated } }');
    expect(invalidated.body.errors).toBeUndefined();
    await world.maia.resetCounters();
    const callsBeforeThird = handlers.calls();
    const third = await graphql(KEYS.admin, 'query Again { projects(size: 5) { total results { id } } }');
    expect(third.body).toEqual(first.body);
    expect(handlers.calls()).toBeGreaterThan(callsBeforeThird);
    // Loaded again: the hot answer went with the lookups it was built from.
    expect(await world.maia.count('listProjects')).toBe(1);
  });

  it('answers a hit like any request: its own request id, counted under its route in the metrics', async () => {
    const path = `/api/v1/projects/${PROJECTS.analytics}/environments`;
    const route = '/api/v1/projects/:projectId/environments';
    const counted = async (): Promise<number> => {
      const text = await (await fetch(`${world.url}/metrics`)).text();
      const line = new RegExp(
        `^gateway_http_requests_total\\{transport="rest",route="${route.replace(/[/]/g, '\\/')}",method="GET",status="200"\\} (\\d+)$`,
        'm',
      );
      return Number(line.exec(text)?.[1] ?? 0);
    };
    const get = (requestId?: string) =>
      fetch(`${world.url}${path}`, {
        headers: { 'x-api-key': KEYS.admin, ...(requestId ? { 'x-request-id': requestId } : {}) },
      });
    const first = await get('hot-read-first-1');
    const firstBody = await first.text();
    expect([first.status, first.headers.get('x-request-id')]).toEqual([200, 'hot-read-first-1']);
    const before = await counted();
    const hitsBefore = handlers.calls();
    const ids: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const hit = await get(i === 0 ? 'hot-read-hit-1' : undefined);
      expect([hit.status, await hit.text()]).toEqual([200, firstBody]);
      expect(hit.headers.get('content-type')).toBe(first.headers.get('content-type'));
      ids.push(hit.headers.get('x-request-id'));
    }
    expect(handlers.calls()).toBe(hitsBefore); // all three from memory
    expect(ids[0]).toBe('hot-read-hit-1'); // a sane caller id is echoed, as on the normal path
    expect(ids[1]).toMatch(/^[0-9a-f-]{36}$/); // otherwise a fresh one per request
    expect(ids[2]).not.toBe(ids[1]);
    expect(await counted()).toBe(before + 3);
  });

  it('writes a hit with the miss answer’s headers, in their order, its byte length and its duration', async () => {
    /** Status, header lines as sent (names in order, values) and body bytes of one raw HTTP answer. */
    const raw = (path: string, init: { method?: string; body?: string; requestId: string }) =>
      new Promise<{ status: number; rawHeaders: string[]; body: Buffer }>((resolve, reject) => {
        const req = httpRequest(
          `${world.url}${path}`,
          {
            method: init.method ?? 'GET',
            headers: {
              'x-api-key': KEYS.admin,
              'x-request-id': init.requestId,
              ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                rawHeaders: res.rawHeaders,
                body: Buffer.concat(chunks),
              }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(init.body);
      });
    const lines = (rawHeaders: string[]) => {
      const out: string[] = [];
      for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = rawHeaders[i].toLowerCase();
        if (name !== 'date') out.push(`${name}: ${rawHeaders[i + 1]}`);
      }
      return out;
    };
    const durations = async (route: string): Promise<number> => {
      const text = await (await fetch(`${world.url}/metrics`)).text();
      const line = new RegExp(
        `^gateway_http_request_duration_seconds_count\\{transport="rest",route="${route.replace(/[/]/g, '\\/')}",method="GET"\\} (\\d+)$`,
        'm',
      );
      return Number(line.exec(text)?.[1] ?? 0);
    };
    // An edge read (kept by the edge's listener) and a GraphQL read (kept in onSend).
    const reads = [
      { path: '/api/v1/projects?size=3' },
      { path: '/graphql', method: 'POST', body: JSON.stringify({ query: PROJECTS_QUERY }) },
    ];
    for (const [n, read] of reads.entries()) {
      const miss = await raw(read.path, { ...read, requestId: `hot-read-miss-${n}` });
      const before = await durations('/api/v1/projects');
      const calls = handlers.calls();
      const hit = await raw(read.path, { ...read, requestId: `hot-read-hit-${n}` });
      expect(handlers.calls()).toBe(calls); // from memory
      expect(hit.status).toBe(200);
      expect(hit.body.equals(miss.body)).toBe(true);
      const missLines = lines(miss.rawHeaders);
      const named = (...names: string[]) =>
        names.flatMap((name) => missLines.filter((line) => line.startsWith(`${name}: `)));
      const kept = named('content-type', 'content-length', 'cache-control');
      expect(lines(hit.rawHeaders)).toEqual([
        `x-request-id: hot-read-hit-${n}`,
        ...kept,
        ...named('connection', 'keep-alive'),
      ]);
      expect(kept).toContain(`content-length: ${hit.body.length}`);
      if (n === 0) expect(await durations('/api/v1/projects')).toBe(before + 1);
    }
  });

  it('never serves executions or mutations from memory', async () => {
    const executionQuery =
      'query E($p: ID!, $e: ID!) { projects { total } pipelineExecution(projectId: $p, executionId: $e) { id status } }';
    // A lookup and an execution in one query: the whole query is never cached.
    const executionId = ANALYTICS_FINISHED_EXECUTION;
    await world.maia.resetCounters();
    const statuses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await graphql(KEYS.admin, executionQuery, { p: PROJECTS.analytics, e: executionId });
      statuses.push((answer.body.data?.pipelineExecution as { status: string }).status);
    }
    expect(statuses).toHaveLength(3);
    expect(await world.maia.count('getExecution')).toBe(3);

    // The same mutation twice: two runs upstream.
    const before = (await world.maia.executions()).length;
    const input = {
      projectId: PROJECTS.analytics,
      pipelineName: 'transform/daily_revenue.tran.yaml',
      environmentName: 'Dev',
    };
    const mutation =
      'mutation X($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }';
    const a = await graphql(KEYS.admin, mutation, { input });
    const b = await graphql(KEYS.admin, mutation, { input });
    expect(a.body.data?.executePipeline).not.toEqual(b.body.data?.executePipeline);
    expect((await world.maia.executions()).length).toBe(before + 2);
  });

  it('hands over every GraphQL body it does not look at, or could not read, intact or not at all', async () => {
    const url = new URL(`${world.url}/graphql`);
    const query = 'query Chunked { projects(size: 2) { total results { id } } }';
    // Chunked (no content-length): straight to Fastify, which reads it as always.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-api-key': KEYS.admin,
            'transfer-encoding': 'chunked',
          },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      const text = JSON.stringify({ query });
      req.write(text.slice(0, 10));
      req.end(text.slice(10));
    });
    expect(chunked.status).toBe(200);
    expect((JSON.parse(chunked.body) as { data: { projects: { total: number } } }).data.projects.total).toBe(
      5,
    );

    // Larger than the front reads (16 KiB): the normal path answers it, whole.
    const padded = await graphql(
      KEYS.admin,
      `
        ${query}
        ${' '.repeat(20_000)}
      `,
    );
    expect([padded.status, (padded.body.data?.projects as { total: number }).total]).toEqual([200, 5]);

    // A client that sends half a body and goes: nothing is answered to nobody, and the gateway carries on.
    await new Promise<void>((resolve) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST /graphql HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\nx-api-key: ${KEYS.admin}\r\n` +
            'content-length: 500\r\n\r\n{"query":"{ proj',
          () => socket.end(), // the half body is sent: go
        );
      });
      socket.on('data', () => undefined);
      socket.once('close', () => resolve());
    });
    const after = await graphql(KEYS.admin, query);
    expect([after.status, (after.body.data?.projects as { total: number }).total]).toEqual([200, 5]);
  });

  it('answers identical reads in flight together once: the first runs, the others get its answer', async () => {
    // A cold lookup that takes a while upstream, so every request below arrives while the first is answered.
    expect(
      (await graphql(KEYS.admin, 'mutation { invalidateCache { invalidated } }')).body.errors,
    ).toBeUndefined();
    await world.maia.resetCounters();
    await world.maia.addFault({ route: 'listProjects', latencyMs: 400, count: 1 });
    const query = 'query InFlight { projects(size: 9) { total results { id name } } }';
    const before = handlers.calls();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(`${world.url}/graphql`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-api-key': i % 2 ? READER_TWIN_KEY : KEYS.reader,
            'x-request-id': `in-flight-${i}`,
          },
          body: JSON.stringify({ query }),
        }).then(async (r) => ({ status: r.status, id: r.headers.get('x-request-id'), body: await r.text() })),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(new Set(answers.map((a) => a.body)).size).toBe(1); // one answer, the same for the same rights
    expect(projectIds({ status: 200, body: JSON.parse(answers[0].body), headers: new Headers() })).toEqual([
      PROJECTS.analytics,
    ]);
    expect(answers.map((a) => a.id)).toEqual(answers.map((_, i) => `in-flight-${i}`)); // each its own id
    expect(handlers.calls()).toBe(before + 1); // the resolver ran for the first request only
    expect(await world.maia.count('listProjects')).toBe(1);
  });

  it('lets identical mutations in flight together each run, and sends readers of an unkept answer their own way', async () => {
    await world.maia.addFault({ route: 'executePipeline', latencyMs: 300, count: 2 });
    const before = (await world.maia.executions()).length;
    const input = {
      projectId: PROJECTS.analytics,
      pipelineName: 'transform/daily_revenue.tran.yaml',
      environmentName: 'Dev',
    };
    const mutation =
      'mutation Twice($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }';
    const [a, b] = await Promise.all([
      graphql(KEYS.admin, mutation, { input }),
      graphql(KEYS.admin, mutation, { input }),
    ]);
    expect(a.body.errors).toBeUndefined();
    expect(b.body.errors).toBeUndefined();
    expect(a.body.data?.executePipeline).not.toEqual(b.body.data?.executePipeline);
    expect((await world.maia.executions()).length).toBe(before + 2);

    // A declared read whose first answer is an error is not kept: the requests waiting for it each go
    // the normal way (no one is left waiting, and they are answered by their own lookups).
    expect(
      (await graphql(KEYS.admin, 'mutation { invalidateCache { invalidated } }')).body.errors,
    ).toBeUndefined();
    await world.maia.addFault({ route: 'listProjects', status: 503, latencyMs: 300, count: 1 });
    const query = 'query Unkept { projects(size: 3) { total results { id } } }';
    const calls = handlers.calls();
    const reads = await Promise.all(Array.from({ length: 5 }, () => graphql(KEYS.reader, query)));
    expect(reads.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(reads.filter((r) => r.body.data?.projects).length).toBeGreaterThanOrEqual(4);
    expect(handlers.calls()).toBeGreaterThan(calls + 1);
  });

  it('never replays a stale answer: once Maia is back, the same read is fresh', async () => {
    // One lookup (page 0, size 4), many URLs: each attempt misses the hot cache by its URL alone.
    const path = (attempt: number) => `/api/v1/projects?size=4${'&'.repeat(attempt)}`;
    expect((await rest(KEYS.admin, path(0))).status).toBe(200);
    await world.maia.addFault({ route: 'listProjects', status: 503 });
    // Fresh from the lookup cache until its 1 s TTL runs out; then Maia fails and the stale entry answers.
    let attempt = 0;
    const staleAt = await eventually(
      async () => {
        attempt += 1;
        const answer = await rest(KEYS.admin, path(attempt));
        expect([answer.status, answer.headers.get('x-cache-stale')]).toEqual([200, expect.any(String)]);
        return attempt;
      },
      { intervalMs: 50 },
    );
    await world.maia.clearFaults();
    await world.maia.resetCounters();
    const again = await rest(KEYS.admin, path(staleAt));
    expect([again.status, again.headers.get('x-cache-stale')]).toEqual([200, null]);
    expect(await world.maia.count('listProjects')).toBeGreaterThanOrEqual(1);
  });
});

describe('hot-read cache and rate limits', () => {
  let world: SecuredWorld;

  beforeAll(async () => {
    world = await startSecuredWorld({
      REDIS_URL: STANDALONE_REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      CACHE_HOT_READ_TTL_MS: '60000',
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_BURST: '4',
      RATE_LIMIT_PER_MINUTE: '1',
      RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '2',
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('charges every request once, whether memory or the normal path answers it', async () => {
    const get = () => fetch(`${world.url}/api/v1/projects`, { headers: { 'x-api-key': KEYS.reader } });
    const statuses: number[] = [];
    // A burst of 4: one miss and three hits fit exactly (a miss charged twice would refuse the fourth).
    for (let i = 0; i < 4; i++) statuses.push((await get()).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
    // The fifth is over the budget although its answer is in memory.
    const refused = await get();
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { code?: string }).code).toBe('RATE_LIMITED');
    // GraphQL spends the same budget.
    const graphql = await fetch(`${world.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEYS.reader },
      body: JSON.stringify({ query: PROJECTS_QUERY }),
    });
    expect(graphql.status).toBe(429);
  });

  it('charges a refused credential once, though the front admitted it before the normal path answered', async () => {
    // An answer exists for this read, so the front admits every caller of it (the reader's is kept above).
    const get = () => fetch(`${world.url}/api/v1/projects`, { headers: { 'x-api-key': 'not-a-key' } });
    // The IP's budget is 2 failed attempts: charged twice per request, the second would already be 429.
    const statuses = [(await get()).status, (await get()).status, (await get()).status];
    expect(statuses).toEqual([401, 401, 429]);
  });
});
