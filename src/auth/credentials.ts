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

function lookup(source: CredentialSource, name: string): unknown {
  if (isGetter(source)) return source.get(name) ?? undefined;
  const record = source as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key.toLowerCase() === name) return record[key];
  }
  const nested = Object.keys(record).find((k) => k.toLowerCase() === 'headers');
  const headers = nested === undefined ? undefined : record[nested];
  if (headers && typeof headers === 'object' && !Array.isArray(headers)) {
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === name) return (headers as Record<string, unknown>)[key];
    }
  }
  return undefined;
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
  const apiKey = single(lookup(source, API_KEY_HEADER));
  const authorization = single(lookup(source, AUTHORIZATION_HEADER));
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
