import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ApolloServerPlugin, BaseContext, GraphQLRequest, GraphQLRequestListener } from '@apollo/server';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  execute,
  getVariableValues,
  GraphQLError,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Logger as Pino } from 'pino';
import { AuthGate } from '../../auth/auth-gate.service';
import { rawClientIp } from '../../auth/client-ip';
import { STALE_WARNING } from '../../common/http/stale-warning';
import { RequestContext, REQUEST_ID_HEADER, STALE_RESOURCES_HEADER } from '../../common/request-context';
import { APP_CONFIG, type AppConfig } from '../../config';
import secureJson from 'secure-json-parse';
import { readRawBody } from '../../common/http/raw-body';
import { releaseWaitersOf } from '../../hot-read/flight-release';
import { bodyReadAtFront, replayOf } from '../../hot-read/hot-read-cache';
import { cacheableFieldsOf, isWholeAnswerCacheable } from '../../hot-read/whole-answer.plugin';
import { PINO, requestCompletionLogger, type CompletedRequest } from '../../logging/logging.module';
import { graphqlOperationName } from '../../metrics/http-metrics.hook';
import { MetricsService } from '../../metrics/metrics.service';
import { apolloSecurityOptions } from '../../security/graphql-limits';
import { formatGraphqlError } from '../format-graphql-error';
import { httpGraphqlContext } from '../graphql-context';
import { AcceptanceInFlight, type ParkOutcome } from './acceptance-in-flight';
import { AcceptedDocuments, documentKey, type AcceptedDocument } from './accepted-documents';
import { jitMayExecute, laneMayServe } from './lane-operations';
import { schemaForJit } from './jit-schema';

/** Where Apollo serves GraphQL over HTTP (the one path: REST prefixes do not apply to it). */
const LANE_PATH = '/graphql';
/** What Apollo answers a single result as when the client accepts JSON. */
const JSON_UTF8 = 'application/json; charset=utf-8';
/** Request media types the lane reads itself (Fastify's JSON parser takes them all the same way). */
const JSON_REQUEST_TYPES = new Set(['application/json', 'application/json; charset=utf-8']);
/**
 * `Accept` values for which Apollo answers `application/json; charset=utf-8` (no header, or one that
 * names only JSON or anything); every other one is negotiated by Apollo.
 */
const JSON_ACCEPTS = new Set([undefined, '*/*', 'application/json']);
/** Members of a GraphQL-over-HTTP body the lane reads; any other member (extensions...) goes to Apollo. */
const BODY_MEMBERS = new Set(['query', 'variables', 'operationName']);
/** Bodies larger than this go to Apollo without being read. */
const MAX_LANE_BODY_BYTES = 64 * 1024;

/** The body the lane read and handed on: replayed to Fastify's parser. */
const LANE_BODY = Symbol('maia-gateway:graphql-lane-body');
type LaneRaw = IncomingMessage & { [LANE_BODY]?: Buffer };

