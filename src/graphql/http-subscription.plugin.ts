import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';
import { GraphQLError, OperationTypeNode } from 'graphql';
import { ErrorCode } from '../common/errors';
import type { GraphqlContext } from './graphql-context';

export const SUBSCRIPTION_OVER_HTTP_MESSAGE =
  'Subscriptions are not served over HTTP POST/GET: subscribe over graphql-ws (WebSocket) at /graphql, or read the SSE stream GET /api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}/events';

/**
 * A subscription sent as an HTTP request is the client's mistake: it is answered 400 BAD_USER_INPUT with
 * the way to subscribe, before anything runs, and never reaches the executor (which would fail it as an
 * internal error and log a stack trace per request).
 */
export function httpSubscriptionPlugin(): ApolloServerPlugin<BaseContext> {
  // One listener for every request (no hooks object allocated per request).
  const listener: GraphQLRequestListener<BaseContext> = {
    async didResolveOperation({ operation, contextValue }) {
      // graphql-ws runs its subscriptions outside Apollo's request pipeline; HTTP is what arrives here.
      if ((contextValue as Partial<GraphqlContext>).transport === 'ws') return;
      if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) return;
      throw new GraphQLError(SUBSCRIPTION_OVER_HTTP_MESSAGE, {
        extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } },
      });
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}
