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
