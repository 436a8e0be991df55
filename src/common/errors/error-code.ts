/**
 * The one list of error codes. The same code reaches a client everywhere: GraphQL `extensions.code`,
 * REST problem+json `code`, and SSE `error` events.
 */
export enum ErrorCode {
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  ALREADY_FINISHED = 'ALREADY_FINISHED',
  AMBIGUOUS_NAME = 'AMBIGUOUS_NAME',
  IDEMPOTENCY_KEY_REUSED = 'IDEMPOTENCY_KEY_REUSED',
  PIPELINE_DISABLED = 'PIPELINE_DISABLED',
  RATE_LIMITED = 'RATE_LIMITED',
  QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE = 'UNSUPPORTED_MEDIA_TYPE',
  UPSTREAM_UNAVAILABLE = 'UPSTREAM_UNAVAILABLE',
  UPSTREAM_TIMEOUT = 'UPSTREAM_TIMEOUT',
  UPSTREAM_AUTH_FAILED = 'UPSTREAM_AUTH_FAILED',
  UPSTREAM_AUTH_UNAVAILABLE = 'UPSTREAM_AUTH_UNAVAILABLE',
  UPSTREAM_BAD_RESPONSE = 'UPSTREAM_BAD_RESPONSE',
  UPSTREAM_OUTCOME_UNKNOWN = 'UPSTREAM_OUTCOME_UNKNOWN',
  SHUTTING_DOWN = 'SHUTTING_DOWN',
  INTERNAL = 'INTERNAL',
}

/** The HTTP status a code answers with on REST (and the status class for GraphQL over HTTP logs). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.BAD_USER_INPUT:
    case ErrorCode.QUERY_TOO_COMPLEX:
      return 400;
    case ErrorCode.UNAUTHENTICATED:
      return 401;
    case ErrorCode.FORBIDDEN:
      return 403;
    case ErrorCode.NOT_FOUND:
      return 404;
    case ErrorCode.CONFLICT:
    case ErrorCode.ALREADY_FINISHED:
    case ErrorCode.AMBIGUOUS_NAME:
    case ErrorCode.IDEMPOTENCY_KEY_REUSED:
      return 409;
    case ErrorCode.PIPELINE_DISABLED:
      return 410;
    case ErrorCode.PAYLOAD_TOO_LARGE:
      return 413;
    case ErrorCode.UNSUPPORTED_MEDIA_TYPE:
      return 415;
    case ErrorCode.RATE_LIMITED:
      return 429;
    case ErrorCode.UPSTREAM_UNAVAILABLE:
    case ErrorCode.UPSTREAM_AUTH_FAILED:
    case ErrorCode.UPSTREAM_AUTH_UNAVAILABLE:
    case ErrorCode.UPSTREAM_BAD_RESPONSE:
    case ErrorCode.UPSTREAM_OUTCOME_UNKNOWN:
      return 502;
    case ErrorCode.SHUTTING_DOWN:
      return 503;
    case ErrorCode.UPSTREAM_TIMEOUT:
      return 504;
    case ErrorCode.INTERNAL:
      return 500;
  }
}
