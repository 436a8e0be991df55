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
  IDEMPOTENCY_UNAVAILABLE = 'IDEMPOTENCY_UNAVAILABLE',
  LAUNCH_UNKNOWN = 'LAUNCH_UNKNOWN',
  PIPELINE_DISABLED = 'PIPELINE_DISABLED',
  RATE_LIMITED = 'RATE_LIMITED',
  QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX',
  REQUEST_TIMEOUT = 'REQUEST_TIMEOUT',
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE = 'UNSUPPORTED_MEDIA_TYPE',
  UPSTREAM_UNAVAILABLE = 'UPSTREAM_UNAVAILABLE',
  UPSTREAM_TIMEOUT = 'UPSTREAM_TIMEOUT',
  UPSTREAM_AUTH_FAILED = 'UPSTREAM_AUTH_FAILED',
  UPSTREAM_AUTH_UNAVAILABLE = 'UPSTREAM_AUTH_UNAVAILABLE',
  UPSTREAM_BAD_RESPONSE = 'UPSTREAM_BAD_RESPONSE',
  UPSTREAM_OUTCOME_UNKNOWN = 'UPSTREAM_OUTCOME_UNKNOWN',
  SHUTTING_DOWN = 'SHUTTING_DOWN',
  UNAVAILABLE = 'UNAVAILABLE',
  INTERNAL = 'INTERNAL',
  GRAPHQL_PARSE_FAILED = 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED = 'GRAPHQL_VALIDATION_FAILED',
  PERSISTED_QUERY_NOT_FOUND = 'PERSISTED_QUERY_NOT_FOUND',
  PERSISTED_QUERY_NOT_SUPPORTED = 'PERSISTED_QUERY_NOT_SUPPORTED',
  PERSISTED_QUERY_NOT_ALLOWED = 'PERSISTED_QUERY_NOT_ALLOWED',
}

/**
 * What each code means, for clients: the GraphQL `ErrorCode` enum's value descriptions and the README's
 * table are printed from this record (a `Record` over the enum, so a new code without a meaning does not
 * compile).
 */
