import { currentPrincipal } from '../auth/current-principal.decorator';
import { type SubscriberIdentity } from './watch.types';

/**
 * Who a subscription counts against: the authenticated caller's id, or (authentication off) the remote
 * address; for graphql-ws also the socket, so one connection cannot hold more than its share.
 */
export function identityOfGraphqlContext(context: unknown): SubscriberIdentity {
  const c = (context ?? {}) as {
    wsExtra?: unknown;
    req?: { socket?: { remoteAddress?: string }; extra?: unknown };
  };
  const principal = currentPrincipal();
  // A graphql-ws socket's `extra` is one object per connection. When a socket sent no connectionParams the
  // context builder may take it for HTTP and hand the graphql-ws context over as `req`: look there too.
  const extra = c.wsExtra ?? c.req?.extra;
  const connectionKey = extra && typeof extra === 'object' ? extra : undefined;
  return {
    clientKey: principal?.id ?? c.req?.socket?.remoteAddress ?? 'anonymous',
    connectionKey,
    transport: 'graphql',
  };
}

export function identityOfHttpRequest(request: { ip?: string; raw?: object } & object): SubscriberIdentity {
  const principal = currentPrincipal();
  return { clientKey: principal?.id ?? request.ip ?? 'anonymous', transport: 'sse' };
}
