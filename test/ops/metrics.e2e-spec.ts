import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { parsePrometheusText, sumOf, valueOf, type Sample } from './prometheus-text';

/**
 * /metrics after a known sequence of calls: every count is exact, and the upstream counts agree with
 * the emulator's own counters request for request.
 */
describe('/metrics after a known sequence of calls', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;

  beforeAll(async () => {
    maia = await startEmulatorFixture();
    // Memory only: the cache counts below are this process's alone.
    gateway = await startGateway(
      gatewayEnv(maia, {
        MAIA_RETRY_BASE_DELAY_MS: '1',
        MAIA_RETRY_MAX_DELAY_MS: '1',
        // Every repeated read must reach the lookup cache for its counters: no hot-read answers here.
        CACHE_HOT_READ_TTL_MS: '0',
      }),
    );
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });

  async function scrape(): Promise<Sample[]> {
    const response = await fetch(`${gateway.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    return parsePrometheusText(await response.text());
  }

  it('counts requests per route template and operation, upstream calls, token fetches and cache results', async () => {
    const before = await scrape();
    expect(sumOf(before, 'gateway_http_requests_total')).toBe(0);
    expect(sumOf(before, 'maia_upstream_requests_total')).toBe(0);
    expect(valueOf(before, 'process_cpu_user_seconds_total')).toBeGreaterThanOrEqual(0);

    // 1. REST projects twice: one miss (token + listProjects upstream), one hit.
    for (let i = 0; i < 2; i += 1) {
      const response = await fetch(`${gateway.url}/api/v1/projects`);
      expect(response.status).toBe(200);
    }
    const projects = (await (await fetch(`${gateway.url}/api/v1/projects`)).json()) as {
      results: { id: string }[];
    };
    const projectId = projects.results[0].id;

    // 2. Environments of one project while Maia answers 503 once: one retry, then 200.
    await maia.addFault({ route: 'listEnvironments', status: 503, count: 1 });
    const environments = await fetch(`${gateway.url}/api/v1/projects/${projectId}/environments`);
    expect(environments.status).toBe(200);

    // 3. Two named GraphQL operations and one anonymous one.
    const graphql = async (query: string, operationName?: string) => {
      const response = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, operationName }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { errors?: unknown };
      expect(body.errors).toBeUndefined();
    };
    await graphql('query ProjectCount { projects { total } }');
    await graphql('query ProjectCount { projects { total } }', 'ProjectCount');
    await graphql('{ projects { total } }');

    // 4. A URL no route matches: counted once under "unmatched", never by its raw path.
    expect((await fetch(`${gateway.url}/api/v1/no-such-thing/123`)).status).toBe(404);

    const after = await scrape();
    const http = (labels: Record<string, string>) => valueOf(after, 'gateway_http_requests_total', labels);
    expect(http({ transport: 'rest', route: '/api/v1/projects', method: 'GET', status: '200' })).toBe(3);
    expect(
      http({
        transport: 'rest',
        route: '/api/v1/projects/:projectId/environments',
        method: 'GET',
        status: '200',
      }),
    ).toBe(1);
    expect(http({ transport: 'graphql', route: 'ProjectCount', method: 'POST', status: '200' })).toBe(2);
    expect(http({ transport: 'graphql', route: 'anonymous', method: 'POST', status: '200' })).toBe(1);
    expect(http({ transport: 'other', route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
    expect(sumOf(after, 'gateway_http_requests_total')).toBe(8);
    expect(after.some((s) => Object.values(s.labels).some((v) => v.includes(projectId)))).toBe(false);
    expect(
      valueOf(after, 'gateway_http_request_duration_seconds_count', {
        transport: 'rest',
        route: '/api/v1/projects',
        method: 'GET',
      }),
    ).toBe(3);

    // Upstream: exactly what the emulator saw, route by route and status by status, attempt by attempt
    // (the environments call also loads the project directory, to check the project exists).
    const upstream = (endpoint: string, status: string) =>
      valueOf(after, 'maia_upstream_requests_total', { endpoint, status }) ?? 0;
    const seenByMaia = await maia.counters();
    for (const [route, { byStatus }] of Object.entries(seenByMaia.routes)) {
      for (const [status, count] of Object.entries(byStatus))
        expect([route, status, upstream(route, status)]).toEqual([route, status, count]);
    }
    expect(sumOf(after, 'maia_upstream_requests_total')).toBe(seenByMaia.total);
    expect(upstream('token', '200')).toBe(1);
    expect(upstream('listEnvironments', '503')).toBe(1);
    expect(upstream('listEnvironments', '200')).toBe(1);
    expect(valueOf(after, 'maia_token_refreshes_total', { outcome: 'success' })).toBe(1);
    expect(
      valueOf(after, 'maia_upstream_request_duration_seconds_count', { endpoint: 'listEnvironments' }),
    ).toBe(2);

    // Cache: projects (page 0 size 25) loaded once; every later lookup of it was a hit.
    expect(valueOf(after, 'gateway_cache_requests_total', { resource: 'projects', result: 'miss' })).toBe(1);
    expect(valueOf(after, 'gateway_cache_requests_total', { resource: 'projects', result: 'hit' })).toBe(
      3 + 3 - 1, // 3 REST + 3 GraphQL lookups, the first of them the miss
    );
    expect(valueOf(after, 'gateway_cache_requests_total', { resource: 'environments', result: 'miss' })).toBe(
      1,
    );
    expect(valueOf(after, 'maia_circuit_breaker_state', { state: 'closed' })).toBe(1);
    expect(valueOf(after, 'maia_circuit_breaker_state', { state: 'open' })).toBe(0);

    // A scrape changes nothing it reports (collect callbacks read, they do not add).
    const again = await scrape();
    expect(sumOf(again, 'gateway_http_requests_total')).toBe(8);
    expect(valueOf(again, 'gateway_cache_requests_total', { resource: 'projects', result: 'hit' })).toBe(5);
  });
});
