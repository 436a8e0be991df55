import { Injectable } from '@nestjs/common';
import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';
import type { GraphQLError } from 'graphql';
import type { Context as WsContext } from 'graphql-ws';
import type { GraphqlContext } from './graphql-context';

export type WsConnectionContext = WsContext<Record<string, unknown> | undefined, unknown>;

/** Adds members to (or checks) the context of one operation; throw a `GatewayError` to refuse it. */
export type ContextContributor = (context: GraphqlContext) => Promise<void> | void;
/** Runs on graphql-ws `connection_init`; `false` refuses the socket (closed with 4403 Forbidden). */
export type ConnectHandler = (ctx: WsConnectionContext) => Promise<boolean | void> | boolean | void;
/** Runs when a graphql-ws socket closes, acknowledged or not: release what it held. */
export type CloseHandler = (ctx: WsConnectionContext, code?: number, reason?: string) => Promise<void> | void;
/** Runs before a graphql-ws operation executes; returning errors refuses it (e.g. document limits). */
export type WsSubscribeHandler = (
  ctx: WsConnectionContext,
  id: string,
  payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null },
) => Promise<readonly GraphQLError[] | void> | readonly GraphQLError[] | void;

/**
 * The one place where other modules (auth, live status, metrics) extend the GraphQL transports without
 * touching the module setup: register handlers at start (e.g. in `onModuleInit`); they are read per
 * request, so registration order against the GraphQL module does not matter.
 */
@Injectable()
export class GraphqlHooks {
  private readonly contributors: ContextContributor[] = [];
  private readonly connectHandlers: ConnectHandler[] = [];
  private readonly closeHandlers: CloseHandler[] = [];
  private readonly subscribeHandlers: WsSubscribeHandler[] = [];
  private readonly apolloPlugins: ApolloServerPlugin<BaseContext>[] = [];

  addContextContributor(contributor: ContextContributor): void {
    this.contributors.push(contributor);
  }
  addConnectHandler(handler: ConnectHandler): void {
    this.connectHandlers.push(handler);
  }
  addCloseHandler(handler: CloseHandler): void {
    this.closeHandlers.push(handler);
  }
  addWsSubscribeHandler(handler: WsSubscribeHandler): void {
    this.subscribeHandlers.push(handler);
  }
  /**
   * Adds an Apollo Server plugin's per-request hooks (`requestDidStart` and the listeners it returns), e.g.
   * authentication or metrics. Server-level hooks (`serverWillStart`...) are not forwarded.
   */
  addApolloPlugin(plugin: ApolloServerPlugin<BaseContext>): void {
    this.apolloPlugins.push(plugin);
  }

  /** The one plugin given to Apollo: forwards each request to the plugins registered at that moment. */
  delegatingPlugin(): ApolloServerPlugin<BaseContext> {
    return {
      requestDidStart: async (requestContext) => {
        const listeners: GraphQLRequestListener<BaseContext>[] = [];
        for (const plugin of this.apolloPlugins) {
          const listener = await plugin.requestDidStart?.(requestContext);
          if (listener) listeners.push(listener);
        }
        if (listeners.length === 0) return undefined;
        return mergeListeners(listeners);
      },
    };
  }

  async contribute(context: GraphqlContext): Promise<GraphqlContext> {
    for (const contributor of this.contributors) await contributor(context);
    return context;
  }

  async connect(ctx: WsConnectionContext): Promise<boolean> {
    for (const handler of this.connectHandlers) {
      if ((await handler(ctx)) === false) return false;
    }
    return true;
  }

  async close(ctx: WsConnectionContext, code?: number, reason?: string): Promise<void> {
    for (const handler of this.closeHandlers) {
      try {
        await handler(ctx, code, reason);
      } catch {
        // A failing close handler must not keep the others from releasing their resources.
      }
    }
  }

  async subscribe(
    ctx: WsConnectionContext,
    id: string,
    payload: Parameters<WsSubscribeHandler>[2],
  ): Promise<readonly GraphQLError[] | undefined> {
    for (const handler of this.subscribeHandlers) {
      const errors = await handler(ctx, id, payload);
      if (errors && errors.length > 0) return errors;
    }
    return undefined;
  }
}

type ListenerHook = (...args: never[]) => Promise<unknown>;

/**
 * One listener that calls each hook of every listener in order (Apollo awaits each). Only hooks whose result
 * Apollo ignores are forwarded (didResolveOperation, willSendResponse, didEncounterErrors...): the end
 * callbacks of `*DidStart` hooks and `responseForOperation` answers are not combined.
 */
function mergeListeners(
  listeners: GraphQLRequestListener<BaseContext>[],
): GraphQLRequestListener<BaseContext> {
  const merged: GraphQLRequestListener<BaseContext> & Record<string, ListenerHook> = {};
  const names = new Set(listeners.flatMap((listener) => Object.keys(listener)));
  for (const name of names) {
    const hooks = listeners
      .map((listener) => (listener as Record<string, ListenerHook | undefined>)[name])
      .filter((hook): hook is ListenerHook => typeof hook === 'function');
    merged[name] = async (...args: never[]) => {
      for (const hook of hooks) await hook(...args);
      return undefined;
    };
  }
  return merged;
}
