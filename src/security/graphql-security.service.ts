import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { INestApplication } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import type { GraphQLError } from 'graphql';
import type { Context as WsContext, SubscribePayload } from 'graphql-ws';
import type { WebSocketServer } from 'ws';
import { APP_CONFIG, type AppConfig } from '../config';
import { AuthGate } from '../auth/auth-gate.service';
import { createGraphqlAuthPlugin, createGraphqlWsAuthHooks } from '../auth/graphql-auth';
import { apolloSecurityOptions, graphqlWsLimits } from './graphql-limits';

type Ctx = WsContext<Record<string, unknown> | undefined, unknown>;

/** Hooks another module may want on graphql-ws; they run after ours, only for admitted sockets. */
export interface ExtraWsHooks {
  onConnect?: (ctx: Ctx) => unknown;
  onSubscribe?: (ctx: Ctx, id: string, payload: SubscribePayload) => unknown;
  onClose?: (ctx: Ctx, code?: number, reason?: string) => unknown;
}

/**
 * The one place the GraphQL module takes its protection from (spread into `GraphQLModule.forRootAsync`):
 *
 *   useFactory: (security: GraphqlSecurity) => ({
 *     ...security.apolloOptions(),            // limits, auth plugin, CSRF, no batching
 *     plugins: [...security.apolloOptions().plugins, ...yours],
 *     subscriptions: { 'graphql-ws': { path: '/graphql', ...security.graphqlWsOptions() } },
 *   })
 *
 * and once the app is initialised, `security.boundWebSocketPayload(app)`.
 */
@Injectable()
export class GraphqlSecurity {
  private readonly logger = new Logger('GraphqlSecurity');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly gate: AuthGate,
  ) {}

  apolloOptions() {
    const options = apolloSecurityOptions(this.config.auth.graphql);
    const plugins: ApolloServerPlugin<BaseContext>[] = [
      createGraphqlAuthPlugin(this.gate),
      ...options.plugins,
    ];
    return { ...options, plugins };
  }

  graphqlWsOptions(extra: ExtraWsHooks = {}) {
    const limits = graphqlWsLimits(this.config.auth.graphql);
    const auth = createGraphqlWsAuthHooks(this.gate);
    return {
      validate: limits.validate,
      parse: limits.parse,
      // Sockets that never say who they are do not linger.
      connectionInitWaitTimeout: 3_000,
      onConnect: async (ctx: Ctx): Promise<boolean | Record<string, unknown>> => {
        if (!(await auth.onConnect(ctx))) return false;
        const more = await extra.onConnect?.(ctx);
        return more === false
          ? false
          : typeof more === 'object' && more !== null
            ? (more as Record<string, unknown>)
            : true;
      },
      onSubscribe: async (
        ctx: Ctx,
        id: string,
        payload: SubscribePayload,
      ): Promise<readonly GraphQLError[] | void> => {
        const refused = limits.onSubscribe(ctx, id, payload) ?? (await auth.onSubscribe(ctx, id, payload));
        if (refused) return refused;
        return (await extra.onSubscribe?.(ctx, id, payload)) as readonly GraphQLError[] | void;
      },
      onClose: async (ctx: Ctx, code?: number, reason?: string): Promise<void> => {
        auth.onClose(ctx);
        await extra.onClose?.(ctx, code, reason);
      },
    };
  }

  /**
   * Bounds graphql-ws messages. Workaround: @nestjs/graphql creates its WebSocketServer without a
   * `maxPayload` (ws then accepts 100 MiB frames); `ws` reads the option at each upgrade, so setting it
   * on the created servers takes effect for every later connection. Oversized frames close with 1009.
   */
  boundWebSocketPayload(app: INestApplication): boolean {
    let servers: WebSocketServer[] = [];
    try {
      const adapter = app.get(GraphQLModule, { strict: false }).graphQlAdapter as unknown as {
        _subscriptionService?: { wss?: WebSocketServer; subTransWs?: WebSocketServer };
      };
      const service = adapter._subscriptionService;
      servers = [service?.wss, service?.subTransWs].filter((s): s is WebSocketServer => !!s);
    } catch {
      servers = [];
    }
    for (const server of servers) server.options.maxPayload = this.config.auth.graphql.wsMaxPayloadBytes;
    if (servers.length === 0)
      this.logger.warn('No graphql-ws server found: WebSocket message size is not bounded');
    return servers.length > 0;
  }
}
