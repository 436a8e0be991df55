import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, type GatewayError } from '../errors';
import { PROBLEM_JSON, problemOf } from './problem-json';
import { toGatewayError } from './to-gateway-error';

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
    const error = toGatewayError(exception);
    if (reply.sent) return undefined;
    applyHeaders(reply, error);
    if (GRAPHQL_PATH.test(request.url ?? '')) {
      void reply
        .status(error.httpStatus)
        .header('content-type', 'application/json; charset=utf-8')
        .send(JSON.stringify({ errors: [{ message: error.message, extensions: { code: error.code } }] }));
      return undefined;
    }
    void reply
      .status(error.httpStatus)
      .header('content-type', PROBLEM_JSON)
      .send(JSON.stringify(problemOf(error)));
    return undefined;
  }
}

function applyHeaders(reply: FastifyReply, error: GatewayError): void {
  const retryAfterSeconds = error.details.retryAfterSeconds;
  if (
    (error.code === ErrorCode.RATE_LIMITED ||
      error.code === ErrorCode.SHUTTING_DOWN ||
      error.code === ErrorCode.IDEMPOTENCY_UNAVAILABLE) &&
    typeof retryAfterSeconds === 'number'
  ) {
    void reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterSeconds))));
  }
}
