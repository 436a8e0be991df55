import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { EdgeReads } from '../../src/common/http/edge-reads';
import { KEYS, PROJECTS, startSecuredWorld, type SecuredWorld } from '../auth/support/secured-gateway';
import { STANDALONE_REDIS_URL } from '../support/redis-topologies';

/**
 * Reads declared `@EdgeRead()` (GET /api/v1/projects) are answered by the HTTP server's request listener
 * calling the controller, ahead of Fastify and Nest (src/common/http/edge-reads.ts). What a user must
 * never notice: a different answer (bytes, status, headers, error code) than the normal path gives, a
 * refused caller let through, a request charged, counted or sent upstream twice. The normal path is
 * reached with the same read written so that the front leaves it alone (`size=%32` is `size=2` to
 * Fastify's query parser, but not a plain query string to the front).
 */

interface Answer {
  status: number;
  contentType: string | null;
  requestId: string | null;
  stale: string | null;
  body: string;
}

async function get(url: string, apiKey?: string, requestId?: string): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (apiKey !== undefined) headers['x-api-key'] = apiKey;
  if (requestId !== undefined) headers['x-request-id'] = requestId;
  const response = await fetch(url, { headers });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    requestId: response.headers.get('x-request-id'),
    stale: response.headers.get('x-cache-stale'),
    body: await response.text(),
  };
}