interface LaneBody {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

/** The JSON body of a lane request when it has the plain shape; undefined sends it to Apollo. */
export function laneBodyOf(text: string): LaneBody | undefined {
  // Fastify refuses prototype keys (400) with the same parser and options, also when spelt with unicode
  // escapes; the lane leaves every such body to it.
  // The parser strips a byte-order mark; such a body is left to Apollo's path as it was.
  if (text.charCodeAt(0) === 0xfeff) return undefined;
  let body: unknown;
  try {
    body = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  for (const key of Object.keys(body)) if (!BODY_MEMBERS.has(key)) return undefined;
  const { query, variables, operationName } = body as Record<string, unknown>;
  if (typeof query !== 'string' || query === '') return undefined;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string')
    return undefined;
  if (
    variables !== undefined &&
    variables !== null &&
    (typeof variables !== 'object' || Array.isArray(variables))
  )
    return undefined;
  return body as LaneBody;
}

/**
 * Apollo's error normalization (`normalizeAndFormatErrors`, not exported by `@apollo/server`): the error as
 * a GraphQLError, its code defaulted, `extensions.http` taken out into the response head, then the
 * gateway's `formatError`; a formatter that throws gives Apollo's generic internal error.
 */
export function formatLikeApollo(
  errors: readonly GraphQLError[],
  head: Map<string, string>,
): GraphQLFormattedError[] {
  return errors.map((error) => {
    try {
      const extensions: Record<string, unknown> = {
        ...error.extensions,
        code: error.extensions.code ?? 'INTERNAL_SERVER_ERROR',
      };
      const http = extensions.http as { headers?: unknown } | undefined;
      if (http && typeof http === 'object') {
        if (http.headers instanceof Map) {
          for (const [name, value] of http.headers as Map<string, string>) head.set(name, value);
        }
        delete extensions.http;
      }
      return formatGraphqlError({ ...error.toJSON(), extensions }, error);
    } catch {
      return { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
  });
}

/**
 * The GraphQL query lane (docs/adr/0035-graphql-query-lane.md): a `POST /graphql` whose exact document (and
 * operation name) Apollo has already parsed, validated, checked against every limit and the trusted
 * documents, and let run as a query or mutation (ADR 0044) in this process is executed by the HTTP
 * server's request listener, ahead of Fastify and Apollo's request pipeline, with the same pieces they use:
 * `AuthGate` admits the caller (authentication, one rate-limit charge), graphql-js executes the same schema
 * with the same resolvers (Nest's guards or direct checks), the context has the shape the resolvers expect,
 * errors are formatted by `formatGraphqlError` as Apollo normalizes them, stale resources are named in
 * `extensions.stale` and the headers, and the request is counted and logged like every other. Anything
 * else, or anything the lane is unsure of (a refusal, variables that do not coerce, an unknown document,
 * another media type or `Accept`, extensions, a batch), goes to Fastify untouched before any resolver runs;
 * the admission outcome is on the request's `RequestContext`, so nothing is charged twice.
 */
@Injectable()
export class GraphqlQueryLane implements OnModuleInit {
  private readonly logger = new Logger('GraphqlQueryLane');
  private readonly accepted = new AcceptedDocuments(1_000);
  /** Documents whose first request is inside Apollo, and the requests parked behind it (ADR 0043). */
  private readonly inFlight: AcceptanceInFlight;
  private readonly clientIp: (request: IncomingMessage) => string;
  private readonly log: (done: CompletedRequest) => void;
  private readonly errorHooks: ApolloServerPlugin<BaseContext>[];
  private schema: GraphQLSchema | undefined;
  /** What graphql-jit compiles against (`schemaForJit` of Apollo's schema), made once per schema. */
  private jitSchema: GraphQLSchema | undefined;
  private cacheable: ReturnType<typeof cacheableFieldsOf> = new Set();
  private servedCount = 0;
  /** `GRAPHQL_QUERY_LANE`: documents are registered only when the lane is configured on. */
  private readonly configured: boolean;
  private readonly jit: boolean;
  /** Whether the lane serves requests now (tests turn it off and on to compare with Apollo's answers). */
  enabled: boolean;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(PINO) pino: Pino,
    private readonly gate: AuthGate,
    private readonly metrics: MetricsService,
    private readonly adapterHost: HttpAdapterHost,
  ) {
    this.configured = config.server.graphqlQueryLane;
    this.jit = config.server.graphqlQueryLaneExecutor === 'jit';
    this.enabled = this.configured;
    this.inFlight = new AcceptanceInFlight(config.server.graphqlQueryLanePark);
    metrics.setGraphqlLaneSource(() => ({ served: this.servedCount, parked: { ...this.inFlight.counts } }));
    this.clientIp = rawClientIp(config.server.trustProxy);
    this.log = requestCompletionLogger(pino, config);
    // The limits' plugins rewrite messages of every error Apollo meets (suggestions, token limits).
    this.errorHooks = apolloSecurityOptions(config.auth.graphql).plugins;
  }

  /**
   * graphql-jit's compiled query of a document, made once (null when graphql-jit cannot compile it, or may
   * not execute it as graphql-js would: then graphql-js executes it).
   */
  private compiledOf(
    schema: GraphQLSchema,
    entry: AcceptedDocument,
    operationName: string | null | undefined,
  ): CompiledQuery | null {
    if (entry.compiled === undefined && !jitMayExecute(schema, entry.document, entry.operation)) {
      // Where graphql-jit would answer or act otherwise than graphql-js (lane-operations.ts).
      entry.compiled = null;
    } else if (entry.compiled === undefined) {
      try {
        const compiled = compileQuery(schema, entry.document, operationName ?? undefined);
        entry.compiled = isCompiledQuery(compiled) ? compiled : null;
      } catch (error) {
        this.logger.warn(
          `graphql-jit could not compile a document, graphql-js executes it: ${String(error)}`,
        );
        entry.compiled = null;
      }
    }
    return entry.compiled;
  }

  /** Requests the lane answered itself since start. */
  get served(): number {
    return this.servedCount;
  }

  /** Requests parked now behind their document's first request inside Apollo (ADR 0043). */
  get parked(): number {
    return this.inFlight.parked;
  }

  /** Documents the lane may serve now. */
  get documents(): number {
    return this.accepted.size;
  }

  /**
   * The Apollo plugin that registers what Apollo accepted: it runs when execution starts, i.e. after
   * parsing, validation (the limits' rules), the trusted-documents check, and every `didResolveOperation`
   * hook (admission, subscriptions over HTTP) passed. Only POSTed queries and mutations given in full are
   * kept.
   */
  plugin(): ApolloServerPlugin<BaseContext> {
    const listener: GraphQLRequestListener<BaseContext> = {
      executionDidStart: async ({ request, document, operation, schema }) => {
        if (!this.configured || schema !== this.schema) return;
        if (request.http?.method !== 'POST' || typeof request.query !== 'string' || !document) return;
        // Queries and mutations (lane-operations.ts); a subscription never executes over HTTP.
        if (!laneMayServe(operation)) return;
        // The lane serves bodies of at most MAX_LANE_BODY_BYTES: a longer document would only take room
        // (Apollo's own store is bounded in bytes; this table in entries).
        if (request.query.length > MAX_LANE_BODY_BYTES) return;
        const key = documentKey(request.query, request.operationName);
        // Apollo keeps parsed documents: one it answers again (a declared read with the whole-answer cache
        // on) is registered already, and is not judged again.
        if (this.accepted.peek(key)?.document === document) return;
        this.accepted.add(key, {
          document,
          operation,
          wholeAnswerCacheable: isWholeAnswerCacheable(this.cacheable, schema, document, operation),
        });
      },
    };
    // Acceptance in flight (ADR 0043): once the registration above has run, the requests parked behind
    // this document's first request go on, through the lane if it registered the document, else to Fastify.
    const register = listener.executionDidStart;
    listener.executionDidStart = async (requestContext) => {
      await register?.(requestContext);
      this.settleInFlight(requestContext.request, requestContext.document);
    };
    return {
      serverWillStart: async ({ schema }) => {
        this.schema = schema;
        this.jitSchema = this.configured && this.jit ? schemaForJit(schema) : undefined;
        this.cacheable = cacheableFieldsOf(schema);
        this.accepted.clear();
      },
      requestDidStart: async () => listener,
    };
  }

  /**
   * Acceptance in flight (ADR 0043): a request's execution starts; the requests parked behind its
   * document's first request take the lane when the document is registered now, else go to Fastify.
   * Settled now (that request may well be answered before the next turn), resumed on the next turn.
   */
  private settleInFlight(request: GraphQLRequest, document: DocumentNode | undefined): void {
    // Only a POST can be a flight's first request (a GET of the same text says nothing of the POSTs).
    if (this.inFlight.size === 0 || request.http?.method !== 'POST' || typeof request.query !== 'string')
      return;
    const key = documentKey(request.query, request.operationName);
    const registered = document !== undefined && this.accepted.peek(key)?.document === document;
    if (registered) this.inFlight.accept(key);
    else this.inFlight.release(key);
  }

  /** Before Fastify is ready; inside the whole-answer front (HotReadModule imports this module). */
  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    const server = fastify?.server;
    const listeners = server?.listeners('request') ?? [];
    if (!fastify || !server || listeners.length !== 1) {
      this.logger.warn('The HTTP server has an unexpected request listener: the GraphQL query lane is off');
      this.enabled = false;
      return;
    }
    const next = listeners[0] as RequestListener;
    server.removeListener('request', next);
    server.on('request', (req: LaneRaw, res: ServerResponse) => this.front(req, res, next));
    fastify.addHook('preParsing', (request, _reply, payload, done) => {
      const read = (request.raw as LaneRaw)[LANE_BODY];
      done(null, read === undefined ? payload : replayOf(read));
    });
  }

  private front(req: LaneRaw, res: ServerResponse, next: RequestListener): void {
    if (
      req.method !== 'POST' ||
      req.url !== LANE_PATH ||
      !this.enabled ||
      !JSON_REQUEST_TYPES.has(req.headers['content-type'] ?? '') ||
      !JSON_ACCEPTS.has(req.headers.accept) ||
      req.headers['transfer-encoding'] !== undefined ||
      req.headers['content-encoding'] !== undefined
    ) {
      next(req, res);
      return;
    }
    const length = Number(req.headers['content-length']);
    if (!(length > 0 && length <= Math.min(MAX_LANE_BODY_BYTES, this.config.server.bodyLimitBytes))) {
      next(req, res);
      return;
    }
    // Timed from here, as Fastify times its requests from the moment its listener has them (its
    // `elapsedTime`, which its path counts and logs): the body's upload is part of the request's duration.
    const arrivedAt = performance.now();
    const readAtFront = bodyReadAtFront(req);
    if (readAtFront !== undefined) {
      this.take(req, res, next, readAtFront, true, arrivedAt);
      return;
    }
    if (req.readableEnded) {
      next(req, res);
      return;
    }
    readRawBody(req, res, (body) => {
      req[LANE_BODY] = body;
      if (body.length !== length) next(req, res);
      else this.take(req, res, next, body, false, arrivedAt);
    });
  }

  /** A read body: served when its document is one Apollo accepted; otherwise on to Fastify. */
  private take(
    req: LaneRaw,
    res: ServerResponse,
    next: RequestListener,
    raw: Buffer,
    wholeAnswerFront: boolean,
    arrivedAt: number,
    parked = false,
  ): void {
    const body = laneBodyOf(raw.toString('utf8'));
    const key = body && documentKey(body.query, body.operationName);
    const entry = key === undefined ? undefined : this.accepted.get(key);
    if (key !== undefined && entry === undefined && !parked) {
      // Acceptance in flight (ADR 0043): behind the document's first request inside Apollo, wait for its
      // acceptance; with none there, this request is that first one.
      // Resumed from Apollo's hook: on the next turn, so Apollo's own request goes on first. A request
      // whose client went away while it waited is dropped, neither executed nor charged (`abandoned`; as
      // the whole-answer front's waiters): a launch nobody would read is not made.
      const resume = (outcome: ParkOutcome) => {
        if (outcome === 'abandoned') return;
        setImmediate(() => {
          // Gone within that turn: dropped too (counted under the outcome it was resumed with).
          if (res.destroyed) return;
          if (outcome === 'accepted') this.take(req, res, next, raw, wholeAnswerFront, arrivedAt, true);
          else next(req, res);
        });
      };
      if (this.inFlight.park(key, resume, () => res.destroyed)) return;
      const end = this.inFlight.lead(key);
      if (end && res.destroyed) end();
      else if (end) res.once('close', end);
    }
    // With the whole-answer cache on, its declared reads go to Apollo, whose answers it keeps.
    if (!body || !entry || (wholeAnswerFront && entry.wholeAnswerCacheable)) {
      next(req, res);
      return;
    }
    const ctx = RequestContext.of(req);
    // Identical requests the whole-answer front holds behind this one (ADR 0037) wait for an answer it
    // would keep; the lane's answers are not kept, so they go their own way now rather than at its end.
    releaseWaitersOf(ctx);
    const state = { executed: false };
    RequestContext.run(ctx, () => this.serve(req, res, next, body, entry, ctx, raw, state, arrivedAt)).catch(
      (error: unknown) => {
        this.logger.error(`GraphQL query lane failed: ${String(error)}`);
        if (res.headersSent) return;
        // Before execution Apollo can still answer it; after, running it again is not an option.
        if (state.executed) res.destroy();
        else next(req, res);
      },
    );
  }

  private async serve(
    req: LaneRaw,
    res: ServerResponse,
    next: RequestListener,
    body: LaneBody,
    entry: AcceptedDocument,
    ctx: RequestContext,
    raw: Buffer,
    state: { executed: boolean },
    arrivedAt: number,
  ): Promise<void> {
    const schema = this.schema;
    if (!schema) {
      next(req, res);
      return;
    }
    try {
      const admitted = this.gate.admit(ctx, req.headers, () => this.clientIp(req));
      if (admitted instanceof Promise) await admitted;
    } catch {
      // Refused: Apollo answers the refusal recorded on the context (charged once).
      next(req, res);
      return;
    }
    const variables = body.variables ?? undefined;
    if (entry.operation.variableDefinitions?.length) {
      const coerced = getVariableValues(schema, entry.operation.variableDefinitions, variables ?? {}, {
        maxErrors: 50,
      });
      // Variable errors are Apollo's to answer; nothing has run yet.
      if (coerced.errors) {
        next(req, res);
        return;
      }
    }
    const fastifyLike = laneRequest(req, raw, body, ctx, this.clientIp);
    const compiled = this.jitSchema ? this.compiledOf(this.jitSchema, entry, body.operationName) : null;
    state.executed = true;
    const contextValue = httpGraphqlContext(fastifyLike, undefined);
    const result = compiled
      ? jitResult(await compiled.query(undefined, contextValue, variables))
      : await execute({
          schema,
          document: entry.document,
          contextValue,
          variableValues: variables,
          operationName: body.operationName,
        });
    const head = new Map<string, string>();
    let errors: GraphQLFormattedError[] | undefined;
    if (result.errors) {
      const requestContext = { errors: result.errors } as never;
      for (const plugin of this.errorHooks) {
        const listener = await plugin.requestDidStart?.(requestContext);
        await listener?.didEncounterErrors?.(requestContext);
      }
      errors = formatLikeApollo(result.errors, head);
    }
    let extensions = result.extensions;
    const stale = ctx.staleResources;
    if (stale.size > 0) extensions = { ...(extensions ?? {}), stale: [...stale].sort() };
    const text = `${JSON.stringify({ errors, data: result.data, extensions })}\n`;
    const headers: Record<string, string | number> = {};
    for (const [name, value] of head) headers[name] = value;
    headers['content-type'] = JSON_UTF8;
    headers[REQUEST_ID_HEADER] = ctx.requestId;
    headers['content-length'] = Buffer.byteLength(text);
    if (stale.size > 0) {
      headers[STALE_RESOURCES_HEADER] = [...stale].sort().join(', ');
      headers.warning = STALE_WARNING;
    }
    // With `data` in the result the answer is 200 (Nest's preserve-status plugin), whatever the errors say.
    res.writeHead(200, headers);
    res.end(text);
    this.servedCount++;
    const elapsedMs = performance.now() - arrivedAt;
    // The document's text and operation name (its key) determine the name: not matched per request.
    const operationName = (entry.metricName ??= graphqlOperationName(body, {}));
    this.metrics.recordHttpRequest('graphql', operationName, 'POST', 200, elapsedMs);
    this.log({
      requestId: ctx.requestId,
      method: 'POST',
      url: req.url ?? LANE_PATH,
      headers: req.headers,
      statusCode: 200,
      elapsedMs,
    });
  }
}

/**
 * graphql-jit's result with graphql-js errors (ADR 0025): its errors are its own `GraphQLError` subclass,
 * `extensions` undefined when the cause has none; rebuilt with the same message, nodes, path and cause.
 */
function jitResult(result: ExecutionResult): ExecutionResult {
  if (!result.errors) return result;
  const errors = result.errors.map((error) => {
    const rebuilt = new GraphQLError(error.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: error.originalError,
      extensions: error.extensions ?? undefined,
    });
    // graphql-jit gives the locations without the nodes they come from.
    if (rebuilt.locations === undefined && error.locations !== undefined)
      (rebuilt as { locations?: GraphQLError['locations'] }).locations = error.locations;
    return rebuilt;
  });
  return { ...result, errors };
}

/**
 * What resolvers and guards read of the Fastify request in a GraphQL context (`req`): the raw request,
 * its headers, socket, body and context, and the client IP by the same proxy rules.
 */
function laneRequest(
  raw: IncomingMessage,
  payload: Buffer,
  body: LaneBody,
  ctx: RequestContext,
  clientIp: (request: IncomingMessage) => string,
): FastifyRequest {
  return new LaneRequest(raw, payload, body, ctx, clientIp) as unknown as FastifyRequest;
}

/** `laneRequest`'s object: its getters on the prototype (an object literal with getters is built slowly). */
class LaneRequest {
  readonly headers: IncomingMessage['headers'];
  readonly socket: IncomingMessage['socket'];
  readonly method = 'POST';
  readonly url: string | undefined;
  readonly query = {};
  private clientIpOf: string | undefined;

  constructor(
    readonly raw: IncomingMessage,
    private readonly payload: Buffer,
    readonly body: LaneBody,
    readonly requestContext: RequestContext,
    private readonly clientIp: (request: IncomingMessage) => string,
  ) {
    this.headers = raw.headers;
    this.socket = raw.socket;
    this.url = raw.url;
  }

  get ip(): string {
    return (this.clientIpOf ??= this.clientIp(this.raw));
  }

  get rawBody(): Buffer {
    return this.payload;
  }
}
