/**
 * What never reaches a log line: credentials of callers (API keys, bearer tokens, cookies) and Maia's
 * (client secret, access tokens). The ops engineer's pino logger uses `pinoRedactOptions`; anything
 * else that logs objects can pass them through `redact()`.
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

const redactedFieldSet = new Set(REDACTED_FIELDS.map((f) => f.toLowerCase()));

/** pino `redact.paths` for the request/response shapes of the request log line, plus common nestings. */
export const pinoRedactPaths: string[] = [
  ...REDACTED_HEADERS.flatMap((h) => [`req.headers["${h}"]`, `res.headers["${h}"]`, `headers["${h}"]`]),
  ...REDACTED_FIELDS.filter((f) => !f.includes('-')).flatMap((f) => [f, `*.${f}`, `*.*.${f}`]),
];

/** Ready to spread into `pino({ redact })`. */
export const pinoRedactOptions = { paths: pinoRedactPaths, censor: REDACTED };

/** True for a member name whose value must not be logged. */
export function isSecretField(name: string): boolean {
  return redactedFieldSet.has(name.toLowerCase());
}

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

/**
 * A copy of `value` with every secret member replaced and secrets inside strings masked. Cycles and
 * depth are bounded, so it is safe on anything a logger might be handed.
 */
export function redact<T>(value: T, maxDepth = 8): T {
  const seen = new WeakSet<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return redactText(v);
    if (!v || typeof v !== 'object') return v;
    if (seen.has(v) || depth > maxDepth) return '[…]';
    seen.add(v);
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    if (v instanceof Map) {
      return new Map(
        [...v].map(([k, item]) => [
          k,
          typeof k === 'string' && isSecretField(k) ? REDACTED : walk(item, depth + 1),
        ]),
      );
    }
    if (v instanceof Error) {
      return { name: v.name, message: redactText(v.message) };
    }
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
      out[k] = isSecretField(k) ? REDACTED : walk(item, depth + 1);
    }
    return out;
  };
  return walk(value, 0) as T;
}
