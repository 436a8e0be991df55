import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seed } from '../api/support/api-client';
import { wsCall } from '../auth/support/probes';
import { spyOnHandlers } from '../security/support/handler-spies';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';

/**
 * Trusted documents: automatic persisted queries shared by replicas through Redis, and the production
 * allow-list (a persisted-query manifest) refusing every other document before anything runs.
 */

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const PROJECTS = 'query Projects { projects(size: 5) { total results { id name } } }';
const PROJECT = `query Project { project(id: "${seed.testProject}") { id name } }`;

interface Answer {
  status: number;
  data?: unknown;
  errors?: { message: string; extensions: { code: string } }[];
}

async function post(url: string, body: Record<string, unknown>): Promise<Answer> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, ...((await response.json()) as Omit<Answer, 'status'>) };
}

/** What Apollo Client's persisted-query link sends: the hash alone, or the hash with the document. */
const byHash = (query: string) => ({
  extensions: { persistedQuery: { version: 1, sha256Hash: sha256(query) } },
});
const withHash = (query: string) => ({ query, ...byHash(query) });

let maia: EmulatorFixture;
const gateways: InProcessGateway[] = [];

beforeAll(async () => {
  maia = await startEmulatorFixture();
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await maia?.close();
});
beforeEach(() => maia.resetCounters());

async function gateway(overrides: Record<string, string>): Promise<InProcessGateway> {
  const started = await startGateway(gatewayEnv(maia, { AUTH_DISABLED: 'true', ...overrides }));
  gateways.push(started);
  return started;
}

describe('automatic persisted queries', () => {
  it('a hash registered on one replica runs by hash alone on another sharing Redis', async () => {
    const shared = { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: `test:apq:${randomUUID()}:` };
    const [a, b] = [await gateway(shared), await gateway(shared)];

    const miss = await post(b.url, byHash(PROJECTS));
    expect(miss.errors?.[0]).toMatchObject({
      message: 'PersistedQueryNotFound',
      extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
    });
    expect(await maia.apiCount()).toBe(0);

    const registered = await post(a.url, withHash(PROJECTS));
    expect(registered.errors).toBeUndefined();
    expect(registered.data).toMatchObject({ projects: { total: expect.any(Number) } });

    const hit = await eventually(async () => {
      const answer = await post(b.url, byHash(PROJECTS));
      expect(answer.errors).toBeUndefined();
      return answer;
    });
    expect(hit.data).toEqual(registered.data);
  });

  it('without Redis, a replica remembers in memory what it was sent', async () => {
    const alone = await gateway({ REDIS_URL: '' });
    expect((await post(alone.url, byHash(PROJECT))).errors?.[0].extensions.code).toBe(
      'PERSISTED_QUERY_NOT_FOUND',
    );
    expect((await post(alone.url, withHash(PROJECT))).errors).toBeUndefined();
    const hit = await post(alone.url, byHash(PROJECT));
    expect(hit.errors).toBeUndefined();
    expect(hit.data).toEqual({ project: { id: seed.testProject, name: 'Test-project' } });
  });
});

describe('the allow-list of trusted documents', () => {
  let listed: InProcessGateway;
  let handlers: ReturnType<typeof spyOnHandlers>;

  beforeAll(async () => {
    handlers = spyOnHandlers(); // before the gateway is built: Nest captures the handlers then
    const folder = mkdtempSync(join(tmpdir(), 'trusted-documents-'));
    const manifest = join(folder, 'persisted-query-manifest.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [{ id: sha256(PROJECTS), body: PROJECTS, name: 'Projects', type: 'query' }],
      }),
    );
    listed = await gateway({ GRAPHQL_TRUSTED_DOCUMENTS_FILE: manifest });
  });
  afterAll(() => handlers?.restore());

  it('runs a listed operation by its hash alone and by its full document', async () => {
    const hashOnly = await post(listed.url, byHash(PROJECTS));
    expect(hashOnly.errors).toBeUndefined();
    expect(hashOnly.data).toMatchObject({ projects: { total: expect.any(Number) } });
    const full = await post(listed.url, { query: PROJECTS });
    expect(full.errors).toBeUndefined();
    expect(full.data).toEqual(hashOnly.data);
    // GET, as Apollo Client's persisted-query link sends queries with `useGETForHashedQueries`.
    const extensions = encodeURIComponent(JSON.stringify(byHash(PROJECTS).extensions));
    const viaGet = await fetch(`${listed.url}/graphql?extensions=${extensions}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(viaGet.status).toBe(200);
    expect(((await viaGet.json()) as Answer).data).toEqual(hashOnly.data);
    const unlisted = encodeURIComponent(JSON.stringify(byHash(PROJECT).extensions));
    const refusedGet = await fetch(`${listed.url}/graphql?extensions=${unlisted}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(refusedGet.status).toBe(400);
    expect(((await refusedGet.json()) as Answer).errors?.[0].extensions.code).toBe(
      'PERSISTED_QUERY_NOT_ALLOWED',
    );
    expect(handlers.calls()).toBeGreaterThan(0);
    expect(await maia.apiCount()).toBeGreaterThan(0);
  });

  it('refuses any other document, hash or text, with PERSISTED_QUERY_NOT_ALLOWED before anything runs', async () => {
    const handlersBefore = handlers.calls();
    for (const body of [{ query: PROJECT }, withHash(PROJECT), byHash(PROJECT), { query: `${PROJECTS} ` }]) {
      const refused = await post(listed.url, body);
      expect(refused.status).toBe(400);
      expect(refused.data).toBeUndefined();
      expect(refused.errors).toEqual([
        {
          message: 'This document is not on the list of trusted documents',
          extensions: { code: 'PERSISTED_QUERY_NOT_ALLOWED' },
        },
      ]);
    }
    expect(handlers.calls() - handlersBefore).toBe(0);
    expect(await maia.apiCount()).toBe(0);
  });

  it('refuses an unlisted subscription over graphql-ws the same way', async () => {
    const handlersBefore = handlers.calls();
    const outcome = await wsCall(
      listed.url,
      {},
      `subscription { pipelineExecutionEvents(projectId: "${seed.testProject}") { kind } }`,
    );
    expect(outcome.code).toBe('PERSISTED_QUERY_NOT_ALLOWED');
    expect(handlers.calls() - handlersBefore).toBe(0);
    expect(await maia.apiCount()).toBe(0);
  });

  it('with the allow-list off, any document runs', async () => {
    const open = await gateway({});
    const answer = await post(open.url, { query: PROJECT });
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ project: { id: seed.testProject, name: 'Test-project' } });
  });
});
