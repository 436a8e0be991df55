import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { GraphQLModule } from '@nestjs/graphql';
import { GraphQLError, type GraphQLSchema, type ParseOptions, type ValidationRule } from 'graphql';
import type { Context as WsContext, SubscribePayload } from 'graphql-ws';
import type { WebSocket, WebSocketServer } from 'ws';
import { APP_CONFIG, type AppConfig } from '../config';
import { ErrorCode } from '../common/errors';
import { PersistedQueryStore } from '../graphql/persisted-query.store';
import { RedisService } from '../redis';
import {
  apolloSecurityOptions,
  graphqlLimitRules,
  graphqlWsLimits,
  PassedDocuments,
  precheckDocument,
} from './graphql-limits';
import { TrustedDocuments, type DocumentRequest } from './graphql-trusted-documents';

type Ctx = WsContext<Record<string, unknown> | undefined, unknown>;

/** The members of the Apollo driver options that `secure()` reads or extends. */
export interface SecurableOptions {
  validationRules?: ValidationRule[];
  parseOptions?: ParseOptions;
  plugins?: ApolloServerPlugin<BaseContext>[];
  fieldResolverEnhancers?: ('guards' | 'interceptors' | 'filters')[];
  subscriptions?: { 'graphql-ws'?: unknown; [transport: string]: unknown };
  context?: unknown;
}

/** The GraphQL module's own graphql-ws hooks (authentication...); the limits run before them. */
export interface ExtraWsHooks {
  onConnect?: (ctx: Ctx) => unknown;
  onSubscribe?: (ctx: Ctx, id: string, payload: SubscribePayload) => unknown;
  onClose?: (ctx: Ctx, code?: number, reason?: string) => unknown;
}

/**
 * The one place the GraphQL module takes its protection from:
 *
 *   useFactory: (security: GraphqlSecurity, ...) => security.secure({ ...the module's own options })
 *
 * adds the limits (validation rules, token limit), persisted queries (automatic, or the trusted documents
 * alone), guards on field resolvers,
 * and puts the document limits in front of the module's own graphql-ws hooks. The WebSocket message
 * bound is applied by itself once the application has bootstrapped.
 */
