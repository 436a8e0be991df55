import type { ApolloServerPlugin } from '@apollo/server';
import { RequestContext } from '../common/request-context';

/**
 * Says in the response `extensions.stale` which cached resources were served stale because Maia failed
 * (the cache marks them on the request's `RequestContext`). REST says the same in a header.
 */
export function staleExtensionsPlugin(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          const stale = RequestContext.current()?.staleResources;
          if (!stale || stale.size === 0 || response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          result.extensions = { ...(result.extensions ?? {}), stale: [...stale].sort() };
        },
      };
    },
  };
}
