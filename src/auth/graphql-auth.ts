import type { IncomingMessage } from 'node:http';
import { HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { Context as WsContext, SubscribePayload } from 'graphql-ws';
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { ErrorCode, GatewayError } from '../common/errors';
import { RequestContext } from '../common/request-context';
import { setLongTimeout } from '../common/timers';
import { AuthGate } from './auth-gate.service';
import { unauthenticated } from './auth.service';
import { clientIpOf } from './client-ip';
import type { Principal } from './principal';

/**
 * graphql-ws close codes: 4403 is graphql-ws's own "Forbidden" (onConnect refused); 4429 "too many"
 * (requests over the rate limit, or connections over `GRAPHQL_WS_MAX_CONNECTIONS_PER_CLIENT`).
 */
export const WS_CLOSE_FORBIDDEN = 4403;
export const WS_CLOSE_TOO_MANY_REQUESTS = 4429;

/** A GatewayError as Apollo answers it: the same code, and the HTTP status and Retry-After on the response. */
export function toGraphqlError(error: GatewayError, transport: 'http' | 'ws' = 'http'): GraphQLError {
  if (transport === 'ws') {
    return new GraphQLError(error.message, {
      originalError: error,
      extensions: { ...error.details, code: error.code },
    });
  }
  const headers = new HeaderMap();
  const retryAfterSeconds = error.details.retryAfterSeconds;
  if (error.code === ErrorCode.RATE_LIMITED && typeof retryAfterSeconds === 'number') {
    headers.set('retry-after', String(retryAfterSeconds));
  }
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: { ...error.details, code: error.code, http: { status: error.httpStatus, headers } },
  });
}

/**
 * Admits every GraphQL-over-HTTP request before any resolver runs: admission starts as the request arrives
 * and is awaited once the operation is resolved (after parsing and the armor's validation), so a refused
 * caller gets one 401/429 answer with no `data` at all, whatever the document asks for (introspection and
 * `__typename` included). Resolvers' guards then read the admitted principal.
 */
export function createGraphqlAuthPlugin(gate: AuthGate): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart(requestContext) {
      const req = (requestContext.contextValue as { req?: FastifyRequest }).req;
      // Decided at once when admission is synchronous (an API key or a remembered JWT, the rate-limit
      // share covering the request): no promise then. Otherwise a promise awaited once resolved.
      let refusal: GatewayError | undefined;
      let admitted: Promise<GatewayError | undefined> | undefined;
      if (!req) refusal = unauthenticated();
      else {
        try {
          const outcome = gate.admit(RequestContext.of(req.raw), req.headers, () => clientIpOf(req));
          if (outcome instanceof Promise) {
            admitted = outcome.then<undefined, GatewayError>(
              () => undefined,
              (error: unknown) => {
                if (error instanceof GatewayError) return error;
                throw error;
              },
            );
          }
        } catch (error) {
          if (error instanceof GatewayError) refusal = error;
          // Anything else fails the request as before: a rejection awaited once the operation is resolved.
          else
            admitted = new Promise<never>(() => {
              throw error;
            });
        }
        // Never leave the promise unobserved: a request that fails to parse ends before it is awaited.
        admitted?.catch(() => undefined);
      }
      return {
        async didResolveOperation() {
          if (admitted) refusal = await admitted;
          if (refusal) throw toGraphqlError(refusal);
        },
      };
    },
  };
}

/** graphql-ws `extra` of the `ws` adapter. */
interface WsExtra {
  socket: WebSocket;
  request: IncomingMessage;
}
type Ctx = WsContext<Record<string, unknown> | undefined, unknown>;

function extraOf(ctx: Ctx): WsExtra | undefined {
  const extra = ctx.extra as Partial<WsExtra> | undefined;
  return extra?.socket && extra.request ? (extra as WsExtra) : undefined;
}

const expiryTimers = new WeakMap<object, () => void>();

