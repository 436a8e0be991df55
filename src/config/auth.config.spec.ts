import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './app-config';

const HASH = 'a'.repeat(64);
const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const prod = { MAIA_CLIENT_ID: 'id', MAIA_CLIENT_SECRET: 'secret' };
const keys = (entries: unknown[]) => JSON.stringify(entries);

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

describe('auth configuration', () => {
  it('runs open in sandbox mode when no credentials are configured', () => {
    const { auth } = loadConfig({});
    expect(auth.disabled).toBe(true);
    expect(auth.apiKeys).toEqual([]);
    expect(auth.rateLimit.enabled).toBe(false);
    expect(auth.graphql.fieldSuggestions).toBe(true);
  });

  it('refuses production mode without API keys or a JWKS, naming the variables', () => {
    const message = problemsOf(prod);
    expect(message).toContain('AUTH_API_KEYS');
    expect(message).toContain('AUTH_JWKS_URL');
  });

  it('refuses AUTH_DISABLED=true in production mode', () => {
    const message = problemsOf({ ...prod, AUTH_DISABLED: 'true', AUTH_API_KEYS: keys([]) });
    expect(message).toContain('AUTH_DISABLED');
  });

  it('allows AUTH_DISABLED=true in development mode and refuses an explicit false without credentials', () => {
    expect(loadConfig({ GATEWAY_MODE: 'development', AUTH_DISABLED: 'true' }).auth.disabled).toBe(true);
    expect(problemsOf({ GATEWAY_MODE: 'development', AUTH_DISABLED: 'false' })).toContain('AUTH_API_KEYS');
  });

  it('reads API keys from JSON and from a file, normalising hashes and project ids', () => {
    const dir = mkdtempSync(join(tmpdir(), 'auth-config-'));
    const file = join(dir, 'keys.json');
    writeFileSync(file, keys([{ name: 'ops', sha256: 'b'.repeat(64), scopes: ['admin'], projects: ['*'] }]));
    const { auth } = loadConfig({
      ...prod,
      AUTH_API_KEYS: keys([
        { name: 'svc', sha256: 'A'.repeat(64), scopes: ['read', 'read'], projects: [PROJECT.toUpperCase()] },
      ]),
      AUTH_API_KEYS_FILE: file,
    });
    expect(auth.disabled).toBe(false);
    expect(auth.rateLimit.enabled).toBe(true);
    expect(auth.graphql.fieldSuggestions).toBe(false);
    expect(auth.apiKeys).toEqual([
      { name: 'svc', sha256: HASH, scopes: ['read'], projects: [PROJECT] },
      { name: 'ops', sha256: 'b'.repeat(64), scopes: ['admin'], projects: '*' },
    ]);
  });

  it('names bad key entries without echoing their values', () => {
    const message = problemsOf({
      ...prod,
      AUTH_API_KEYS: keys([
        { name: 'svc', sha256: 'not-a-hash-secretish', scopes: ['root'], projects: ['x'] },
      ]),
    });
    expect(message).toContain('AUTH_API_KEYS');
    expect(message).toContain('sha256');
    expect(message).toContain('scopes');
    expect(message).toContain('projects');
    expect(message).not.toContain('not-a-hash-secretish');
    expect(problemsOf({ ...prod, AUTH_API_KEYS: '{oops' })).toContain('AUTH_API_KEYS: must be a JSON array');
    expect(problemsOf({ ...prod, AUTH_API_KEYS_FILE: '/nonexistent/keys.json' })).toContain(
      'AUTH_API_KEYS_FILE',
    );
  });

  it('refuses two keys with one name or one hash', () => {
    const entry = { name: 'svc', sha256: HASH, scopes: ['read'], projects: ['*'] };
    expect(
      problemsOf({ ...prod, AUTH_API_KEYS: keys([entry, { ...entry, sha256: 'c'.repeat(64) }]) }),
    ).toContain('two API keys are named "svc"');
    expect(problemsOf({ ...prod, AUTH_API_KEYS: keys([entry, { ...entry, name: 'other' }]) })).toContain(
      'repeats a key',
    );
  });

  it('needs issuer and audience with a JWKS, https in production, and never accepts alg none', () => {
    const message = problemsOf({
      ...prod,
      AUTH_JWKS_URL: 'http://idp.example/jwks',
      AUTH_JWT_ALGORITHMS: 'RS256,none',
    });
    expect(message).toContain('AUTH_JWT_ISSUER');
    expect(message).toContain('AUTH_JWT_AUDIENCE');
    expect(message).toContain('AUTH_JWKS_URL: must use https');
    expect(message).toContain('AUTH_JWT_ALGORITHMS');
  });

  it('defaults JWT verification to RS256/ES256, 30 s leeway and a 30 s refetch cooldown', () => {
    const { auth } = loadConfig({
      ...prod,
      AUTH_JWKS_URL: 'https://idp.example/.well-known/jwks.json',
      AUTH_JWT_ISSUER: 'https://idp.example/',
      AUTH_JWT_AUDIENCE: 'maia-gateway, other',
    });
    expect(auth.jwt).toMatchObject({
      algorithms: ['RS256', 'ES256'],
      audience: ['maia-gateway', 'other'],
      clockToleranceSeconds: 30,
      jwksCooldownMs: 30_000,
      scopesClaim: 'scope',
      projectsClaim: 'maia_projects',
    });
  });
});
