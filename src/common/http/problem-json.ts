import { type ErrorCode, type GatewayError } from '../errors';

export const PROBLEM_JSON = 'application/problem+json';

/** RFC 9457 problem details, plus the gateway's stable `code` and the error's client-safe details. */
export interface ProblemDocument {
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

const RESERVED = new Set(['type', 'title', 'status', 'detail', 'code', 'instance']);

/** The problem document of an error; details never override the standard members (e.g. `status`). */
export function problemOf(error: GatewayError): ProblemDocument {
  const details = Object.fromEntries(
    Object.entries(error.details).filter(([key, value]) => value !== undefined && !RESERVED.has(key)),
  );
  return {
    ...details,
    type: `urn:maia-gateway:problem:${error.code.toLowerCase().replace(/_/g, '-')}`,
    title: titleOf(error.code),
    status: error.httpStatus,
    detail: error.message,
    code: error.code,
  };
}