/** Closes `socket` with 4403 when `expiresAt` passes (a long timeout: tokens may outlive setTimeout's range). */
function closeAtExpiry(socket: WebSocket, expiresAt: Date): () => void {
  const timer = setLongTimeout(
    () => socket.close(WS_CLOSE_FORBIDDEN, 'Token expired'),
    expiresAt.getTime() - Date.now(),
  );
  const clear = (): void => timer.clear();
  socket.once('close', clear);
  return clear;
}

/**
 * Open graphql-ws connections per authenticated client on this replica: each idle socket costs memory
 * and a file descriptor whether it subscribes or not, so one client (one API key, one JWT subject) may
 * hold at most `max` (0: no cap). A socket counts from its accepted `connection_init` to its close.
 */
class ClientConnectionCounts {
  private readonly byClient = new Map<string, number>();
  private readonly clientOf = new WeakMap<object, string>();

  constructor(private readonly max: number) {}

  /** Counts the socket for its client; false (and not counted) when the client is at its cap. */
  open(socket: object, principal: Principal): boolean {
    if (this.max <= 0) return true;
    const client = `${principal.kind}\u0000${principal.id}`;
    const count = this.byClient.get(client) ?? 0;
    if (count >= this.max) return false;
    this.byClient.set(client, count + 1);
    this.clientOf.set(socket, client);
    return true;
  }

  close(socket: object): void {
    const client = this.clientOf.get(socket);
    if (client === undefined) return;
    this.clientOf.delete(socket);
    const count = (this.byClient.get(client) ?? 1) - 1;
    if (count > 0) this.byClient.set(client, count);
    else this.byClient.delete(client);
  }
}

export interface GraphqlWsAuthHooks {
  onConnect(ctx: Ctx): Promise<boolean>;
  /** Charges the operation to the caller's rate limit; errors refuse that operation only. */
  onSubscribe(ctx: Ctx, id: string, payload: SubscribePayload): Promise<readonly GraphQLError[] | void>;
  onClose(ctx: Ctx): void;
}

/**
 * graphql-ws authentication: credentials come in `connection_init` (`{ "x-api-key": ... }` or
 * `{ "authorization": "Bearer ..." }`). A refused connection closes with 4403 (4429 when the client is
 * over its rate limit); an accepted one is closed with 4403 the moment its JWT expires. Each subscribe
 * message is one request against the rate limit.
 */
export function createGraphqlWsAuthHooks(
  gate: AuthGate,
  limits: { maxConnectionsPerClient?: number } = {},
): GraphqlWsAuthHooks {
  const connections = new ClientConnectionCounts(limits.maxConnectionsPerClient ?? 0);
  return {
    async onConnect(ctx) {
      const extra = extraOf(ctx);
      if (!extra) return false;
      const ip = () => clientIpOf(extra.request);
      try {
        const principal = await gate.admit(RequestContext.of(extra.request), ctx.connectionParams, ip, 'ws');
        await gate.charge(principal, ip);
        if (!connections.open(extra, principal)) {
          extra.socket.close(WS_CLOSE_TOO_MANY_REQUESTS, 'Too many connections for this client');
          return false;
        }
        if (principal.expiresAt) expiryTimers.set(extra, closeAtExpiry(extra.socket, principal.expiresAt));
        return true;
      } catch (error) {
        if (GatewayError.is(error, ErrorCode.RATE_LIMITED)) {
          extra.socket.close(WS_CLOSE_TOO_MANY_REQUESTS, 'Too many requests');
        }
        return false;
      }
    },
    async onSubscribe(ctx) {
      const extra = extraOf(ctx);
      const principal = extra?.request.requestContext?.principal;
      // onConnect admitted this socket; anything else is a bug worth refusing.
      if (!principal || !extra) return [toGraphqlError(unauthenticated(), 'ws')];
      try {
        await gate.charge(principal, () => clientIpOf(extra.request));
      } catch (error) {
        if (error instanceof GatewayError) return [toGraphqlError(error, 'ws')];
        throw error;
      }
      return undefined;
    },
    onClose(ctx) {
      const extra = extraOf(ctx);
      if (!extra) return;
      expiryTimers.get(extra)?.();
      expiryTimers.delete(extra);
      connections.close(extra);
    },
  };
}
