import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import {
  getNamedType,
  Kind,
  OperationTypeNode,
  parse,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { rememberAuthState } from '../auth/auth-state';
import type { Principal } from '../auth/principal';
import {
  RequestContext,
  REQUEST_ID_HEADER,
  requestIdFrom as requestIdFromHeader,
} from '../common/request-context';

/**
 * The hot-read cache: whole answers of reads that are built only from cached Maia lookups (projects,
 * environments, published pipelines), kept for about a second per caller and served straight from the
 * Node HTTP server's request handler (a Fastify `serverFactory`), before Fastify routes, parses or runs a
 * hook, and before Nest's router, guards and pipes, Apollo and graphql-js run at all.
 *
 * Why: a cached lookup answered through the whole stack costs ~0.2 ms (REST) to ~0.45 ms (GraphQL) of
 * CPU, and even answered from a Fastify hook ~0.04 ms (REST) to ~0.16 ms (GraphQL: body parsing, hooks),
 * nearly all of it framework work repeated for an identical answer (bench/RESULTS.md). Dashboards poll
 * exactly such reads.
 *
 * What keeps it correct:
 * - Per caller: the key holds the caller's identity and rights (principal kind, id, scopes, projects), and
 *   every request is authenticated and charged to its rate limit before the lookup, so an answer built
 *   for one caller never reaches another, and a revoked or expired credential is refused as before (any
 *   refusal takes the normal path, which answers it exactly as without this cache).
 * - Only reads of cached lookups: REST GET of the three lookup lists; GraphQL `query` operations whose
 *   every field (checked against the schema, fragments included) belongs to an allow-list of lookup types.
 *   Executions are never cached, so no field of theirs is allowed.
 * - Only clean answers: status 200, no GraphQL `errors`, nothing answered from a stale entry.
 * - Fresh: kept at most `ttlMs` (the lookups themselves are cached for tens of seconds), and dropped at
 *   once when the lookup cache is invalidated (any replica: the cache service's pub/sub reaches us).
 * - Bounded: entries, request and answer sizes are capped; a miss costs one map lookup.
 * - CSRF: only `application/json` POSTs (never a simple request), as Apollo itself requires.
 * - Observable like any request: a hit carries its request id (`x-request-id`), is counted in the HTTP
 *   metrics under the route or operation of the answer it repeats, and writes the same completion log line.
 * - Nothing lost on a miss: the request goes on to Fastify with the request context, the authentication
 *   and rate-limit charge already done (not repeated), and the GraphQL body it read (replayed to Fastify's
 *   parser by a `preParsing` hook).
 */

export interface HotReadCacheOptions {
  /** How long an answer is served again; 0 turns the cache off. */
  ttlMs: number;
  maxEntries?: number;
  /** Answers larger than this are not kept. */
  maxBodyBytes?: number;
  /** GraphQL requests larger than this go the normal way without being looked at. */
  maxRequestBytes?: number;
  graphqlPath?: string;
}

/** The metric labels of the request an answer was built for; its repeats are counted under the same. */
export interface HotReadLabels {
  transport: 'graphql' | 'rest' | 'other';
  route: string;
}

/** A request answered from memory, for the metrics and the completion log line. */
export interface HotReadServed {
  requestId: string;
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  statusCode: number;
  elapsedMs: number;
  labels: HotReadLabels;
}

/** What the front needs from the application, attached once Nest has built it. */
export interface HotReadDeps {
  /**
   * Authenticates without charging the rate limit: the principal, or undefined when only `authenticate`
   * can tell (a JWT to verify); throws on bad credentials.
   */
  authenticateNow(headers: IncomingMessage['headers']): Principal | undefined;
  authenticate(headers: IncomingMessage['headers']): Promise<Principal>;
  /** Charges one request to the caller's rate limit (rejects RATE_LIMITED); undefined when limits are off. */
  charge(principal: Principal, request: IncomingMessage): Promise<void> | undefined;
  schema(): GraphQLSchema | undefined;
  /** The metric labels of a request answered the normal way. */
  labelsOf(request: FastifyRequest): HotReadLabels;
  /** Records a request answered from memory (metrics, log line). */
  served(hit: HotReadServed): void;
}

export interface HotReadStats {
  hits: number;
  misses: number;
  entries: number;
}

interface Entry {
  body: Buffer;
  headers: Record<string, string | number>;
  labels: HotReadLabels;
  expiresAtMs: number;
}

/** What the front leaves on a raw request it did not answer: the key to store the answer under, the body it read. */
interface Pending {
  key: string | undefined;
  body: Buffer | undefined;
}

/** Fields of each type that only read cached lookups; `*`: every field. `__typename` is always fine. */
const CACHEABLE_FIELDS: Readonly<Record<string, '*' | readonly string[]>> = {
  Query: ['projects', 'project'],
  ProjectPage: '*',
  Project: ['id', 'name', 'description', 'environments', 'environment', 'publishedPipelines'],
  EnvironmentPage: '*',
  Environment: ['name', 'projectId', 'defaultAgent', 'publishedPipelines'],
  Agent: '*',
  PublishedPipelinePage: '*',
  PublishedPipeline: '*',
};

/** REST lookups (GET): the project list, a project's environments, its published pipelines. */
const CACHEABLE_REST = /^\/api\/v1\/projects(\/[^/?]+\/(environments|published-pipelines))?\/?(\?|$)/;

/**
 * The body the front read, as the stream Fastify's parser expects (with the byte count its body limit
 * checks). A plain one-chunk Readable: `Readable.from` would drive an iterator through promises.
 */
function replayOf(body: Buffer): Readable & { receivedEncodedLength: number } {
  const replay = new Readable({
    read() {
      this.push(body);
      this.push(null);
    },
  }) as Readable & { receivedEncodedLength: number };
  replay.receivedEncodedLength = body.length;
  return replay;
}

interface ServerTimeouts {
  keepAliveTimeout?: number;
  requestTimeout?: number;
  connectionTimeout?: number;
  maxRequestsPerSocket?: number;
}

const PENDING = Symbol('maia-gateway:hot-read');
type RawRequest = IncomingMessage & { [PENDING]?: Pending };

/** Is this GraphQL document a query over cached lookups only? Remembered per (source, operation name). */
export function isCacheableQuery(schema: GraphQLSchema, source: string, operationName?: string): boolean {
  let document;
  try {
    document = parse(source, { maxTokens: 2_000 });
  } catch {
    return false;
  }
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const operation =
    operationName === undefined
      ? operations.length === 1
        ? operations[0]
        : undefined
      : operations.find((o) => o.name?.value === operationName);
  if (!operation || operation.operation !== OperationTypeNode.QUERY) return false;
  const typeInfo = new TypeInfo(schema);
  let cacheable = true;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        if (node.name.value === '__typename') return;
        const parent = typeInfo.getParentType();
        const allowed = parent ? CACHEABLE_FIELDS[getNamedType(parent).name] : undefined;
        if (!allowed || (allowed !== '*' && !allowed.includes(node.name.value))) cacheable = false;
      },
    }),
  );
  return cacheable;
}

