import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, type GatewayError } from '../errors';
import { PROBLEM_JSON, problemOf } from './problem-json';
import { toGatewayError } from './to-gateway-error';

/** What a REST error is answered with: its status, its headers and its problem+json body. */
export interface ProblemAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The answer to anything thrown by a REST route, whichever edge serves it (this filter, or the edge read
 * front of `edge-reads.ts`): one code, one body, the same headers.
 */
export function problemAnswer(exception: unknown): ProblemAnswer {
  const error = toGatewayError(exception);
  const headers: Record<string, string> = { 'content-type': PROBLEM_JSON };
  const retryAfter = retryAfterOf(error);
  if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
  return { status: error.httpStatus, headers, body: JSON.stringify(problemOf(error)) };
}

/** Paths served by Apollo: their transport errors (bad JSON, too large) are answered in GraphQL's shape. */
const GRAPHQL_PATH = /^\/graphql(?:[/?]|$)/;

/**
 * The one REST exception filter: every error of an HTTP route (and Fastify's own errors: malformed JSON,
 * body too large, unknown route) leaves as `application/problem+json` with the shared `code`. GraphQL
 * resolver errors are passed back to Apollo, whose `formatError` maps them the same way.
 */
@Catch()
export class ProblemJsonExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType<string>() !== 'http') return exception;
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    if (GRAPHQL_PATH.test(request.url ?? '')) {
      const error = toGatewayError(exception);
      if (reply.sent) return undefined;
      const retryAfter = retryAfterOf(error);
      if (retryAfter !== undefined) void reply.header('retry-after', retryAfter);
      void reply
        .status(error.httpStatus)
        .header('content-type', 'application/json; charset=utf-8')
        .send(JSON.stringify({ errors: [{ message: error.message, extensions: { code: error.code } }] }));
      return undefined;
    }
    const answer = problemAnswer(exception);
    if (reply.sent) return undefined;
    void reply.status(answer.status).headers(answer.headers).send(answer.body);
    return undefined;
  }
}

/** `Retry-After` (whole seconds, at least 1) of the errors that tell the caller when to come back. */
function retryAfterOf(error: GatewayError): string | undefined {
  const retryAfterSeconds = error.details.retryAfterSeconds;
  if (
    (error.code === ErrorCode.RATE_LIMITED ||
      error.code === ErrorCode.SHUTTING_DOWN ||
      error.code === ErrorCode.IDEMPOTENCY_UNAVAILABLE ||
      error.code === ErrorCode.UNAVAILABLE) &&
    typeof retryAfterSeconds === 'number'
  ) {
    return String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
  return undefined;
}
