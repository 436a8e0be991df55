import { randomBytes } from 'node:crypto';

/**
 * Issued bearer tokens. They look like JWTs (three base64url parts) but are opaque random strings the
 * emulator only recognises by lookup, which makes revocation and expiry exact.
 */
interface IssuedToken {
  clientId: string;
  expiresAtMs: number;
}

const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'maia-emulator' })).toString(
  'base64url',
);
const sweepThreshold = 10_000;

export class TokenStore {
  private readonly tokens = new Map<string, IssuedToken>();

  issue(clientId: string, lifetimeSeconds: number, nowMs: number): string {
    if (this.tokens.size >= sweepThreshold) this.sweep(nowMs);
    const iat = Math.floor(nowMs / 1000);
    const payload = Buffer.from(
      JSON.stringify({
        iss: 'https://id.core.matillion.com/',
        sub: `${clientId}@clients`,
        aud: 'https://api.matillion.com',
        iat,
        exp: iat + lifetimeSeconds,
        scope: 'pipeline-execution',
        jti: randomBytes(8).toString('hex'),
      }),
    ).toString('base64url');
    const token = `${header}.${payload}.${randomBytes(32).toString('base64url')}`;
    this.tokens.set(token, { clientId, expiresAtMs: nowMs + lifetimeSeconds * 1000 });
    return token;
  }

  /** The client id the token was issued to, or null when unknown, expired or revoked. */
  verify(token: string, nowMs: number): string | null {
    const issued = this.tokens.get(token);
    if (!issued) return null;
    if (nowMs >= issued.expiresAtMs) {
      this.tokens.delete(token);
      return null;
    }
    return issued.clientId;
  }

  revokeAll(): void {
    this.tokens.clear();
  }

  private sweep(nowMs: number): void {
    for (const [token, issued] of this.tokens) {
      if (nowMs >= issued.expiresAtMs) this.tokens.delete(token);
    }
  }
}
