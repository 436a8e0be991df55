import { graphqlCall } from './support/probes';
import { KEYS, PROJECTS, startSecuredWorld, type SecuredWorld } from './support/secured-gateway';

const VIEWER = '{ viewer { name kind scopes allProjects projectIds expiresAt } }';

/** `viewer` tells each caller what the gateway admitted it as: its scopes and its projects, nothing more. */
describe('Query.viewer', () => {
  let world: SecuredWorld;

  beforeAll(async () => {
    world = await startSecuredWorld();
  });
  afterAll(async () => {
    await world?.close();
  });

  const viewerOf = async (headers: Record<string, string>) => {
    const outcome = await graphqlCall(world.url, headers, VIEWER);
    return { ...outcome, viewer: (JSON.parse(outcome.body) as { data?: { viewer: unknown } }).data?.viewer };
  };

  it('answers a read-only key with its one scope and its one project', async () => {
    const { code, viewer } = await viewerOf({ 'x-api-key': KEYS.reader });
    expect(code).toBe('OK');
    expect(viewer).toEqual({
      name: 'reader',
      kind: 'API_KEY',
      scopes: ['read'],
      allProjects: false,
      projectIds: [PROJECTS.analytics],
      expiresAt: null,
    });
  });

  it('lists admin with every scope it implies, on every project', async () => {
    const { viewer } = await viewerOf({ 'x-api-key': KEYS.admin });
    expect(viewer).toMatchObject({
      scopes: ['read', 'execute', 'cancel', 'admin'],
      allProjects: true,
      projectIds: [],
    });
  });

  it('reads a JWT caller from its claims, with its expiry, and never echoes the credential', async () => {
    const token = await world.jwt({ scope: 'read cancel', maia_projects: [PROJECTS.marketing] });
    const { viewer, body } = await viewerOf({ authorization: `Bearer ${token}` });
    expect(viewer).toMatchObject({
      kind: 'JWT',
      scopes: ['read', 'cancel'],
      allProjects: false,
      projectIds: [PROJECTS.marketing],
    });
    expect((viewer as { expiresAt: string }).expiresAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(body).not.toContain(token);
  });

  it('refuses a caller without credentials (UNAUTHENTICATED), as every other operation does', async () => {
    const { code, status } = await viewerOf({});
    expect(code).toBe('UNAUTHENTICATED');
    expect(status).toBe(401);
  });
});
