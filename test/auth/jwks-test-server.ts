import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type KeyLike } from 'jose';

/** A signing key of the test identity provider. */
export interface TestSigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyLike;
  jwk: JWK;
}

export async function createSigningKey(
  kid: string,
  alg: 'RS256' | 'ES256' = 'RS256',
): Promise<TestSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, jwk };
}

/**
 * A JWKS endpoint for tests (port 0) that counts its fetches; the published keys can be swapped to
 * simulate rotation. Used by unit specs and the end-to-end suites.
 */
export class JwksTestServer {
  fetches = 0;
  published: TestSigningKey[] = [];
  /** While set, key set requests wait for it before answering (a slow identity provider). */
  hold: Promise<void> | undefined;
  private server: Server | undefined;
  url = '';
  readonly issuer = 'https://idp.test/';
  readonly audience = 'maia-gateway';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.fetches += 1;
      const answer = () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: this.published.map((k) => k.jwk) }));
      };
      if (this.hold) void this.hold.then(answer);
      else answer();
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** A token signed with `key`; claims default to a valid, 5-minute token of this issuer and audience. */
  async sign(
    key: TestSigningKey,
    claims: JWTPayload & Record<string, unknown> = {},
    options: { expiresInSeconds?: number; omitExp?: boolean; nowSeconds?: number } = {},
  ): Promise<string> {
    const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
    const payload: JWTPayload = {
      iss: this.issuer,
      aud: this.audience,
      sub: 'user-1',
      iat: now,
      ...(options.omitExp ? {} : { exp: now + (options.expiresInSeconds ?? 300) }),
      ...claims,
    };
    return new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .sign(key.privateKey);
  }
}
