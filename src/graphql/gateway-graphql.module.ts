import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { DynamicModule, Global, Module } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import type { GraphQLWsSubscriptionsConfig } from '@nestjs/graphql';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerOptions } from 'graphql-ws';
import type { AppConfig } from '../config';
import { formatGraphqlError, formatGraphqlErrors } from './format-graphql-error';
import type { GraphqlContext } from './graphql-context';
import { GraphqlSecurity } from '../security/graphql-security.service';
import { GraphqlHooks, type WsConnectionContext } from './graphql-hooks.service';
import { RequestLoaders } from './request-loaders';
import { staleExtensionsPlugin } from './stale-extensions.plugin';

export const GRAPHQL_PATH = '/graphql';

/** graphql-ws hands its per-socket context as the first argument; Fastify hands the request. */
function isWsContext(value: unknown): value is WsConnectionContext {
  return typeof value === 'object' && value !== null && 'extra' in value && 'connectionParams' in value;
}

/** Provides `GraphqlHooks` to every module (auth, live status, metrics) without importing this one. */
@Global()
@Module({ providers: [GraphqlHooks], exports: [GraphqlHooks] })
export class GraphqlHooksModule {}

/**
 * graphql-ws on the GraphQL path: every hook goes through `GraphqlHooks`; errors leave formatted like
 * HTTP ones. (`onError` is passed through by Nest at run time though its type omits it.)
 */
function graphqlWsOptions(
  hooks: GraphqlHooks,
): GraphQLWsSubscriptionsConfig & Pick<ServerOptions, 'onError'> {
  return {
    path: GRAPHQL_PATH,
    onConnect: async (ctx: WsConnectionContext) => hooks.connect(ctx),
    onClose: async (ctx: WsConnectionContext, code?: number, reason?: string) =>
      hooks.close(ctx, code, reason),
    onSubscribe: async (ctx: WsConnectionContext, id: string, payload) => hooks.subscribe(ctx, id, payload),
    onError: (_ctx, _id, _payload, errors) => formatGraphqlErrors(errors),
    onNext: (_ctx, _id, _payload, _args, result) =>
      result.errors ? { ...result, errors: formatGraphqlErrors(result.errors) } : undefined,
  };
}

/**
 * Apollo Server 5 on Fastify, code-first, sorted schema built in memory (`schema.gql` is written by
 * `src/schema/print-schema.ts`), graphql-ws subscriptions on the same path, one error formatter, and the
 * per-request context (DataLoaders plus whatever `GraphqlHooks` contributors add).
 */
@Module({})
export class GatewayGraphqlModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: GatewayGraphqlModule,
      imports: [
        GraphqlHooksModule,
        GraphQLModule.forRootAsync<ApolloDriverConfig>({
          driver: ApolloDriver,
          imports: [GraphqlHooksModule],
          inject: [GraphqlHooks, GraphqlSecurity],
          // Limits, authentication (HTTP plugin, graphql-ws onConnect), field guards: see GraphqlSecurity.
          useFactory: (hooks: GraphqlHooks, security: GraphqlSecurity): ApolloDriverConfig =>
            security.secure({
              path: GRAPHQL_PATH,
              autoSchemaFile: true,
              sortSchema: true,
              introspection: config.server.graphqlIntrospection,
              // Nest's own landing-page choice is replaced by ours: Apollo Sandbox or nothing.
              playground: false,
              plugins: [
                config.server.graphqlExplorer
                  ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
                  : ApolloServerPluginLandingPageDisabled(),
                ApolloServerPluginCacheControlDisabled(),
                staleExtensionsPlugin(),
                hooks.delegatingPlugin(),
              ],
              csrfPrevention: true,
              allowBatchedHttpRequests: false,
              includeStacktraceInErrorResponses: false,
              // Our formatError maps every error itself, Nest HttpExceptions included.
              autoTransformHttpErrors: false,
              formatError: formatGraphqlError,
              context: async (...args: unknown[]): Promise<GraphqlContext> => {
                const [first] = args;
                if (isWsContext(first)) {
                  return hooks.contribute({
                    transport: 'ws',
                    req: (first.extra as { request?: import('http').IncomingMessage } | undefined)?.request,
                    connectionParams: first.connectionParams ?? {},
                    wsExtra: first.extra,
                    loaders: new RequestLoaders({ cache: false }),
                  });
                }
                return hooks.contribute({
                  transport: 'http',
                  req: first as FastifyRequest,
                  reply: args[1] as FastifyReply,
                  loaders: new RequestLoaders({ cache: true }),
                });
              },
              subscriptions: {
                'graphql-ws': graphqlWsOptions(hooks),
              },
            }),
        }),
      ],
      exports: [GraphqlHooksModule],
    };
  }
}
