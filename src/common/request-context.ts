import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/**
 * Who is calling. The auth layer fills it in and owns its shape: it may add members by declaration merging
 * (`declare module '.../common/request-context' { interface RequestPrincipal { scopes: ... } }`).
 * `id` is the stable identity (API key name, JWT subject) that scopes per-caller state such as
 * idempotency keys.
 */
export interface RequestPrincipal {
  readonly id: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** What `staleResources` reads while a request has no stale mark (read-only: marks go through `markStale`). */
const NO_STALE_RESOURCES: ReadonlySet<string> = new Set<string>();

/** Request ids accepted from callers: short and free of anything a log line or header could trip on. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The caller's `x-request-id` when it is a sane token, else a fresh UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const candidate = Array.isArray(header) ? header[0] : header;
  return candidate !== undefined && SANE_REQUEST_ID.test(candidate) ? candidate : randomUUID();
}

/**
 * Per-request facts deep layers need without threading them through every signature: the request id,
 * the caller, and the cached resources answered stale. One per HTTP request and one per graphql-ws
 * connection (`RequestContext.of`); the caller is kept here and nowhere else (see ADR 0012).
 */
export class RequestContext {
  /** Made on the first stale mark: most requests have none, and a Set per request was garbage. */
  private stale?: Set<string>;
  /** Set once by the edge's admission; undefined before it and on public routes. */
  principal?: RequestPrincipal;
  /** Why the edge refused the caller: later stages answer this refusal instead of deciding again. */
  refusal?: Error;
  /**
   * Set by the GraphQL edge for an operation declared whole-answer cacheable: whether its execution result
   * was free of errors. Undefined for every other operation.
   */
  wholeAnswer?: { clean: boolean };

  constructor(
    readonly requestId: string = randomUUID(),
    readonly startedAtMs: number = Date.now(),
  ) {}

  /** The context of a raw request (or WebSocket upgrade request), made on first use: one request, one id. */
  static of(raw: IncomingMessage): RequestContext {
    return (raw.requestContext ??= new RequestContext(requestIdFrom(raw.headers[REQUEST_ID_HEADER])));
  }

  /** The cached resources answered stale in this request (`markStale` records them). */
  get staleResources(): ReadonlySet<string> {
    return this.stale ?? NO_STALE_RESOURCES;
  }

  /** Records that `resource` was answered from a stale cache entry in this request. */
  markStale(resource: string): void {
    (this.stale ??= new Set()).add(resource);
  }

  /** Runs `fn` (and everything it awaits or schedules) with `ctx` as the current context. */
  static run<T>(ctx: RequestContext, fn: () => T): T {
    return storage.run(ctx, fn);
  }

  /** The context of the request being served, or undefined outside one (startup, pollers, tests). */
  static current(): RequestContext | undefined {
    return storage.getStore();
  }

  /** `current()?.markStale(resource)`: a no-op outside a request. */
  static markStale(resource: string): void {
    storage.getStore()?.markStale(resource);
  }
}

/** Response header naming the resources answered from stale cache entries (comma-separated). */
export const STALE_RESOURCES_HEADER = 'x-cache-stale';
export const REQUEST_ID_HEADER = 'x-request-id';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's context (the same object as `raw.requestContext`); `RequestContext.current()` inside handlers. */
    requestContext?: RequestContext;
  }
}

declare module 'http' {
  interface IncomingMessage {
    /** See `RequestContext.of`. */
    requestContext?: RequestContext;
  }
}

/**
 * Gives every HTTP request of a Fastify instance its `RequestContext` (install before Nest registers
 * routes), echoes the request id and names stale resources in `x-cache-stale`. The context is entered with
 * `run()` (never `enterWith`, which leaks into unrelated work) and again after body parsing and before
 * the handler, in case a stream-driven parser resumes outside the store.
 */
export function installRequestContext(fastify: FastifyInstance): void {
  const enter = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const ctx = request.requestContext;
    if (ctx) storage.run(ctx, done);
    else done();
  };
  fastify.addHook('onRequest', (request, reply, done) => {
    const ctx = RequestContext.of(request.raw);
    request.requestContext = ctx;
    void reply.header(REQUEST_ID_HEADER, ctx.requestId);
    storage.run(ctx, done);
  });
  fastify.addHook('preValidation', enter);
  fastify.addHook('preHandler', enter);
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const stale = request.requestContext?.staleResources;
    if (stale && stale.size > 0) void reply.header(STALE_RESOURCES_HEADER, [...stale].sort().join(', '));
    done(null, payload);
  });
}
