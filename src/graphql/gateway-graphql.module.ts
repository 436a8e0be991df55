import { httpSubscriptionPlugin } from './http-subscription.plugin';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { DynamicModule, Module } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import type { GraphQLWsSubscriptionsConfig } from '@nestjs/graphql';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { execute, type ExecutionArgs } from 'graphql';
import type { Context as WsContext, ServerOptions } from 'graphql-ws';
import { AuthGate } from '../auth/auth-gate.service';
import { createGraphqlAuthPlugin, createGraphqlWsAuthHooks } from '../auth/graphql-auth';
import { RequestContext } from '../common/request-context';
import type { AppConfig } from '../config';
import { wholeAnswerPlugin } from '../hot-read/whole-answer.plugin';
import { EnvironmentPipelinesResolver, ProjectPipelinesResolver } from '../pipelines/pipelines.resolver';
import { PublishedPipelinesArgs } from '../pipelines/dto/published-pipelines.args';
import { ProjectEnvironmentsResolver } from '../environments/environments.resolver';
import { ProjectsResolver } from '../projects/projects.resolver';
import { GraphqlSecurity } from '../security/graphql-security.service';
import { SecurityModule } from '../security/security.module';
import { withUnreferencedTypes } from './error-code.enum';
import { DirectFieldResolvers, type DirectField } from './direct-field-resolvers';
import { FanOutSubscriber } from './fan-out-subscribe';
import { formatGraphqlError, formatGraphqlErrors } from './format-graphql-error';
import { httpGraphqlContext, type GraphqlContext } from './graphql-context';
import { GraphqlQueryLane } from './lane/query-lane';
import { GraphqlLaneModule } from './lane/query-lane.module';
import { PageArgs } from './page.args';
import { RequestLoaders, UNCACHED } from './request-loaders';
import { staleExtensionsPlugin } from './stale-extensions.plugin';

export const GRAPHQL_PATH = '/graphql';

/**
 * The field resolvers of the lookup types that a nested read calls once per project and per environment,
 * and the root field of the lookup read: called by graphql-js directly, with the auth guard's scope check
 * and the validation pipe done in one function (`DirectFieldResolvers`, ADR 0029 and ADR 0041).
 */
export const DIRECT_FIELDS: readonly DirectField[] = [
  { type: 'Query', field: 'projects', resolver: ProjectsResolver, method: 'projects', args: PageArgs },
  {
    type: 'Project',
    field: 'environments',
    resolver: ProjectEnvironmentsResolver,
    method: 'environments',
    args: PageArgs,
  },
  {
    type: 'Project',
    field: 'publishedPipelines',
    resolver: ProjectPipelinesResolver,
    method: 'publishedPipelines',
    args: PublishedPipelinesArgs,
  },
  {
    type: 'Environment',
    field: 'publishedPipelines',
    resolver: EnvironmentPipelinesResolver,
    method: 'publishedPipelines',
    args: PageArgs,
  },
];

type WsConnectionContext = WsContext<Record<string, unknown> | undefined, unknown>;

/** graphql-ws hands its per-socket context as the first argument; Fastify hands the request. */
function isWsContext(value: unknown): value is WsConnectionContext {
  return typeof value === 'object' && value !== null && 'extra' in value && 'subscriptions' in value;
}

/** Runs a graphql-ws operation inside its connection's `RequestContext`, as HTTP requests run in theirs. */
function inConnectionContext<T>(run: (args: ExecutionArgs) => T): (args: ExecutionArgs) => T {
  return (args) => {
    const ctx = (args.contextValue as GraphqlContext | undefined)?.req?.requestContext;
    return ctx ? RequestContext.run(ctx, () => run(args)) : run(args);
  };
}

/**
 * graphql-ws on the GraphQL path: authentication at `connection_init` and per operation, operations run in
 * their connection's `RequestContext`, errors leave formatted like HTTP ones. (`onError` is passed through
 * by Nest at run time though its type omits it.)
 */