// Principals are long-lived objects (one per API key; JWT principals per verified token): key them once.
const principalKeys = new WeakMap<Principal, string>();

function principalKey(p: Principal): string {
  const known = principalKeys.get(p);
  if (known !== undefined) return known;
  const key = principalKeyOf(p);
  principalKeys.set(p, key);
  return key;
}

function principalKeyOf(p: Principal): string {
  const projects = p.projects === '*' ? '*' : [...p.projects].sort().join(',');
  return `${p.kind}\u0000${p.id}\u0000${[...p.scopes].sort().join(',')}\u0000${projects}`;
}

export class HotReadCache {
  private readonly entries = new Map<string, Entry>();
  private readonly cacheableDocuments = new Map<string, boolean>();
  private readonly maxEntries: number;
  private readonly maxBodyBytes: number;
  private readonly maxRequestBytes: number;
  private readonly graphqlPath: string;
  private deps: HotReadDeps | undefined;
  /** Cacheable reads answered from memory, and those that went the normal way (then remembered). */
  private hits = 0;
  private misses = 0;

  constructor(private readonly options: HotReadCacheOptions) {
    this.maxEntries = options.maxEntries ?? 1_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
    this.maxRequestBytes = options.maxRequestBytes ?? 16 * 1024;
    this.graphqlPath = options.graphqlPath ?? '/graphql';
  }