/** The count of one HTTP request series in /metrics (0 when absent). */
async function requestsCounted(url: string, route: string, status: number): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) =>
      l.startsWith(
        `gateway_http_requests_total{transport="rest",route="${route}",method="GET",status="${status}"}`,
      ),
    );
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('edge reads', () => {
  let world: SecuredWorld;
  let edge: EdgeReads;

  beforeAll(async () => {
    world = await startSecuredWorld({
      REDIS_URL: STANDALONE_REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      // One attempt per upstream call and no breaker in the way: each failing read is one upstream call.
      MAIA_MAX_ATTEMPTS: '1',
      MAIA_BREAKER_FAILURE_THRESHOLD: '1000',
    });
    edge = world.gateway.app.get(EdgeReads);
  });

  afterAll(async () => {
    await world?.close();
  });

  afterEach(async () => {
    await world.maia.clearFaults();
  });

  it('serves the projects list at the edge, on both prefixes', () => {
    expect(edge.paths.sort()).toEqual(['/api/v1/projects', '/dpc/v1/projects']);
  });

  it('answers byte for byte what the normal path answers, for every caller and page', async () => {
    for (const key of [KEYS.admin, KEYS.reader, KEYS.otherProject, KEYS.noProjects]) {
      for (const [plain, encoded] of [
        ['size=2', 'size=%32'],
        ['page=1&size=2', 'page=%31&size=2'],
        ['', 'size=%32%35'],
        ['size=500&unknown=x', 'size=%35%30%30&unknown=x'],
      ]) {
        for (const prefix of ['/api/v1', '/dpc/v1']) {
          const servedBefore = edge.served;
          const atEdge = await get(`${world.url}${prefix}/projects${plain ? `?${plain}` : ''}`, key);
          expect(edge.served).toBe(servedBefore + 1);
          const normal = await get(`${world.url}${prefix}/projects?${encoded}`, key);
          expect(edge.served).toBe(servedBefore + 1);
          expect({ ...atEdge, requestId: null }).toEqual({ ...normal, requestId: null });
          expect(atEdge.status).toBe(200);
        }
      }
    }
    // A restricted caller sees only its own projects (the service cuts the list, as on the normal path).
    const reader = JSON.parse((await get(`${world.url}/api/v1/projects`, KEYS.reader)).body) as {
      results: { id: string }[];
    };
    expect(reader.results.map((p) => p.id)).toEqual([PROJECTS.analytics]);
  });

  it('echoes the caller’s request id, or makes one', async () => {
    const given = await get(`${world.url}/api/v1/projects`, KEYS.admin, 'edge-read-test-1');
    expect(given.requestId).toBe('edge-read-test-1');
    const made = await get(`${world.url}/api/v1/projects`, KEYS.admin);
    expect(made.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('leaves refusals and invalid input to the normal path, answered with their usual codes', async () => {
    const servedBefore = edge.served;
    const cases: [string, string | undefined, number, string][] = [
      ['/api/v1/projects', undefined, 401, 'UNAUTHENTICATED'],
      ['/api/v1/projects', 'not-a-key', 401, 'UNAUTHENTICATED'],
      ['/api/v1/projects?size=abc', KEYS.admin, 400, 'BAD_USER_INPUT'],
      ['/api/v1/projects?page=-1', KEYS.admin, 400, 'BAD_USER_INPUT'],
    ];
    for (const [path, key, status, code] of cases) {
      const answer = await get(`${world.url}${path}`, key);
      expect([answer.status, answer.contentType, (JSON.parse(answer.body) as { code: string }).code]).toEqual(
        [status, 'application/problem+json; charset=utf-8', code],
      );
    }
    expect(edge.served).toBe(servedBefore);
  });

  it('answers an upstream failure as the normal path does, with one upstream call per request', async () => {
    // Pages nobody read yet: the lookup must go to Maia, which fails.
    await world.maia.addFault({ route: 'listProjects', status: 503 });
    await world.maia.resetCounters();
    const atEdge = await get(`${world.url}/api/v1/projects?page=7&size=3`, KEYS.admin);
    const edgeCalls = await world.maia.count('listProjects');
    await world.maia.resetCounters();
    const normal = await get(`${world.url}/api/v1/projects?page=8&size=%33`, KEYS.admin);
    const normalCalls = await world.maia.count('listProjects');
    expect(atEdge.status).toBeGreaterThanOrEqual(500);
    expect(edgeCalls).toBe(1);
    expect(normalCalls).toBe(1);
    expect({ ...atEdge, requestId: null }).toEqual({ ...normal, requestId: null });
  });

  it('answers a page this process holds within the request event itself, with the bytes HTTP gets', async () => {
    const path = '/api/v1/projects?size=2';
    const overHttp = await get(`${world.url}${path}`, KEYS.admin);
    expect(overHttp.status).toBe(200);
    // The same read handed to the server's request listeners as Node would (a request never sent on a
    // socket): a page in memory is written before the event returns, without waiting for any later turn.
    const req = new IncomingMessage(new Socket());
    req.method = 'GET';
    req.url = path;
    // No accept header (fetch sent */*): the whole-answer cache, on in this world, keys its answers by it and
    // so leaves this request to the edge, which is what is measured here (`edge.served` checks it).
    req.headers = { 'x-api-key': KEYS.admin, 'x-request-id': 'edge-sync-1' };
    const res = new ServerResponse(req);
    const written: unknown[] = [];
    const end = res.end.bind(res) as (chunk: unknown) => ServerResponse;
    res.end = ((chunk: unknown) => {
      written.push(chunk);
      return end(chunk);
    }) as typeof res.end;
    const servedBefore = edge.served;
    world.gateway.app.getHttpServer().emit('request', req, res);
    expect(written).toEqual([overHttp.body]);
    expect([res.statusCode, edge.served]).toEqual([200, servedBefore + 1]);
    res.emit('close');
  });

  it('counts each edge answer once in the HTTP metrics, under its route', async () => {
    const before = await requestsCounted(world.url, '/api/v1/projects', 200);
    for (let i = 0; i < 3; i++)
      expect((await get(`${world.url}/api/v1/projects`, KEYS.admin)).status).toBe(200);
    expect(await requestsCounted(world.url, '/api/v1/projects', 200)).toBe(before + 3);
  });
});

describe('edge reads and rate limits', () => {
  let world: SecuredWorld;

  beforeAll(async () => {
    world = await startSecuredWorld({
      REDIS_URL: STANDALONE_REDIS_URL,
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_BURST: '3',
      RATE_LIMIT_PER_MINUTE: '1',
      RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '2',
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('charges every request once, and the refusal is the normal path’s', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await get(`${world.url}/api/v1/projects`, KEYS.reader)).status);
    expect(statuses).toEqual([200, 200, 200]);
    const refused = await get(`${world.url}/api/v1/projects`, KEYS.reader);
    expect([refused.status, (JSON.parse(refused.body) as { code: string }).code]).toEqual([
      429,
      'RATE_LIMITED',
    ]);
  });

  it('charges a refused credential once', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await get(`${world.url}/api/v1/projects`, 'not-a-key')).status);
    expect(statuses).toEqual([401, 401, 429]);
  });
});
