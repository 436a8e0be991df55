import { type ErrorCode, type GatewayError } from '../errors';

export const PROBLEM_JSON = 'application/problem+json';

/**
 * One error body for both kinds of client: Maia's own members (`error`, `status`, as Maia's guide shows
 * for a 409), RFC 9457 problem details, the gateway's stable `code` and the error's client-safe details.
 */
export interface ProblemDocument {
  error: string;
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  [detail: string]: unknown;
}

/** "NOT_FOUND" → "Not found": a short, stable title per code. */
export function titleOf(code: ErrorCode): string {
  const words = code.toLowerCase().split('_');
  return [words[0].charAt(0).toUpperCase() + words[0].slice(1), ...words.slice(1)].join(' ');
}

const RESERVED = new Set(['error', 'type', 'title', 'status', 'detail', 'code', 'instance']);

/** The problem document of an error; details never override the standard members (e.g. `status`). */
export function problemOf(error: GatewayError): ProblemDocument {
  const details = Object.fromEntries(
    Object.entries(error.details).filter(([key, value]) => value !== undefined && !RESERVED.has(key)),
  );
  return {
    ...details,
    error: error.message,
    type: `urn:maia-gateway:problem:${error.code.toLowerCase().replace(/_/g, '-')}`,
    title: titleOf(error.code),
    status: error.httpStatus,
    detail: error.message,
    code: error.code,
  };
}
