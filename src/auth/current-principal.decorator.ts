import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import { RequestContext } from '../common/request-context';
import { authStateOf, carriersOfGraphqlContext } from './auth-state';
import { unauthenticated } from './auth.service';
import { type Principal } from './principal';

/**
 * The principal the auth guard established for this request, GraphQL operation or socket. Throws
 * UNAUTHENTICATED when there is none (fail closed: a handler that asks must not run anonymously).
 */
export function principalOf(context: ExecutionContext): Principal {
  let principal: Principal | undefined;
  if (context.getType<GqlContextType>() === 'graphql') {
    const value = GqlExecutionContext.create(context).getContext<unknown>();
    principal = principalOfGraphqlContext(value);
  } else {
    const req = context.switchToHttp().getRequest<object>();
    principal = authStateOf(req)?.principal ?? RequestContext.current()?.principal;
  }
  if (!principal) throw unauthenticated();
  return principal;
}

/** For field resolvers and services holding the GraphQL context value (`@Context()`). */
export function principalOfGraphqlContext(value: unknown): Principal | undefined {
  return authStateOf(...carriersOfGraphqlContext(value))?.principal ?? RequestContext.current()?.principal;
}

/** `@CurrentPrincipal() principal: Principal` in a resolver or controller method. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  principalOf(context),
);
