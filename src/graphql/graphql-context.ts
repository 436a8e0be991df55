import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CACHED, RequestLoaders } from './request-loaders';

/**
 * What every resolver receives as its context. HTTP operations carry `req`/`reply`; graphql-ws operations
 * carry `connectionParams` and the upgrade request in `req`. The caller is not here: it is on the
 * request's `RequestContext` (`@CurrentPrincipal()`).
 */
export interface GraphqlContext {
  transport: 'http' | 'ws';
  req?: FastifyRequest | IncomingMessage;
  reply?: FastifyReply;
  /** graphql-ws only: the `connection_init` payload. */
  connectionParams?: Readonly<Record<string, unknown>>;
  /** graphql-ws only: the per-socket `extra` object (socket and upgrade request). */
  wsExtra?: unknown;
  loaders: RequestLoaders;
}

/** The context of a GraphQL operation over HTTP (Apollo's path and the query lane build the same one). */
export function httpGraphqlContext(req: FastifyRequest, reply: FastifyReply | undefined): GraphqlContext {
  return { transport: 'http', req, reply, loaders: new RequestLoaders(CACHED) };
}
