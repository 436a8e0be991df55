/**
 * What never reaches a log line: credentials of callers (API keys, bearer tokens, cookies) and Maia's
 * (client secret, access tokens). The logger (`src/logging/log-redaction.ts`) builds its pino paths
 * from these lists; error messages pass through `redactText`.
 */

/** Header names (lower case) whose values are secrets. */
export const REDACTED_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'cookie',
  'set-cookie',
  'x-amz-security-token',
];

/** Object members (any depth, case-insensitive) whose values are secrets. */
export const REDACTED_FIELDS: readonly string[] = [
  ...REDACTED_HEADERS,
  'apiKey',
  'api_key',
  'password',
  'secret',
  'clientSecret',
  'client_secret',
  'access_token',
  'accessToken',
  'refresh_token',
  'refreshToken',
  'id_token',
  'token',
  'bearerToken',
  'connectionParams',
];

export const REDACTED = '[REDACTED]';

/** pino `redact.paths` for the request/response shapes of the request log line, plus common nestings. */
export const pinoRedactPaths: string[] = [
  ...REDACTED_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `res.headers["${h}"]`, `headers["${h}"]`]),
  ...REDACTED_FIELDS.filter((f) => !f.includes('-')).flatMap((f) => [f, `*.${f}`, `*.*.${f}`]),
];

const bearerInText = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const jwtInText = /\beyJ[\w-]+\.[\w-]+\.[\w-]*/g;
const secretAssignmentInText =
  /\b(client_secret|access_token|refresh_token|id_token|api[_-]?key|password)(["']?\s*[=:]\s*["']?)[^\s"'&,;]+/gi;

/** Masks bearer values, JWTs and `secret=value` pairs inside free text (error messages, URLs). */
export function redactText(text: string): string {
  return text
    .replace(bearerInText, `$1 ${REDACTED}`)
    .replace(jwtInText, REDACTED)
    .replace(secretAssignmentInText, `$1$2${REDACTED}`);
}