  get enabled(): boolean {
    return this.options.ttlMs > 0;
  }

  /** Cumulative counts for metrics. */
  stats(): HotReadStats {
    return { hits: this.hits, misses: this.misses, entries: this.entries.size };
  }

  attach(deps: HotReadDeps): void {
    this.deps = deps;
  }

  /** Drops every answer (the lookup cache was invalidated somewhere). */
  clear(): void {
    this.entries.clear();
  }

  /**
   * Fastify's `serverFactory`: the HTTP server Fastify would create (same timeouts), whose request handler
   * looks in this cache before handing the request to Fastify. Undefined when the cache is off.
   */
  serverFactory(): FastifyServerOptions['serverFactory'] {
    if (!this.enabled) return undefined;
    return (fastifyHandler, fastifyOptions) => {
      const server: Server = createServer((req, res) => this.front(req, res, fastifyHandler));
      // What Fastify does to the server it creates itself (lib/server.js), with its defaults filled in.
      const options = fastifyOptions as ServerTimeouts;
      server.keepAliveTimeout = options.keepAliveTimeout ?? 72_000;
      server.requestTimeout = options.requestTimeout ?? 0;
      server.setTimeout(options.connectionTimeout ?? 0);
      const maxRequests = options.maxRequestsPerSocket ?? 0;
      if (maxRequests > 0) server.maxRequestsPerSocket = maxRequests;
      return server;
    };
  }

  /**
   * The Fastify side: replays a GraphQL body the front read, and keeps the answers of the reads it could not
   * serve. Install before Nest registers its routes.
   */
  install(fastify: FastifyInstance): void {
    if (!this.enabled) return;
    fastify.addHook('preParsing', (request, _reply, payload, done) => {
      const body = (request.raw as RawRequest)[PENDING]?.body;
      if (body === undefined) {
        done(null, payload);
        return;
      }
      done(null, replayOf(body));
    });
    fastify.addHook('onSend', (request, reply, payload, done) => {
      this.keep(request, reply, payload);
      done(null, payload);
    });
  }

  /** The server's request handler: a cacheable read is looked up; everything else goes straight on. */
  private front(req: RawRequest, res: ServerResponse, next: RequestListener): void {
    const deps = this.deps;
    if (!deps) {
      next(req, res);
      return;
    }
    const accept = req.headers.accept ?? '';
    if (req.method === 'GET') {
      const url = req.url ?? '';
      if (!CACHEABLE_REST.test(url)) next(req, res);
      else this.lookUp(deps, req, res, next, `GET\u0000${url}\u0000${accept}`, undefined);
      return;
    }
    const length = Number(req.headers['content-length']);
    if (
      req.method !== 'POST' ||
      req.url !== this.graphqlPath ||
      !(req.headers['content-type'] ?? '').startsWith('application/json') ||
      !(length > 0 && length <= this.maxRequestBytes)
    ) {
      next(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      this.lookUp(deps, req, res, next, `POST\u0000${body.toString('latin1')}\u0000${accept}`, body);
    });
    // A client gone mid-body: there is nobody to answer.
    req.once('error', () => res.destroy());
  }

  /** Within the request's own context (Fastify takes it over on a miss: the request id is chosen once). */
  private lookUp(
    deps: HotReadDeps,
    req: RawRequest,
    res: ServerResponse,
    next: RequestListener,
    requestKey: string,
    body: Buffer | undefined,
  ): void {
    const ctx = new RequestContext(requestIdFromHeader(req.headers[REQUEST_ID_HEADER]));
    RequestContext.preset(req, ctx);
    req[PENDING] = { key: undefined, body };
    let handedOver = false;
    const handOver = (): void => {
      if (handedOver) return;
      handedOver = true;
      next(req, res);
    };
    // Refused (bad credentials, over the limit) or failing: the normal path answers exactly as without
    // this cache. Synchronous unless a JWT must be verified or Redis counts the rate limit.
    const refused = (): void => {
      if (!res.headersSent) handOver();
    };
    const startedAt = performance.now();
    const answer = (principal: Principal): void => {
      try {
        this.answer(deps, req, res, handOver, requestKey, ctx, principal, startedAt);
      } catch {
        refused();
      }
    };
    const charge = (principal: Principal): void => {
      try {
        const charging = deps.charge(principal, req);
        if (charging === undefined) answer(principal);
        else charging.then(() => answer(principal), refused);
      } catch {
        refused();
      }
    };
    RequestContext.run(ctx, () => {
      try {
        const principal = deps.authenticateNow(req.headers);
        if (principal) charge(principal);
        else deps.authenticate(req.headers).then(charge, refused);
      } catch {
        refused();
      }
    });
  }

