import type { IncomingMessage } from 'node:http';
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { FastifyRequest } from 'fastify';
import { RequestContext } from '../common/request-context';
import { unauthenticated } from './auth.service';
import { type Principal } from './principal';

/**
 * The `RequestContext` of the request (REST, GraphQL over HTTP) or graphql-ws connection an execution
 * context belongs to, found through the request object so it does not depend on the async store.
 */
export function requestContextOf(context: ExecutionContext): RequestContext | undefined {
  const type = context.getType<GqlContextType>();
  if (type === 'graphql') return requestContextOfParts(context, GqlExecutionContext.create(context));
  if (type === 'http') {
    return requestContextOfParts(context, undefined, context.switchToHttp().getRequest<FastifyRequest>());
  }
  return undefined;
}

/**
 * `requestContextOf` for a caller that already holds the GraphQL context (`gql`) or the HTTP request
 * (`http`): the guard reads both once per call.
 */
export function requestContextOfParts(
  _context: ExecutionContext,
  gql: GqlExecutionContext | undefined,
  http?: FastifyRequest,
): RequestContext | undefined {
  const request: FastifyRequest | IncomingMessage | undefined = gql
    ? gql.getContext<{ req?: FastifyRequest | IncomingMessage }>()?.req
    : http;
  if (!request) return undefined;
  return RequestContext.of('raw' in request ? request.raw : request);
}

/** The caller the edge admitted for the request being served, if any. */
export function currentPrincipal(): Principal | undefined {
  return RequestContext.current()?.principal;
}

/**
 * The principal the edge admitted for this request, GraphQL operation or socket. Throws UNAUTHENTICATED
 * when there is none (fail closed: a handler that asks must not run anonymously).
 */
export function principalOf(context: ExecutionContext): Principal {
  const principal = requestContextOf(context)?.principal;
  if (!principal) throw unauthenticated();
  return principal;
}

/** What `@CurrentPrincipal()` resolves to; named so the edge read front recognises the parameter. */
export const currentPrincipalArg = (_data: unknown, context: ExecutionContext): Principal =>
  principalOf(context);

/** `@CurrentPrincipal() principal: Principal` in a resolver or controller method. */
export const CurrentPrincipal = createParamDecorator(currentPrincipalArg);
