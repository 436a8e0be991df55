import { createHash, hash } from 'node:crypto';
import { type ApiKeyConfig } from '../config/auth.config';
import { type Principal } from './principal';

/** The hex SHA-256 of an API key, as configured in AUTH_API_KEYS (`npm run hash-key -- <key>`). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Checks `X-API-Key` values against the configured hashes. Only hashes are held, so a leaked
 * configuration does not leak keys. The presented key is hashed (SHA-256) and its digest looked up among
 * the configured ones: one hash and one map lookup per request, whatever the number of keys (comparing
 * the digest with each of 200 configured hashes in turn cost 15-20 µs a request, ADR 0038). The lookup's
 * timing depends only on the digest, which a caller cannot steer towards a configured one without a
 * SHA-256 preimage, so it says nothing about which key (or how much of one) was right, as the
 * constant-time comparison of every hash did.
 */
export class ApiKeyAuthenticator {
  /** Principals by the base64 SHA-256 of their key. */
  private readonly byDigest = new Map<string, Principal>();

  constructor(keys: readonly ApiKeyConfig[]) {
    for (const key of keys) {
      const digest = Buffer.from(key.sha256, 'hex').toString('base64');
      // Configuration refuses a repeated key; were one repeated anyway, the first one wins, as before.
      if (this.byDigest.has(digest)) continue;
      this.byDigest.set(
        digest,
        Object.freeze({
          id: `api-key:${key.name}`,
          name: key.name,
          kind: 'api-key' as const,
          scopes: new Set(key.scopes),
          projects: key.projects === '*' ? ('*' as const) : new Set(key.projects),
        }),
      );
    }
  }

  get size(): number {
    return this.byDigest.size;
  }

  /** The key's principal, or undefined when no configured key matches. */
  authenticate(key: string): Principal | undefined {
    return this.byDigest.get(hash('sha256', key, 'base64'));
  }
}
