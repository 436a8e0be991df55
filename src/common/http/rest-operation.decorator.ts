import { applyDecorators } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExtension,
  ApiExtraModels,
  ApiOperation,
  ApiResponse,
  ApiSecurity,
  getSchemaPath,
} from '@nestjs/swagger';
import { ErrorCode, httpStatusOf } from '../errors';
import { PROBLEM_JSON } from './problem-json';
import { ProblemDto } from './problem.dto';

/** Security scheme names of the OpenAPI document (both accepted by `src/auth`; either one suffices). */
export const API_KEY_SCHEME = 'apiKey';
export const BEARER_SCHEME = 'bearer';

/** The marker of a route Maia does not have; the document lists these under their own tag too. */
export const GATEWAY_EXTENSION = 'x-gateway-extension';

/** The error statuses a route can declare beyond those every authenticated route answers. */
export type RouteErrorStatus = 400 | 404 | 409 | 410 | 413 | 415;

export interface RestOperationOptions {
  summary: string;
  description?: string;
  /** What the route answers besides 401, 403, 429, 500 and 503 (which every authenticated route may). */
  errors?: readonly RouteErrorStatus[];
  /** Whether it calls Maia, and so may answer 502 and 504 (default true). */
  upstream?: boolean;
  /** A gateway extension: Maia has no such operation. */
  extension?: boolean;
}

const ALWAYS: readonly number[] = [401, 403, 429, 500, 503];
const UPSTREAM: readonly number[] = [502, 504];

const WHY: Record<number, string> = {
  400: 'The request is invalid',
  401: 'No credentials, or credentials that are not valid',
  403: 'The credentials do not allow this operation or project',
  404: 'No such project, environment, pipeline or execution',
  409: 'Conflicts with the current state',
  410: 'The pipeline is disabled',
  413: 'The body is too large',
  415: 'The body is not application/json',
  429: 'Over the rate limit; Retry-After says for how long',
  500: 'The gateway failed',
  502: 'Maia failed or refused the gateway',
  503: 'The gateway is shutting down, or its shared store is unreachable (with an idempotency key; or for a live-status stream, after a few tries); Retry-After says when to retry',
  504: 'Maia did not answer in time',
};

/** Codes only GraphQL answers (a REST route has no GraphQL document to parse, validate, persist or weigh). */
const GRAPHQL_ONLY: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.QUERY_TOO_COMPLEX,
  ErrorCode.GRAPHQL_PARSE_FAILED,
  ErrorCode.GRAPHQL_VALIDATION_FAILED,
  ErrorCode.PERSISTED_QUERY_NOT_FOUND,
  ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
  ErrorCode.PERSISTED_QUERY_NOT_ALLOWED,
]);

/** The codes a status carries, from the one mapping of codes to statuses (`error-code.ts`). */
function codesOf(status: number): ErrorCode[] {
  return Object.values(ErrorCode).filter((code) => httpStatusOf(code) === status && !GRAPHQL_ONLY.has(code));
}

function problemResponse(status: number): MethodDecorator & ClassDecorator {
  const codes = codesOf(status);
  return ApiResponse({
    status,
    description: codes.length ? `${WHY[status]} (${codes.join(', ')})` : WHY[status],
    content: { [PROBLEM_JSON]: { schema: { $ref: getSchemaPath(ProblemDto) } } },
  });
}

/**
 * The documentation of one authenticated REST operation in a line: its operation id (Maia's name where Maia
 * has the operation), the security it needs, and every error it may answer with the one problem schema.
 */
export function RestOperation(operationId: string, options: RestOperationOptions): MethodDecorator {
  const statuses = [...(options.errors ?? []), ...ALWAYS, ...(options.upstream === false ? [] : UPSTREAM)];
  return applyDecorators(
    ApiOperation({ operationId, summary: options.summary, description: options.description }),
    ApiSecurity(API_KEY_SCHEME),
    ApiBearerAuth(BEARER_SCHEME),
    ApiExtraModels(ProblemDto),
    ...[...new Set(statuses)].sort((a, b) => a - b).map(problemResponse),
    ...(options.extension ? [ApiExtension(GATEWAY_EXTENSION, true)] : []),
  );
}

/** A public route (probes, metrics): no credentials, so no security requirement. */
export function PublicOperation(operationId: string, summary: string): MethodDecorator {
  return applyDecorators(
    ApiOperation({ operationId, summary, security: [] }),
    ApiExtension(GATEWAY_EXTENSION, true),
  );
}
