import { ErrorCode, GatewayError, type ErrorDetails } from '../common/errors';
import { UUID_PATTERN } from '../common/validation/uuid';

/**
 * Maps Maia's answers to the shared error codes. Decisions are made on the HTTP status alone (error bodies
 * are undocumented); the body only lends a human message, sanitised so that no URL, token or secret can
 * reach a client or a log line.
 */

const maxMessageLength = 200;

/** Codes of network errors raised before a connection existed: the request certainly never left. */
export const neverSentCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

const fallbackMessages: Record<number, string> = {
  400: 'Maia rejected the request as invalid',
  401: 'Maia rejected the gateway credentials',
  403: 'The gateway credential may not access this resource',
  404: 'Not found in Maia',
  409: 'Maia reported a conflict',
  410: 'The pipeline is disabled',
  429: 'Maia rate limit reached',
};

/** The code a final (non-retried) HTTP status maps to. A 401 only gets here after its one replay. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 400 || status === 422) return ErrorCode.BAD_USER_INPUT;
  if (status === 401) return ErrorCode.UPSTREAM_AUTH_FAILED;
  if (status === 403) return ErrorCode.FORBIDDEN;
  if (status === 404) return ErrorCode.NOT_FOUND;
  if (status === 409) return ErrorCode.CONFLICT;
  if (status === 410) return ErrorCode.PIPELINE_DISABLED;
  if (status === 429) return ErrorCode.RATE_LIMITED;
  if (status >= 500) return ErrorCode.UPSTREAM_UNAVAILABLE;
  if (status >= 400) return ErrorCode.BAD_USER_INPUT; // 405, 413, 415...: the request was not acceptable
  return ErrorCode.UPSTREAM_BAD_RESPONSE; // 1xx/3xx: nothing the contract promises
}

const urlPattern = /\b[a-z][a-z0-9+.-]*:\/\/\S+/gi;
const jwtPattern = /\beyJ[\w-]*\.[\w-]*\.?[\w-]*/g;
const bearerPattern = /\b(bearer|basic)\s+\S+/gi;
// Long opaque runs (tokens, keys, hashes). UUIDs are ids users need and stay.
const opaquePattern = /[A-Za-z0-9_\-+/=]{32,}/g;
const secretishPattern = /\b(client_secret|access_token|refresh_token|password|secret|token)\s*[=:]\s*\S+/gi;

/** Mixed letters and digits in a long run: a token or key, not a (long) pipeline or folder name. */
function looksOpaque(candidate: string): boolean {
  return !UUID_PATTERN.test(candidate) && /\d/.test(candidate) && /[a-z]/i.test(candidate);
}

/**
 * Makes an upstream-provided string safe to show: URLs, bearer values, JWTs, long opaque strings, anything
 * named like a secret and the given known secrets are replaced; whitespace collapsed; length capped.
 */
export function sanitizeMessage(raw: string, knownSecrets: readonly string[] = []): string {
  let text = raw;
  for (const secret of knownSecrets) {
    if (secret && secret.length >= 4) text = text.split(secret).join('[redacted]');
  }
  text = text
    .replace(urlPattern, '[url]')
    .replace(bearerPattern, '$1 [redacted]')
    .replace(secretishPattern, '$1=[redacted]')
    .replace(jwtPattern, '[redacted]')
    .replace(opaquePattern, (m) => (looksOpaque(m) ? '[redacted]' : m))
    // eslint-disable-next-line no-control-regex -- stripping control characters is the point
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (text.length > maxMessageLength) text = `${text.slice(0, maxMessageLength - 1)}…`;
  return text;
}

/** The message fields of an error body, in the order the contract names them. */
export function messageFromBody(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  for (const field of ['detail', 'message', 'error_description', 'error']) {
    const value = record[field];
    if (typeof value === 'string' && value.trim() !== '') return value;
  }
  return undefined;
}

export interface StatusErrorContext {
  /** Secrets to scrub from any upstream text (client secret, tokens). */
  knownSecrets?: readonly string[];
  /** Facts of the request worth echoing (never the body). */
  executionTag?: string;
  retryAfterSeconds?: number;
  /** Used when the body carries nothing usable. */
  fallbackMessage?: string;
}

/** Builds the GatewayError of a final non-2xx answer. */
export function errorFromStatus(
  status: number,
  body: unknown,
  context: StatusErrorContext = {},
): GatewayError {
  const code = codeForStatus(status);
  const raw = messageFromBody(body);
  const sanitized = raw === undefined ? '' : sanitizeMessage(raw, context.knownSecrets);
  const fallback =
    context.fallbackMessage ??
    fallbackMessages[status] ??
    (status >= 500 ? 'Maia is unavailable' : `Maia answered with status ${status}`);
  const message = sanitized !== '' ? sanitized : fallback;
  const details: ErrorDetails = { upstreamStatus: status };
  if (code === ErrorCode.CONFLICT && context.executionTag !== undefined) {
    details.executionTag = context.executionTag;
  }
  if (code === ErrorCode.RATE_LIMITED && context.retryAfterSeconds !== undefined) {
    details.retryAfterSeconds = context.retryAfterSeconds;
  }
  return new GatewayError(code, message, details);
}

/**
 * Parses a Retry-After header: delta-seconds or an HTTP date. Returns milliseconds from now (never
 * negative), or undefined when absent or unreadable.
 */
export function parseRetryAfterMs(value: unknown, nowMs: number = Date.now()): number | undefined {
  const header = Array.isArray(value) ? (value[0] as unknown) : value;
  if (typeof header === 'number' && Number.isFinite(header) && header >= 0) return header * 1000;
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (!/[a-z]/i.test(text)) return undefined; // an HTTP date names its day and month
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** Whole seconds a client should wait, at least 1 when any wait remains. */
export function toRetryAfterSeconds(ms: number): number {
  return ms <= 0 ? 0 : Math.max(1, Math.ceil(ms / 1000));
}

export function timeoutError(message = 'Maia did not answer in time'): GatewayError {
  return new GatewayError(ErrorCode.UPSTREAM_TIMEOUT, message);
}

export function unavailableError(message = 'Maia is unavailable', details: ErrorDetails = {}): GatewayError {
  return new GatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, message, details);
}

export function badResponseError(message = 'Maia sent a response the gateway cannot read'): GatewayError {
  return new GatewayError(ErrorCode.UPSTREAM_BAD_RESPONSE, message);
}

export function rateLimitedError(retryAfterMs: number): GatewayError {
  return new GatewayError(ErrorCode.RATE_LIMITED, 'Maia rate limit reached; try again later', {
    retryAfterSeconds: toRetryAfterSeconds(retryAfterMs),
  });
}
