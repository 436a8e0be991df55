import { createHash, timingSafeEqual } from 'node:crypto';
import { type ApiKeyConfig } from '../config/auth.config';
import { type Principal } from './principal';

/** The hex SHA-256 of an API key, as configured in AUTH_API_KEYS (`npm run hash-key -- <key>`). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

interface Entry {
  hash: Buffer;
  principal: Principal;
}

/**
 * Checks `X-API-Key` values against the configured hashes. Only hashes are held, so a leaked
 * configuration does not leak keys. Every configured hash is compared, in constant time, whatever
 * matches first: the time taken says nothing about which key (or how much of one) was right.
 */
export class ApiKeyAuthenticator {
  private readonly entries: Entry[];

  constructor(keys: readonly ApiKeyConfig[]) {
    this.entries = keys.map((key) => ({
      hash: Buffer.from(key.sha256, 'hex'),
      principal: Object.freeze({
        id: `api-key:${key.name}`,
        name: key.name,
        kind: 'api-key' as const,
        scopes: new Set(key.scopes),
        projects: key.projects === '*' ? ('*' as const) : new Set(key.projects),
      }),
    }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The key's principal, or undefined when no configured key matches. */
  authenticate(key: string): Principal | undefined {
    const presented = createHash('sha256').update(key, 'utf8').digest();
    let found: Principal | undefined;
    for (const entry of this.entries) {
      // No early exit: the loop always does the same work.
      if (timingSafeEqual(presented, entry.hash) && found === undefined) found = entry.principal;
    }
    return found;
  }
}
