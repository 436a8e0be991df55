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

const REDACTED_JSON = JSON.stringify(REDACTED);
/**
 * Header names seen so far: the `"name":` a line writes for each, whether its value is masked, and the
 * last short string value written under it with its JSON (most headers repeat from request to request:
 * host, accept, user-agent, connection).
 */
interface HeaderMember {
  prefix: string;
  secret: boolean;
  lastValue: string | undefined;
  lastJson: string;
}
const memberOf = new Map<string, HeaderMember>();
/** Longer values are encoded each time and not remembered (a name keeps at most this many characters). */
const MAX_REMEMBERED_VALUE_LENGTH = 256;

/** `JSON.stringify(value)`, the last short string of this header name remembered. */
function valueJson(member: HeaderMember, value: unknown): string | undefined {
  if (typeof value !== 'string') return JSON.stringify(value);
  if (value === member.lastValue) return member.lastJson;
  const json = JSON.stringify(value);
  if (value.length <= MAX_REMEMBERED_VALUE_LENGTH) {
    member.lastValue = value;
    member.lastJson = json;
  }
  return json;
}
/** Bounded: a client inventing header names must not grow it without end (unknown names are just slower). */
const MAX_KNOWN_HEADER_NAMES = 512;

/**
 * `JSON.stringify(redactHeaders(headers))`, byte for byte, without building the copy: the members in the
 * object's own order, `undefined` values left out as `JSON.stringify` leaves them, secret values masked.
 * Each name's `"name":` and whether it is secret are worked out once per name (the completion line writes
 * the same few names on every request).
 */
export function redactedHeadersJson(headers: Record<string, unknown>): string {
  let out = '';
  for (const name in headers) {
    let member = memberOf.get(name);
    if (member === undefined) {
      member = {
        prefix: `${JSON.stringify(name)}:`,
        secret: SECRET_NAMES.has(name.toLowerCase()),
        lastValue: undefined,
        lastJson: '',
      };
      if (memberOf.size < MAX_KNOWN_HEADER_NAMES) memberOf.set(name, member);
    }
    const value = member.secret ? REDACTED_JSON : valueJson(member, headers[name]);
    if (value === undefined) continue;
    out += out === '' ? member.prefix : `,${member.prefix}`;
    out += value;
  }
  return `{${out}}`;
}
