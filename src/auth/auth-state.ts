import { type Principal } from './principal';

/** What the edge learnt about one request or WebSocket connection. */
export interface AuthState {
  principal: Principal;
  /** The request (or, for a socket, every operation) was already charged against the rate limit. */
  rateLimited: boolean;
  transport: 'http' | 'ws';
}

// Keyed by the objects that identify a request or a connection (Fastify request, graphql-ws `extra`,
// its upgrade request, the GraphQL context value), so whichever of them a layer holds finds the state.
const states = new WeakMap<object, AuthState>();

export function rememberAuthState(state: AuthState, ...carriers: unknown[]): void {
  for (const carrier of carriers) {
    if (carrier && typeof carrier === 'object') states.set(carrier, state);
  }
}

export function authStateOf(...carriers: unknown[]): AuthState | undefined {
  for (const carrier of carriers) {
    if (carrier && typeof carrier === 'object') {
      const state = states.get(carrier);
      if (state) return state;
    }
  }
  return undefined;
}

/**
 * The objects of a GraphQL context value that may carry auth state: the context itself, its HTTP
 * request (Fastify's and the raw one beneath, where the hot-read front leaves it), and for graphql-ws the
 * `extra` (socket and upgrade request) and `connectionParams`.
 */
export function carriersOfGraphqlContext(context: unknown): object[] {
  if (!context || typeof context !== 'object') return [];
  const c = context as Record<string, unknown>;
  const extra = (c.extra ?? c.wsExtra) as Record<string, unknown> | undefined;
  const raw = (c.req as { raw?: unknown } | undefined)?.raw;
  return [c, c.req, raw, c.request, extra, extra?.request, extra?.socket, c.connectionParams].filter(
    (x): x is object => !!x && typeof x === 'object',
  );
}
