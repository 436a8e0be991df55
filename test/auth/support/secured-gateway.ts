import { hashApiKey } from '../../../src/auth/api-key.authenticator';
import { startEmulatorFixture, type EmulatorFixture } from '../../support/emulator-fixture';
import {
  gatewayEnv,
  startGateway,
  type GatewayEnv,
  type InProcessGateway,
} from '../../support/gateway-inprocess';
import { createSigningKey, JwksTestServer, type TestSigningKey } from '../jwks-test-server';

/** Seed projects (src/emulator/seed.json). */
export const PROJECTS = {
  analytics: '4a8a6162-702b-4efc-b2ec-c986e0bc95e4',
  marketing: '9b6a1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
  test: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  sandboxA: 'c0ffee00-1111-4222-8333-444455556666',
  sandboxB: 'c0ffee00-7777-4888-9999-aaaabbbbcccc',
} as const;
export const ALL_PROJECT_IDS: readonly string[] = Object.values(PROJECTS);
/** A finished (SUCCESS) seed execution of Analytics Warehouse. */
export const ANALYTICS_FINISHED_EXECUTION = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b';
export const NONEXISTENT_PROJECT = '00000000-0000-4000-8000-000000000000';

/** The callers of the authorization matrix and their credentials. */
export const KEYS = {
  /** read only, Analytics Warehouse only */
  reader: 'reader-key-4d1c0e2b9a7f46f1a0c2',
  /** read, execute, cancel, Marketing only */
  otherProject: 'marketing-key-77ab0c31d2e54f0f9b1d',
  /** read, execute, cancel, Analytics Warehouse only */
  operator: 'operator-key-1f2e3d4c5b6a79880716',
  admin: 'admin-key-9c8b7a6f5e4d3c2b1a09',
  /** valid key, no project at all */
  noProjects: 'empty-key-0a0b0c0d0e0f10111213',
} as const;

export function apiKeysJson(): string {
  return JSON.stringify([
    { name: 'reader', sha256: hashApiKey(KEYS.reader), scopes: ['read'], projects: [PROJECTS.analytics] },
    {
      name: 'marketing-service',
      sha256: hashApiKey(KEYS.otherProject),
      scopes: ['read', 'execute', 'cancel'],
      projects: [PROJECTS.marketing],
    },
    {
      name: 'operator',
      sha256: hashApiKey(KEYS.operator),
      scopes: ['read', 'execute', 'cancel'],
      projects: [PROJECTS.analytics],
    },
    { name: 'admin', sha256: hashApiKey(KEYS.admin), scopes: ['admin'], projects: ['*'] },
    { name: 'nothing', sha256: hashApiKey(KEYS.noProjects), scopes: ['read'], projects: [PROJECTS.sandboxA] },
  ]);
}

export interface SecuredWorld {
  maia: EmulatorFixture;
  idp: JwksTestServer;
  signingKey: TestSigningKey;
  gateway: InProcessGateway;
  url: string;
  /** A JWT of this identity provider (admin on every project unless claims say otherwise). */
  jwt(claims?: Record<string, unknown>, options?: { expiresInSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

/** The emulator, a JWKS server and a gateway that requires API keys or JWTs from both. */
export async function startSecuredWorld(
  overrides: GatewayEnv = {},
  emulatorTimeScale = 0.05,
): Promise<SecuredWorld> {
  const maia = await startEmulatorFixture({ timeScale: emulatorTimeScale });
  const idp = await new JwksTestServer().start();
  const signingKey = await createSigningKey('test-key-1');
  idp.published = [signingKey];
  const gateway = await startGateway(
    gatewayEnv(maia, {
      AUTH_DISABLED: 'false',
      AUTH_API_KEYS: apiKeysJson(),
      AUTH_JWKS_URL: idp.url,
      AUTH_JWT_ISSUER: idp.issuer,
      AUTH_JWT_AUDIENCE: idp.audience,
      RATE_LIMIT_ENABLED: 'false',
      ...overrides,
    }),
  );
  return {
    maia,
    idp,
    signingKey,
    gateway,
    url: gateway.url,
    jwt: (claims = {}, options = {}) =>
      idp.sign(signingKey, { scope: 'admin', maia_projects: ['*'], ...claims }, options),
    close: async () => {
      await gateway.close();
      await idp.close();
      await maia.close();
    },
  };
}
