import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { seededRandom } from './stats';

/**
 * The callers of a production-shaped gateway: API keys (each with its own scopes and projects, configured
 * by their SHA-256 in a keys file, as a deployment mounts it) and JWTs signed by a key the harness
 * publishes as a JWKS over https (production mode accepts nothing else), its certificate trusted by the
 * gateway through NODE_EXTRA_CA_CERTS.
 */

export type Scope = 'read' | 'execute' | 'cancel' | 'admin';

export interface Caller {
  name: string;
  kind: 'api-key' | 'jwt';
  /** The header that carries the credential. */
  headers: Record<string, string>;
  /** The same credential as a graphql-ws connection_init payload. */
  connectionParams: Record<string, string>;
  scopes: Scope[];
  /** '*' or the project ids this caller may see. */
  projects: '*' | string[];
}

export interface Principals {
  callers: Caller[];
  /** Gateway settings that make these callers known (keys file, JWKS URL, issuer, audience, CA). */
  env: Record<string, string>;
  /** A caller with every scope on every project (execute). */
  admin: Caller;
  /** A read-only service key that sees every project (the single repeated read, subscriptions). */
  reader: Caller;
  close(): Promise<void>;
}

const ISSUER = 'https://bench-idp.invalid/';
const AUDIENCE = 'maia-gateway-bench';

/** What caller i may do: most read one to three projects, some all; a few also execute or administer. */
function rightsOf(
  i: number,
  projectIds: string[],
  random: () => number,
): Pick<Caller, 'scopes' | 'projects'> {
  const scopes: Scope[] = i % 10 === 0 ? ['admin'] : i % 3 === 0 ? ['read', 'execute'] : ['read'];
  if (i % 7 === 0) return { scopes, projects: '*' };
  const count = 1 + Math.floor(random() * Math.min(3, projectIds.length));
  const start = Math.floor(random() * projectIds.length);
  const projects = Array.from({ length: count }, (_, k) => projectIds[(start + k) % projectIds.length]);
  return { scopes, projects };
}

function selfSignedCertificate(dir: string): { key: string; cert: string; certPath: string } {
  const keyPath = join(dir, 'jwks.key.pem');
  const certPath = join(dir, 'jwks.cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath };
}

/**
 * `apiKeyCallers` API-key callers and `jwtCallers` JWT callers over `projectIds`, plus an admin API key.
 * The JWKS server runs in this process until `close()`.
 */
export async function createPrincipals(
  projectIds: string[],
  apiKeyCallers: number,
  jwtCallers: number,
): Promise<Principals> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-auth-'));
  const random = seededRandom(17);
  const callers: Caller[] = [];
  const keyEntries: { name: string; sha256: string; scopes: Scope[]; projects: string[] }[] = [];
  const apiKey = (name: string, rights: Pick<Caller, 'scopes' | 'projects'>): Caller => {
    const key = `bench_${randomBytes(24).toString('base64url')}`;
    keyEntries.push({
      name,
      sha256: createHash('sha256').update(key).digest('hex'),
      scopes: rights.scopes,
      projects: rights.projects === '*' ? ['*'] : rights.projects,
    });
    return {
      name,
      kind: 'api-key',
      headers: { 'x-api-key': key },
      connectionParams: { 'x-api-key': key },
      ...rights,
    };
  };
  const admin = apiKey('bench-admin', { scopes: ['admin'], projects: '*' });
  const reader = apiKey('bench-reader', { scopes: ['read'], projects: '*' });
  for (let i = 0; i < apiKeyCallers; i++) {
    callers.push(apiKey(`bench-key-${i}`, rightsOf(i, projectIds, random)));
  }
  const keysFile = join(dir, 'api-keys.json');
  writeFileSync(keysFile, JSON.stringify(keyEntries));

  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'ES256', use: 'sig' };
  for (let i = 0; i < jwtCallers; i++) {
    const rights = rightsOf(apiKeyCallers + i, projectIds, random);
    const token = await new SignJWT({
      scope: rights.scopes.join(' '),
      maia_projects: rights.projects === '*' ? ['*'] : rights.projects,
    })
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(`bench-user-${i}`)
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(privateKey);
    callers.push({
      name: `bench-user-${i}`,
      kind: 'jwt',
      headers: { authorization: `Bearer ${token}` },
      connectionParams: { authorization: `Bearer ${token}` },
      ...rights,
    });
  }

  const tls = selfSignedCertificate(dir);
  const jwks = JSON.stringify({ keys: [jwk] });
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    res.writeHead(req.url === '/jwks.json' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(req.url === '/jwks.json' ? jwks : '{}');
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const { port } = server.address() as AddressInfo;

  return {
    callers,
    admin,
    reader,
    env: {
      AUTH_API_KEYS_FILE: keysFile,
      AUTH_JWKS_URL: `https://127.0.0.1:${port}/jwks.json`,
      AUTH_JWT_ISSUER: ISSUER,
      AUTH_JWT_AUDIENCE: AUDIENCE,
      AUTH_JWT_ALGORITHMS: 'ES256',
      NODE_EXTRA_CA_CERTS: tls.certPath,
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((closed) => server.close(() => closed()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
