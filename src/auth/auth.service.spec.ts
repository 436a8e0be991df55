import { HeaderMap } from '@apollo/server';
import { ErrorCode, GatewayError } from '../common/errors';
import { loadConfig } from '../config';
import { createSigningKey, JwksTestServer } from '../../test/auth/jwks-test-server';
import { AccessPolicy } from './access-policy';
import { hashApiKey } from './api-key.authenticator';
import { AuthService, UNAUTHENTICATED_MESSAGE } from './auth.service';
import { credentialsFrom } from './credentials';
import { SANDBOX_PRINCIPAL, type Principal } from './principal';

const PROJECT_A = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const PROJECT_B = '9b6a1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const READER_KEY = 'reader-key-0123456789';
const ADMIN_KEY = 'admin-key-0123456789';

function keysEnv() {
  return JSON.stringify([
    { name: 'reader', sha256: hashApiKey(READER_KEY), scopes: ['read'], projects: [PROJECT_A] },
    { name: 'admin', sha256: hashApiKey(ADMIN_KEY), scopes: ['admin'], projects: ['*'] },
  ]);
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

describe('credentialsFrom', () => {
  it('reads headers and connection_init payloads case-insensitively, nested headers included', () => {
    expect(credentialsFrom({ 'x-api-key': 'k' })).toEqual({ apiKey: 'k', malformed: false });
    expect(credentialsFrom({ 'X-API-Key': 'k' })).toEqual({ apiKey: 'k', malformed: false });
    expect(credentialsFrom({ Authorization: 'Bearer abc.def.ghi' })).toEqual({
      bearerToken: 'abc.def.ghi',
      malformed: false,
    });
    expect(credentialsFrom({ headers: { authorization: 'bearer t' } })).toEqual({
      bearerToken: 't',
      malformed: false,
    });
    expect(credentialsFrom(new HeaderMap([['x-api-key', 'k']]))).toEqual({ apiKey: 'k', malformed: false });
    expect(credentialsFrom(undefined)).toEqual({ malformed: false });
  });

  it('takes the first match of each name at the top level, and only a missing one from nested headers', () => {
    expect(credentialsFrom({ 'X-Api-Key': 'first', 'x-api-key': 'second' })).toEqual({
      apiKey: 'first',
      malformed: false,
    });
    expect(
      credentialsFrom({ 'x-api-key': 'top', headers: { 'x-api-key': 'nested', authorization: 'Bearer n' } }),
    ).toEqual({ apiKey: 'top', bearerToken: 'n', malformed: false });
    // A member present without a value counts as found: the nested one is not read for that name.
    expect(credentialsFrom({ 'x-api-key': undefined, headers: { 'x-api-key': 'nested' } })).toEqual({
      malformed: false,
    });
    // Inherited members are not the caller's: only own ones are read.
    expect(credentialsFrom(Object.create({ 'x-api-key': 'inherited' }) as Record<string, unknown>)).toEqual({
      malformed: false,
    });
  });

  it('flags values that cannot be credentials', () => {
    expect(credentialsFrom({ authorization: 'Basic dXNlcjpwYXNz' }).malformed).toBe(true);
    expect(credentialsFrom({ 'x-api-key': ['a', 'b'] }).malformed).toBe(true);
    expect(credentialsFrom({ 'x-api-key': 42 }).malformed).toBe(true);
    expect(credentialsFrom({ 'x-api-key': 'k'.repeat(600) }).malformed).toBe(true);
    expect(credentialsFrom({ authorization: 'Bearer a b' }).malformed).toBe(true);
  });
});

describe('AuthService', () => {
  const service = new AuthService(
    loadConfig({
      GATEWAY_MODE: 'production',
      MAIA_CLIENT_ID: 'i',
      MAIA_CLIENT_SECRET: 's',
      AUTH_API_KEYS: keysEnv(),
    }),
  );

  it('authenticates configured API keys with their scopes and projects', async () => {
    const reader = await service.authenticate({ 'x-api-key': READER_KEY });
    expect(reader).toMatchObject({ id: 'api-key:reader', kind: 'api-key', projects: new Set([PROJECT_A]) });
    expect([...reader.scopes]).toEqual(['read']);
    const admin = await service.authenticate({ 'x-api-key': ADMIN_KEY });
    expect(admin.projects).toBe('*');
  });

  it('finds keys among many by their digest, whatever the case of the configured hex, and nothing near them', () => {
    const many = Array.from({ length: 200 }, (_, i) => ({
      name: `caller-${i}`,
      sha256: i % 2 ? hashApiKey(`key-${i}`).toUpperCase() : hashApiKey(`key-${i}`),
      scopes: ['read'],
      projects: [PROJECT_A],
    }));
    const wide = new AuthService(
      loadConfig({ GATEWAY_MODE: 'development', AUTH_API_KEYS: JSON.stringify(many) }),
    );
    for (const i of [0, 1, 117, 199]) {
      expect(wide.authenticateNow({ 'x-api-key': `key-${i}` })).toMatchObject({ id: `api-key:caller-${i}` });
    }
    for (const near of ['key-200', 'key-1 x', 'Key-1', 'key-', hashApiKey('key-1')]) {
      expect(() => wide.authenticateNow({ 'x-api-key': near })).toThrow(
        expect.objectContaining({ code: ErrorCode.UNAUTHENTICATED }),
      );
    }
  });

  it('answers a wrong key, no credentials, a malformed header and an unusable bearer token identically', async () => {
    const failures = await Promise.all([
      refusal(service.authenticate({ 'x-api-key': 'wrong' })),
      refusal(service.authenticate({ 'x-api-key': `${READER_KEY} ` + 'x' })),
      refusal(service.authenticate({})),
      refusal(service.authenticate(undefined)),
      refusal(service.authenticate({ authorization: 'Basic abc' })),
      refusal(service.authenticate({ authorization: 'Bearer a.b.c' })),
    ]);
    for (const error of failures) {
      expect(error.code).toBe(ErrorCode.UNAUTHENTICATED);
      expect(error.httpStatus).toBe(401);
      expect(error.message).toBe(UNAUTHENTICATED_MESSAGE);
      expect(error.details).toEqual({});
    }
  });

  it('refuses a wrong API key even when a valid bearer token comes with it', async () => {
    const idp = await new JwksTestServer().start();
    try {
      const key = await createSigningKey('k1');
      idp.published = [key];
      const both = new AuthService(
        loadConfig({
          GATEWAY_MODE: 'development',
          AUTH_API_KEYS: keysEnv(),
          AUTH_JWKS_URL: idp.url,
          AUTH_JWT_ISSUER: idp.issuer,
          AUTH_JWT_AUDIENCE: idp.audience,
        }),
      );
      const token = await idp.sign(key, { scope: 'read' });
      await expect(both.authenticate({ authorization: `Bearer ${token}` })).resolves.toMatchObject({
        kind: 'jwt',
      });
      // Verified once: decided synchronously from then on (no promise per request), the same principal.
      expect(both.authenticateNow({ authorization: `Bearer ${token}` })).toMatchObject({ kind: 'jwt' });
      expect(
        (await refusal(both.authenticate({ authorization: `Bearer ${token}`, 'x-api-key': 'wrong' }))).code,
      ).toBe(ErrorCode.UNAUTHENTICATED);
      expect(() => both.authenticateNow({ authorization: `Bearer ${token}`, 'x-api-key': 'wrong' })).toThrow(
        expect.objectContaining({ code: ErrorCode.UNAUTHENTICATED }),
      );
    } finally {
      await idp.close();
    }
  });

  it('gives everyone the sandbox principal when authentication is disabled', async () => {
    const open = new AuthService(loadConfig({}));
    expect(open.disabled).toBe(true);
    await expect(open.authenticate({ 'x-api-key': 'anything' })).resolves.toBe(SANDBOX_PRINCIPAL);
  });
});

describe('AccessPolicy', () => {
  const policy = new AccessPolicy();
  const reader: Principal = {
    id: 'r',
    name: 'r',
    kind: 'api-key',
    scopes: new Set(['read']),
    projects: new Set([PROJECT_A]),
  };
  const admin: Principal = { id: 'a', name: 'a', kind: 'api-key', scopes: new Set(['admin']), projects: '*' };

  it('lets admin imply every scope and refuses missing scopes with FORBIDDEN', () => {
    expect(() => policy.assertScope(reader, 'read')).not.toThrow();
    for (const scope of ['read', 'execute', 'cancel', 'admin'] as const) {
      expect(() => policy.assertScope(admin, scope)).not.toThrow();
    }
    const error = (() => {
      try {
        policy.assertScope(reader, 'execute');
      } catch (e) {
        return e as GatewayError;
      }
      throw new Error('expected FORBIDDEN');
    })();
    expect(error.code).toBe(ErrorCode.FORBIDDEN);
    expect(error.httpStatus).toBe(403);
  });

  it('answers a hidden project like a missing one, and filters lists', () => {
    expect(() => policy.assertProject(reader, PROJECT_A.toUpperCase())).not.toThrow();
    expect(() => policy.assertProject(reader, PROJECT_B)).toThrow(
      expect.objectContaining({ code: ErrorCode.NOT_FOUND, message: `Project ${PROJECT_B} was not found` }),
    );
    const projects = [{ id: PROJECT_B }, { id: PROJECT_A }];
    expect(policy.filterProjects(reader, projects)).toEqual([{ id: PROJECT_A }]);
    expect(policy.filterProjects(admin, projects)).toEqual(projects);
    expect(policy.filterByProject(reader, [{ projectId: PROJECT_B }, { projectId: PROJECT_A }])).toEqual([
      { projectId: PROJECT_A },
    ]);
  });
});
