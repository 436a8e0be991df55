import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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
import { clientIpOf } from '../auth/client-ip';
import type { Principal } from '../auth/principal';

/**
 * The hot-read cache: whole answers of reads that are built only from cached Maia lookups (projects,
 * environments, published pipelines), kept for about a second per caller and served from a Fastify
 * preHandler, before Nest's router, guards and pipes, Apollo and graphql-js run at all.
 *
 * Why: a cached lookup answered through the whole stack costs ~0.2 ms (REST) to ~0.45 ms (GraphQL) of
 * CPU, nearly all of it framework work repeated for an identical answer (bench/RESULTS.md). Dashboards
 * poll exactly such reads.
 *
 * What keeps it correct:
 * - Per caller: the key holds the caller's identity and rights (principal kind, id, scopes, projects), and
 *   every request is authenticated and charged to its rate limit before the lookup, so an answer built
 *   for one caller never reaches another, and a revoked or expired credential is refused as before.
 * - Only reads of cached lookups: REST GET of the three lookup lists; GraphQL `query` operations whose
 *   every field (checked against the schema, fragments included) belongs to an allow-list of lookup types.
 *   Executions are never cached, so no field of theirs is allowed.
 * - Only clean answers: status 200, no GraphQL `errors`, nothing answered from a stale entry.
 * - Fresh: kept at most `ttlMs` (the lookups themselves are cached for tens of seconds), and dropped at
 *   once when the lookup cache is invalidated (any replica: the cache service's pub/sub reaches us).
 * - Bounded: entries and body size are capped; a miss costs one map lookup.
 * - CSRF: only `application/json` POSTs (never a simple request), as Apollo itself requires.
 */

export interface HotReadCacheOptions {
  /** How long an answer is served again; 0 turns the cache off. */
  ttlMs: number;
  maxEntries?: number;
  maxBodyBytes?: number;
  graphqlPath?: string;
}

/** What the hooks need from the application, attached once Nest has built it. */
export interface HotReadDeps {
  /** Authenticates without charging the rate limit (throws on bad credentials). */
  authenticate(headers: FastifyRequest['headers']): Promise<Principal>;
  /** Charges one request to the caller's rate limit (throws RATE_LIMITED). */
  charge(principal: Principal, ip: string): Promise<void>;
  schema(): GraphQLSchema | undefined;
}

export interface HotReadStats {
  hits: number;
  misses: number;
  entries: number;
}

interface Entry {
  body: string;
  contentType: string;
  cacheControl: string | undefined;
  expiresAtMs: number;
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

const HOT_KEY = Symbol('maia-gateway:hot-read-key');
type Marked = FastifyRequest & { [HOT_KEY]?: string };

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
  private readonly graphqlPath: string;
  private deps: HotReadDeps | undefined;
  /** Cacheable reads answered from memory, and those that went the normal way (then remembered). */
  private hits = 0;
  private misses = 0;

  constructor(private readonly options: HotReadCacheOptions) {
    this.maxEntries = options.maxEntries ?? 1_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
    this.graphqlPath = options.graphqlPath ?? '/graphql';
  }

  get enabled(): boolean {
    return this.options.ttlMs > 0;
  }

  get size(): number {
    return this.entries.size;
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
   * The hooks. Install them on the Fastify instance before Nest registers its routes and after the request
   * context's own, so the preHandler runs inside the request's context.
   */
  install(fastify: FastifyInstance): void {
    if (!this.enabled) return;
    // Async hooks that answer must return the reply (Fastify then skips the handler).
    fastify.addHook('preHandler', (request, reply) => this.beforeHandler(request, reply));
    fastify.addHook('onSend', async (request, reply, payload) => {
      this.afterHandler(request, reply, payload);
      return payload;
    });
  }

  /** The request's key, or undefined when it is not a cacheable read. */
  private requestKey(request: FastifyRequest): string | undefined {
    const accept = request.headers.accept ?? '';
    if (request.method === 'GET') {
      return CACHEABLE_REST.test(request.url) ? `GET\u0000${request.url}\u0000${accept}` : undefined;
    }
    if (request.method !== 'POST' || request.url !== this.graphqlPath) return undefined;
    const contentType = request.headers['content-type'] ?? '';
    if (!contentType.startsWith('application/json')) return undefined;
    const body = request.body as { query?: unknown; operationName?: unknown; variables?: unknown } | null;
    if (!body || typeof body.query !== 'string' || Array.isArray(body)) return undefined;
    const operationName = typeof body.operationName === 'string' ? body.operationName : undefined;
    const schema = this.deps?.schema();
    if (!schema) return undefined;
    const documentKey = `${operationName ?? ''}\u0000${body.query}`;
    let cacheable = this.cacheableDocuments.get(documentKey);
    if (cacheable === undefined) {
      cacheable = isCacheableQuery(schema, body.query, operationName);
      if (this.cacheableDocuments.size >= this.maxEntries) this.cacheableDocuments.clear();
      this.cacheableDocuments.set(documentKey, cacheable);
    }
    if (!cacheable) return undefined;
    return `POST\u0000${documentKey}\u0000${JSON.stringify(body.variables ?? null)}\u0000${accept}`;
  }

  private async beforeHandler(
    request: Marked & FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> {
    const deps = this.deps;
    if (!deps) return undefined;
    const requestKey = this.requestKey(request);
    if (requestKey === undefined) return undefined;
    let principal: Principal;
    try {
      principal = await deps.authenticate(request.headers);
    } catch {
      return undefined; // the normal path refuses it (and charges the failed attempt) exactly as before
    }
    const ip = clientIpOf(request);
    try {
      await deps.charge(principal, ip);
    } catch {
      return undefined; // over its limit: the normal path answers 429 / RATE_LIMITED
    }
    const ctx = request.requestContext;
    if (ctx && !ctx.principal) ctx.principal = principal;
    const key = `${principalKey(principal)}\u0000${requestKey}`;
    const entry = this.entries.get(key);
    if (entry && entry.expiresAtMs > Date.now()) {
      this.hits++;
      void reply.header('content-type', entry.contentType);
      if (entry.cacheControl) void reply.header('cache-control', entry.cacheControl);
      return reply.send(entry.body);
    }
    if (entry) this.entries.delete(key);
    this.misses++;
    // Charged once: the guard and the GraphQL plugin find this state and neither authenticate nor charge again.
    rememberAuthState({ principal, rateLimited: true, transport: 'http' }, request, request.raw);
    request[HOT_KEY] = key;
    return undefined;
  }

  private afterHandler(request: Marked, reply: FastifyReply, payload: unknown): void {
    const key = request[HOT_KEY];
    if (key === undefined) return;
    request[HOT_KEY] = undefined;
    if (reply.statusCode !== 200 || typeof payload !== 'string' || payload.length > this.maxBodyBytes) return;
    if ((request.requestContext?.staleResources?.size ?? 0) > 0) return;
    // A false positive (a name containing the text) only means not caching.
    if (request.method === 'POST' && payload.includes('"errors"')) return;
    const contentType = reply.getHeader('content-type');
    if (typeof contentType !== 'string') return;
    const cacheControl = reply.getHeader('cache-control');
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, {
      body: payload,
      contentType,
      cacheControl: typeof cacheControl === 'string' ? cacheControl : undefined,
      expiresAtMs: Date.now() + this.options.ttlMs,
    });
  }
}