export const errorCodeMeanings: Readonly<Record<ErrorCode, string>> = {
  [ErrorCode.BAD_USER_INPUT]:
    'An argument, variable or body value is invalid (format, range, a cursor from another filter, a variable of the wrong type). `field` or `fields` names it when known. Fix the input; retrying as is fails again.',
  [ErrorCode.UNAUTHENTICATED]:
    'No valid credentials (API key or bearer JWT): missing, unknown, malformed or expired. Which one is never said.',
  [ErrorCode.FORBIDDEN]: 'The caller is known but lacks the scope the operation needs (`scope` names it).',
  [ErrorCode.NOT_FOUND]:
    'The project, environment, pipeline or execution does not exist, or the caller may not see it (both answer alike). `projectId`, `executionId` or `name` may say which.',
  [ErrorCode.CONFLICT]:
    'Maia refused because of the current state, e.g. a run with the same `executionTag` is running in the environment (`existingExecutionId` when known).',
  [ErrorCode.ALREADY_FINISHED]:
    'The execution has already finished, so it cannot be cancelled (`status` / `executionStatus` say how it ended).',
  [ErrorCode.AMBIGUOUS_NAME]:
    'Several visible projects have this name (`matches`, `projectIds`): ask by id instead.',
  [ErrorCode.IDEMPOTENCY_KEY_REUSED]:
    'The idempotency key was already used with a different request: use a new key for a new request.',
  [ErrorCode.IDEMPOTENCY_UNAVAILABLE]:
    "The gateway's shared store (Redis) is unreachable, so a request with an idempotency key cannot be checked against other replicas and was not run. `retryAfterSeconds` says when to retry (also the Retry-After header over HTTP); retry with the same key.",
  [ErrorCode.LAUNCH_UNKNOWN]:
    'The execution cannot be run again: the gateway has no record of its launch parameters (Maia does not return them), because another client started it, or it was started before the gateway kept them or longer ago than EXECUTION_LAUNCH_TTL_MS. `executionId` says which. Start it with executePipeline instead.',
  [ErrorCode.PIPELINE_DISABLED]: 'The pipeline cannot be run: Maia answered that it is gone or disabled.',
  [ErrorCode.RATE_LIMITED]:
    "Too many requests from this client, or Maia's own rate limit was reached. `retryAfterSeconds` says when to retry (also the Retry-After header over HTTP); `limit` is set for subscription counts.",
  [ErrorCode.QUERY_TOO_COMPLEX]:
    'The document is over a limit (depth, aliases, directives, tokens or cost). Refused before anything runs.',
  [ErrorCode.PAYLOAD_TOO_LARGE]: 'The request body is larger than the gateway accepts.',
  [ErrorCode.REQUEST_TIMEOUT]:
    'The client did not send its headers, or its whole request with the body, within the time the gateway allows (`HTTP_HEADERS_TIMEOUT_MS`, `HTTP_REQUEST_TIMEOUT_MS`). The connection is closed; send the request again.',
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 'The request body is not JSON (REST); send `application/json`.',
  [ErrorCode.UPSTREAM_UNAVAILABLE]:
    'Maia could not be reached or answered with a server error (`upstreamStatus` when it answered). Retrying later may succeed.',
  [ErrorCode.UPSTREAM_TIMEOUT]: 'Maia did not answer in time. Retrying later may succeed.',
  [ErrorCode.UPSTREAM_AUTH_FAILED]:
    "Maia refused the gateway's own credentials: an operator must fix the configuration.",
  [ErrorCode.UPSTREAM_AUTH_UNAVAILABLE]:
    "The gateway could not get an access token from Maia's identity service right now. Retrying later may succeed.",
  [ErrorCode.UPSTREAM_BAD_RESPONSE]:
    'Maia sent an answer the gateway cannot read, or one about another project or execution than the one asked for (refused, never shown).',
  [ErrorCode.UPSTREAM_OUTCOME_UNKNOWN]:
    'Maia may or may not have started the run (the call failed mid-way and no match was found); `candidates` counts runs that might be it. Check the executions before retrying without an idempotency key.',
  [ErrorCode.SHUTTING_DOWN]:
    'This gateway replica is restarting: reconnect (subscriptions resume from their cursor).',
  [ErrorCode.UNAVAILABLE]:
    "The gateway's shared store (Redis) did not answer in time, e.g. when a subscription read what it had missed, after a few tries. Nothing was lost: `retryAfterSeconds` says when to try again (also the Retry-After header over HTTP); a subscription resumes from its last cursor.",
  [ErrorCode.INTERNAL]:
    'An unexpected error in the gateway. The message is generic; the `requestId` in the logs tells the rest.',
  [ErrorCode.GRAPHQL_PARSE_FAILED]: 'The GraphQL document is not valid GraphQL syntax. Nothing ran.',
  [ErrorCode.GRAPHQL_VALIDATION_FAILED]:
    'The GraphQL document does not fit the schema (unknown field, wrong argument type, fragment cycle...). Nothing ran.',
  [ErrorCode.PERSISTED_QUERY_NOT_FOUND]:
    'Automatic persisted queries: the hash is not known yet. Send the request again with the full document and the same hash to register it (Apollo Client does this by itself).',
  [ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED]:
    'Persisted queries are turned off on this gateway: send the full document.',
  [ErrorCode.PERSISTED_QUERY_NOT_ALLOWED]:
    "The gateway runs only trusted documents (its persisted-query manifest) and this document or hash is not on the list. Nothing ran; ship the operation in the frontend's manifest.",
};

/** The HTTP status a code answers with on REST (and the status class for GraphQL over HTTP logs). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.BAD_USER_INPUT:
    case ErrorCode.QUERY_TOO_COMPLEX:
    case ErrorCode.GRAPHQL_PARSE_FAILED:
    case ErrorCode.GRAPHQL_VALIDATION_FAILED:
    case ErrorCode.PERSISTED_QUERY_NOT_FOUND:
    case ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED:
    case ErrorCode.PERSISTED_QUERY_NOT_ALLOWED:
      return 400;
    case ErrorCode.UNAUTHENTICATED:
      return 401;
    case ErrorCode.FORBIDDEN:
      return 403;
    case ErrorCode.NOT_FOUND:
    case ErrorCode.LAUNCH_UNKNOWN:
      return 404;
    case ErrorCode.CONFLICT:
    case ErrorCode.ALREADY_FINISHED:
    case ErrorCode.AMBIGUOUS_NAME:
    case ErrorCode.IDEMPOTENCY_KEY_REUSED:
      return 409;
    case ErrorCode.PIPELINE_DISABLED:
      return 410;
    case ErrorCode.REQUEST_TIMEOUT:
      return 408;
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
    case ErrorCode.IDEMPOTENCY_UNAVAILABLE:
    case ErrorCode.UNAVAILABLE:
      return 503;
    case ErrorCode.UPSTREAM_TIMEOUT:
      return 504;
    case ErrorCode.INTERNAL:
      return 500;
  }
}
