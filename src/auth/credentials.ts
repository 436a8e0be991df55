/**
 * Where credentials come from: HTTP headers (REST, GraphQL over HTTP, SSE) or a graphql-ws
 * `connection_init` payload (`{ "x-api-key": "..." }`, `{ "authorization": "Bearer ..." }`, or the same
 * inside `headers`, as Apollo Client sends them). Names are matched case-insensitively.
 */
export type CredentialSource =
  Readonly<Record<string, unknown>> | { get(name: string): string | undefined | null };

export interface Credentials {
  apiKey?: string;
  bearerToken?: string;
  /** Something was sent but cannot be a credential (two values, another scheme, absurd length). */
  malformed: boolean;
}

export const API_KEY_HEADER = 'x-api-key';
export const AUTHORIZATION_HEADER = 'authorization';

/** Longer values are refused unread: no real key or token is this long, and hashing costs nothing then. */
const MAX_API_KEY_LENGTH = 512;
const MAX_TOKEN_LENGTH = 16 * 1024;

function isGetter(source: CredentialSource): source is { get(name: string): string | undefined | null } {
  return typeof (source as { get?: unknown }).get === 'function';
}

/** The raw values of the two credential names (and of a nested `headers` object), found in one pass. */
interface Found {
  apiKey: unknown;
  authorization: unknown;
}

/** A name not found (yet): distinct from a member present with the value `undefined`, which counts. */
const MISSING: unique symbol = Symbol('missing');

/**
 * The values of `x-api-key` and `authorization` in a record, matched case-insensitively in one pass over
 * its names (each name lowercased once; the first match of each wins), then in its nested `headers`
 * object for whichever is still missing.
 */
function findIn(record: Record<string, unknown>, found: Found, nested: boolean): void {
  let headers: unknown;
  let headersSeen = false;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const name = key.toLowerCase();
    if (name === API_KEY_HEADER) {
      if (found.apiKey === MISSING) found.apiKey = record[key];
    } else if (name === AUTHORIZATION_HEADER) {
      if (found.authorization === MISSING) found.authorization = record[key];
    } else if (nested && name === 'headers' && !headersSeen) {
      headersSeen = true;
      headers = record[key];
    }
  }
  if (
    (found.apiKey === MISSING || found.authorization === MISSING) &&
    headers &&
    typeof headers === 'object' &&
    !Array.isArray(headers)
  ) {
    findIn(headers as Record<string, unknown>, found, false);
  }
}

function lookupBoth(source: CredentialSource): Found {
  if (isGetter(source)) {
    return {
      apiKey: source.get(API_KEY_HEADER) ?? undefined,
      authorization: source.get(AUTHORIZATION_HEADER) ?? undefined,
    };
  }
  const found: Found = { apiKey: MISSING, authorization: MISSING };
  findIn(source, found, true);
  if (found.apiKey === MISSING) found.apiKey = undefined;
  if (found.authorization === MISSING) found.authorization = undefined;
  return found;
}

/** A single, non-empty string value, or `null` when the value cannot be a credential. */
function single(value: unknown): string | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.length === 1 ? single(value[0]) : null;
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

export function credentialsFrom(source: CredentialSource | undefined | null): Credentials {
  if (!source || typeof source !== 'object') return { malformed: false };
  let malformed = false;
  const found = lookupBoth(source);
  const apiKey = single(found.apiKey);
  const authorization = single(found.authorization);
  const out: Credentials = { malformed: false };
  if (apiKey === null || (apiKey !== undefined && apiKey.length > MAX_API_KEY_LENGTH)) malformed = true;
  else if (apiKey !== undefined) out.apiKey = apiKey;
  if (authorization === null) malformed = true;
  else if (authorization !== undefined) {
    const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(authorization);
    if (!match || match[1].length > MAX_TOKEN_LENGTH) malformed = true;
    else out.bearerToken = match[1];
  }
  out.malformed = malformed;
  return out;
}