@Injectable()
export class GraphqlSecurity implements OnApplicationBootstrap {
  private readonly logger = new Logger('GraphqlSecurity');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    // Only to reach the GraphQL module's WebSocket servers (see boundWebSocketPayload).
    private readonly moduleRef: ModuleRef,
    private readonly redis: RedisService,
  ) {
    const trusted = config.auth.graphql.trustedDocuments;
    this.trusted = trusted ? new TrustedDocuments(trusted) : undefined;
  }

  /** The production frontend's allow-list, when a manifest is configured. */
  private readonly trusted: TrustedDocuments | undefined;

  /**
   * Apollo's persisted queries: with an allow-list, the manifest answers ids and nothing is registered;
   * otherwise automatic persisted queries in Redis (every replica knows what one registered), in Apollo's
   * bounded memory cache without Redis; or off.
   */
  persistedQueriesOption(): { cache?: PersistedQueryStore | TrustedDocuments; ttl: number | null } | false {
    const graphql = this.config.auth.graphql;
    if (this.trusted) return { cache: this.trusted, ttl: null };
    if (!graphql.persistedQueries) return false;
    return {
      cache: this.redis.enabled ? new PersistedQueryStore(this.redis) : undefined,
      ttl: graphql.persistedQueriesTtlSeconds,
    };
  }

  /** The GraphQL module has created its WebSocket servers by now (in its own onModuleInit). */
  onApplicationBootstrap(): void {
    this.boundWebSocketPayload();
  }

  /** The GraphQL module's Apollo driver options with every protection added (theirs kept, ours first). */
  secure<T extends SecurableOptions>(options: T): T {
    const apollo = this.apolloOptions();
    const ws = options.subscriptions?.['graphql-ws'];
    const context = options.context;
    const own: ExtraWsHooks = typeof ws === 'object' && ws !== null ? ws : {};
    return {
      ...options,
      validationRules: [...(options.validationRules ?? []), ...apollo.validationRules],
      parseOptions: { ...options.parseOptions, ...apollo.parseOptions },
      allowBatchedHttpRequests: false,
      csrfPrevention: true,
      persistedQueries: this.persistedQueriesOption(),
      includeStacktraceInErrorResponses: false,
      hideSchemaDetailsFromClientErrors: apollo.hideSchemaDetailsFromClientErrors,
      // Guards (scopes, project ids in arguments) on field resolvers too, not only on root fields.
      fieldResolverEnhancers: [...new Set([...(options.fieldResolverEnhancers ?? []), 'guards' as const])],
      plugins: [...apollo.plugins, ...(options.plugins ?? [])],
      context:
        typeof context === 'function'
          ? (...args: unknown[]): unknown => {
              this.precheck(args[0]);
              return (context as (...a: unknown[]) => unknown)(...args);
            }
          : context,
      subscriptions: ws
        ? {
            ...options.subscriptions,
            'graphql-ws': { ...own, ...this.graphqlWsOptions(own) },
          }
        : options.subscriptions,
    };
  }

  private limitRules: readonly ValidationRule[] | undefined;
  private readonly prechecked = new PassedDocuments();
  /** Apollo's schema, handed over when its server starts (see apolloOptions). */
  private schema: GraphQLSchema | undefined;

  /**
   * Runs when Apollo builds the context of an HTTP request: after its CSRF check, before parsing and
   * validation. A document over a limit is refused here (400 QUERY_TOO_COMPLEX, thrown as a GraphQLError
   * that Apollo answers with its status) without going through graphql-js's full validation.
   */
  private precheck(first: unknown): void {
    const req = first as { body?: unknown; query?: unknown; extra?: unknown } | undefined;
    if (!req || typeof req !== 'object' || 'extra' in req) return; // graphql-ws: onSubscribe checks it
    if (this.trusted) {
      // Before the limits, parsing and admission: an untrusted document costs one hash, nothing more.
      const request = (typeof req.body === 'object' && req.body !== null ? req.body : req.query) as
        DocumentRequest | undefined;
      const refusal = this.trusted.check(request ?? {});
      if (refusal) throw refusal;
    }
    const fromBody = (req.body as { query?: unknown } | undefined)?.query;
    const fromQuery = (req.query as { query?: unknown } | undefined)?.query;
    const source =
      typeof fromBody === 'string' ? fromBody : typeof fromQuery === 'string' ? fromQuery : undefined;
    const schema = this.schema;
    // No schema yet: Apollo's own validation still applies the same limits.
    if (source === undefined || !schema) return;
    // A document that passed once passes again (same schema, same limits): hot queries skip the re-parse
    // and the armor's visit (about a tenth of a cached read's CPU).
    if (this.prechecked.has(source)) return;
    this.limitRules ??= graphqlLimitRules(this.config.auth.graphql);
    const [error] = precheckDocument(schema, source, this.config.auth.graphql, this.limitRules);
    if (error) {
      throw new GraphQLError(error.message, {
        extensions: { code: ErrorCode.QUERY_TOO_COMPLEX, http: { status: 400 } },
      });
    }
    this.prechecked.add(source);
  }

  apolloOptions() {
    const options = apolloSecurityOptions(this.config.auth.graphql);
    const schemaReceiver: ApolloServerPlugin<BaseContext> = {
      serverWillStart: async ({ schema }) => {
        this.schema = schema;
      },
    };
    return { ...options, plugins: [schemaReceiver, ...options.plugins] };
  }

  graphqlWsOptions(own: ExtraWsHooks = {}) {
    const limits = graphqlWsLimits(this.config.auth.graphql);
    return {
      validate: limits.validate,
      parse: limits.parse,
      // Sockets that never say who they are do not linger.
      connectionInitWaitTimeout: 3_000,
      onSubscribe: async (
        ctx: Ctx,
        id: string,
        payload: SubscribePayload,
      ): Promise<readonly GraphQLError[] | void> => {
        const refusal = this.trusted?.check(payload);
        if (refusal) return [refusal];
        return (
          limits.onSubscribe(ctx, id, payload) ??
          ((await own.onSubscribe?.(ctx, id, payload)) as readonly GraphQLError[] | void)
        );
      },
    };
  }

  /**
   * Bounds graphql-ws messages. Workaround: @nestjs/graphql creates its WebSocketServer without a
   * `maxPayload` (ws then accepts 100 MiB frames); `ws` reads the option at each upgrade, so setting it
   * on the created servers takes effect for every later connection. Oversized frames close with 1009.
   * A non-strict look-up: GraphQLModule exports neither itself nor its servers, and cannot be injected
   * here (this service configures it).
   */
  boundWebSocketPayload(): boolean {
    let servers: WebSocketServer[] = [];
    let graphqlModule: GraphQLModule;
    try {
      graphqlModule = this.moduleRef.get(GraphQLModule, { strict: false });
    } catch {
      return false; // No GraphQL in this application (unit tests of REST alone).
    }
    try {
      const adapter = graphqlModule.graphQlAdapter as unknown as {
        _subscriptionService?: { wss?: WebSocketServer; subTransWs?: WebSocketServer };
      };
      const service = adapter._subscriptionService;
      servers = [service?.wss, service?.subTransWs].filter((s): s is WebSocketServer => !!s);
      // Workaround: Nest always creates a server for the legacy subscriptions-transport-ws protocol and
      // routes its upgrades there even when that protocol is not configured; nothing would ever answer
      // (or authenticate) such a socket, so it would idle forever. Close those at once.
      const legacy = service?.subTransWs;
      if (legacy && legacy.listenerCount('connection') === 0) {
        legacy.on('connection', (socket: WebSocket) =>
          socket.close(4406, 'Subprotocol not acceptable: use graphql-transport-ws'),
        );
      }
    } catch {
      servers = [];
    }
    for (const server of servers) {
      server.options.maxPayload = this.config.auth.graphql.wsMaxPayloadBytes;
      server.on('connection', (socket: WebSocket) => this.logProtocolErrors(socket));
    }
    if (servers.length === 0)
      this.logger.warn('No graphql-ws server found: WebSocket message size is not bounded');
    return servers.length > 0;
  }

  /**
   * Workaround: graphql-ws answers every socket 'error' with `console.error` and a stack ("Internal error
   * emitted on a WebSocket socket. Please check your implementation"), outside the gateway's log. ws emits
   * one when a client breaks the protocol (a frame over GRAPHQL_WS_MAX_PAYLOAD_BYTES, a bad opcode, invalid
   * UTF-8: the `WS_ERR_*` codes), once it has closed the socket with the status that says why (1009, 1002,
   * 1007). That is the client's mistake, not the gateway's: one warning line in the gateway's own log.
   * Any other socket error still goes to graphql-ws, and is printed as before. Runs after graphql-ws's own
   * 'connection' listener, which the GraphQL module registered when it started.
   */
  private logProtocolErrors(socket: WebSocket): void {
    const theirs = socket.listeners('error') as ((error: Error) => void)[];
    if (theirs.length === 0) return;
    socket.removeAllListeners('error');
    socket.once('error', (error: Error & { code?: unknown }) => {
      if (typeof error.code === 'string' && error.code.startsWith('WS_ERR_')) {
        this.logger.warn(`graphql-ws: a client broke the WebSocket protocol and was cut: ${error.message}`);
        return;
      }
      for (const listener of theirs) listener.call(socket, error);
    });
  }
}