function graphqlWsOptions(
  gate: AuthGate,
  config: AppConfig,
): GraphQLWsSubscriptionsConfig & Pick<ServerOptions, 'onError'> {
  const auth = createGraphqlWsAuthHooks(gate, {
    maxConnectionsPerClient: config.server.wsMaxConnectionsPerClient,
  });
  return {
    path: GRAPHQL_PATH,
    onConnect: (ctx: WsConnectionContext) => auth.onConnect(ctx),
    onClose: (ctx: WsConnectionContext) => auth.onClose(ctx),
    onSubscribe: (ctx: WsConnectionContext, id: string, payload) => auth.onSubscribe(ctx, id, payload),
    onError: (_ctx, _id, _payload, errors) => formatGraphqlErrors(errors),
    onNext: (_ctx, _id, _payload, _args, result) =>
      result.errors ? { ...result, errors: formatGraphqlErrors(result.errors) } : undefined,
    execute: inConnectionContext(execute),
    // Subscribers of one event with the same document share its execution (see FanOutSubscriber).
    subscribe: inConnectionContext(new FanOutSubscriber().subscribe),
  } as GraphQLWsSubscriptionsConfig & Pick<ServerOptions, 'onError'>;
}

/**
 * Apollo Server 5 on Fastify, code-first, sorted schema built in memory (`schema.gql` is written by
 * `src/schema/print-schema.ts`), graphql-ws subscriptions on the same path, one error formatter, the
 * limits of `GraphqlSecurity`, the caller's admission (`AuthGate`) and the per-request DataLoaders.
 */
@Module({})
export class GatewayGraphqlModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: GatewayGraphqlModule,
      imports: [
        GraphQLModule.forRootAsync<ApolloDriverConfig>({
          driver: ApolloDriver,
          imports: [SecurityModule, GraphqlLaneModule],
          inject: [GraphqlSecurity, AuthGate, ModuleRef, GraphqlQueryLane],
          useFactory: (
            security: GraphqlSecurity,
            gate: AuthGate,
            moduleRef: ModuleRef,
            lane: GraphqlQueryLane,
          ): ApolloDriverConfig =>
            security.secure({
              path: GRAPHQL_PATH,
              autoSchemaFile: true,
              sortSchema: true,
              // The types no field returns (the ErrorCode enum); print-schema adds the same. Then the direct
              // field resolvers (the resolvers exist by now: the schema is built in GraphQLModule's init).
              transformSchema: (schema) =>
                new DirectFieldResolvers(DIRECT_FIELDS, moduleRef).apply(withUnreferencedTypes(schema)),
              introspection: config.server.graphqlIntrospection,
              // Nest's own landing-page choice is replaced by ours: GraphiQL is served by the gateway
              // (src/ui, before Apollo sees the request); Apollo's hosted Sandbox only when asked for.
              playground: false,
              plugins: [
                createGraphqlAuthPlugin(gate),
                httpSubscriptionPlugin(),
                config.server.graphqlExplorer === 'apollo-sandbox'
                  ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
                  : ApolloServerPluginLandingPageDisabled(),
                ApolloServerPluginCacheControlDisabled(),
                staleExtensionsPlugin(),
                wholeAnswerPlugin(),
                // Registers the operations Apollo accepted, for the query lane (docs/adr/0035, 0044).
                lane.plugin(),
              ],
              csrfPrevention: true,
              allowBatchedHttpRequests: false,
              includeStacktraceInErrorResponses: false,
              // Our formatError maps every error itself, Nest HttpExceptions included.
              autoTransformHttpErrors: false,
              formatError: formatGraphqlError,
              context: (...args: unknown[]): GraphqlContext => {
                const [first] = args;
                if (isWsContext(first)) {
                  return {
                    transport: 'ws',
                    req: (first.extra as { request?: import('http').IncomingMessage } | undefined)?.request,
                    connectionParams: first.connectionParams ?? {},
                    wsExtra: first.extra,
                    loaders: new RequestLoaders(UNCACHED),
                  };
                }
                return httpGraphqlContext(first as FastifyRequest, args[1] as FastifyReply);
              },
              subscriptions: {
                'graphql-ws': graphqlWsOptions(gate, config),
              },
            }),
        }),
      ],
    };
  }
}
