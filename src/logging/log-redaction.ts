import { pinoRedactPaths, REDACTED, REDACTED_FIELDS, redactText } from '../security/redaction';

export { REDACTED, redactText };

/**
 * The fields this gateway promises never to log, whatever the security list says at any time: the
 * security module's list (`src/security/redaction.ts`) is the source, these are checked on top of it.
 */
export const REQUIRED_SECRET_FIELDS = [
  'authorization',
  'x-api-key',
  'cookie',
  'client_secret',
  'access_token',
] as const;

/** pino paths: the security module's, plus request/response headers and one level of nesting. */
export function redactionPaths(fields: readonly string[] = REDACTED_FIELDS): string[] {
  const all = [...new Set([...fields, ...REQUIRED_SECRET_FIELDS])];
  const member = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `["${name}"]`);
  return [
    ...new Set([
      ...pinoRedactPaths,
      ...all.map((f) => `req.headers${member(f)}`),
      ...all.map((f) => `res.headers${member(f)}`),
      ...all.map((f) => `*${member(f)}`),
      ...all.map((f) => member(f).replace(/^\./, '')),
    ]),
  ];
}

const SECRET_NAMES = new Set([...REDACTED_FIELDS, ...REQUIRED_SECRET_FIELDS].map((f) => f.toLowerCase()));

/**
 * A copy of request headers with the value of every secret one (any name of the lists above, in any case)
 * masked: for log lines of a fixed shape written without pino's path redaction (the completion line).
 */
export function redactHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name in headers) {
    out[name] = SECRET_NAMES.has(name.toLowerCase()) ? REDACTED : headers[name];
  }
  return out;
}
