/**
 * Fields whose values never reach a log line, as pino redaction paths. Headers are lower-case in Node;
 * `*.field` covers one level of nesting in any logged object (errors, upstream call details).
 */
export const SECRET_FIELDS = [
  'authorization',
  'x-api-key',
  'cookie',
  'set-cookie',
  'client_secret',
  'clientSecret',
  'access_token',
  'accessToken',
  'refresh_token',
  'id_token',
  'password',
  'apiKey',
  'token',
] as const;

export const REDACTED = '[REDACTED]';

/** pino paths: request/response headers, then the same names anywhere one level down. */
export function redactionPaths(fields: readonly string[] = SECRET_FIELDS): string[] {
  const unique = [...new Set(fields)];
  const bracket = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `["${name}"]`);
  return [
    ...unique.map((f) => `req.headers${bracket(f)}`),
    ...unique.map((f) => `res.headers${bracket(f)}`),
    ...unique.map((f) => `*${bracket(f)}`),
    ...unique.map((f) => bracket(f).replace(/^\./, '')),
  ];
}
