import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';
import { RequestContext } from '../common/request-context';

/**
 * Says in the response `extensions.stale` which cached resources were served stale because Maia failed
 * (the cache marks them on the request's `RequestContext`). REST says the same in a header.
 */
export function staleExtensionsPlugin(): ApolloServerPlugin {
  // One listener for every request: nothing in it is per request (the stale marks are on the request's
  // RequestContext), so no hooks object is allocated per request.
  const listener: GraphQLRequestListener<BaseContext> = {
    async willSendResponse({ response }) {
      const stale = RequestContext.current()?.staleResources;
      if (!stale || stale.size === 0 || response.body.kind !== 'single') return;
      const result = response.body.singleResult;
      result.extensions = { ...(result.extensions ?? {}), stale: [...stale].sort() };
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}