  private answer(
    deps: HotReadDeps,
    req: RawRequest,
    res: ServerResponse,
    next: () => void,
    requestKey: string,
    ctx: RequestContext,
    principal: Principal,
    startedAt: number,
  ): void {
    ctx.principal = principal;
    const key = `${principalKey(principal)}\u0000${requestKey}`;
    const entry = this.entries.get(key);
    if (entry && entry.expiresAtMs > Date.now()) {
      this.hits++;
      res.writeHead(200, { [REQUEST_ID_HEADER]: ctx.requestId, ...entry.headers });
      res.end(entry.body);
      deps.served({
        requestId: ctx.requestId,
        method: req.method ?? 'GET',
        url: req.url ?? '',
        headers: req.headers,
        statusCode: 200,
        elapsedMs: performance.now() - startedAt,
        labels: entry.labels,
      });
      return;
    }
    if (entry) this.entries.delete(key);
    // Charged once: the guard and the GraphQL plugin find this state and neither authenticate nor charge again.
    rememberAuthState({ principal, rateLimited: true, transport: 'http' }, req);
    // Whether a GraphQL body is a cacheable read is decided once Fastify has parsed it (see keep).
    const pending = req[PENDING];
    if (pending) pending.key = key;
    next();
  }

  /** Is this parsed GraphQL request body a query over cached lookups only? Documents are remembered. */
  private isCacheableBody(deps: HotReadDeps, body: unknown): boolean {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
    const { query, operationName } = body as { query?: unknown; operationName?: unknown };
    if (typeof query !== 'string') return false;
    const name = typeof operationName === 'string' ? operationName : undefined;
    const schema = deps.schema();
    if (!schema) return false;
    const documentKey = `${name ?? ''}\u0000${query}`;
    let cacheable = this.cacheableDocuments.get(documentKey);
    if (cacheable === undefined) {
      cacheable = isCacheableQuery(schema, query, name);
      if (this.cacheableDocuments.size >= this.maxEntries) this.cacheableDocuments.clear();
      this.cacheableDocuments.set(documentKey, cacheable);
    }
    return cacheable;
  }

  /** onSend: keeps a clean answer of a cacheable read the front could not serve. */
  private keep(request: FastifyRequest, reply: FastifyReply, payload: unknown): void {
    const pending = (request.raw as RawRequest)[PENDING];
    const key = pending?.key;
    const deps = this.deps;
    if (!pending || key === undefined || !deps) return;
    pending.key = undefined;
    if (request.method === 'POST' && !this.isCacheableBody(deps, request.body)) return;
    this.misses++;
    if (reply.statusCode !== 200 || typeof payload !== 'string' || payload.length > this.maxBodyBytes) return;
    if ((request.requestContext?.staleResources.size ?? 0) > 0) return;
    // A false positive (a name containing the text) only means not caching.
    if (request.method === 'POST' && payload.includes('"errors"')) return;
    const contentType = reply.getHeader('content-type');
    if (typeof contentType !== 'string') return;
    const body = Buffer.from(payload, 'utf8');
    const headers: Entry['headers'] = { 'content-type': contentType, 'content-length': body.length };
    const cacheControl = reply.getHeader('cache-control');
    if (typeof cacheControl === 'string') headers['cache-control'] = cacheControl;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, {
      body,
      headers,
      labels: deps.labelsOf(request),
      expiresAtMs: Date.now() + this.options.ttlMs,
    });
  }
}
