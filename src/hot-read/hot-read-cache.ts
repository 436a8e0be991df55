import type { IncomingMessage, OutgoingHttpHeader, RequestListener, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger as Pino } from 'pino';
import { AuthGate } from '../auth/auth-gate.service';
import { rawClientIp } from '../auth/client-ip';
import type { Principal } from '../auth/principal';
import { CacheService } from '../cache/cache.service';
import { EdgeReads, type EdgeAnswer } from '../common/http/edge-reads';
import { RequestContext, REQUEST_ID_HEADER } from '../common/request-context';
import { APP_CONFIG, type AppConfig } from '../config';
import { readRawBody } from '../common/http/raw-body';
import { PINO, requestCompletionLogger, type CompletedRequest } from '../logging/logging.module';
import { httpMetricLabels } from '../metrics/http-metrics.hook';
import { MetricsService } from '../metrics/metrics.service';
import { onReleaseWaiters } from './flight-release';
import { WHOLE_ANSWER_CACHEABLE } from './whole-answer-cacheable.decorator';

/**
 * The hot-read cache: whole answers of reads declared `@WholeAnswerCacheable()`, kept about a second per
 * set of caller rights and served by the HTTP server's request listener before Fastify, Nest and Apollo run at all:
 * dashboards poll such reads, and nearly all their cost is framework work (bench/RESULTS.md). It is a
 * property of the edge, not a second one: it admits with `AuthGate`, counts and logs a hit like any
 * request, and keeps only clean 200 answers of declared reads, keyed by the caller's rights (not its identity).
 */

/**
 * A kept answer, in the form a hit writes it: the body as the text it was built as (Node writes a string
 * body and the head in one write; a Buffer body went out with the head through `writev`, two chunks), the
 * headers after `x-request-id` as the flat list `writeHead` takes, and the HTTP metrics recorder of the
 * request it was built for (its series bound once; its repeats are counted under the same labels).
 */
interface Entry {
  body: string;
  /** Names and values after `x-request-id`, in their order on the wire: content-type, content-length, ... */
  headers: readonly OutgoingHttpHeader[];
  record: (status: number, durationMs: number) => void;
  expiresAtMs: number;
}

export interface HotReadStats {
  hits: number;
  misses: number;
  entries: number;
}

const MAX_ENTRIES = 1_000;
/** Answers larger than this are not kept. */
const MAX_BODY_BYTES = 256 * 1024;
/** GraphQL requests larger than this go the normal way without being looked at. */
const MAX_REQUEST_BYTES = 16 * 1024;
const GRAPHQL_PATH = '/graphql';

/** The GraphQL body the front read from a raw request: replayed to Fastify, and the answer's key. */
const READ_BODY = Symbol('maia-gateway:hot-read-body');
/** How many times the cache had been cleared when the request reached the front. */
const CLEARINGS_AT_ARRIVAL = Symbol('maia-gateway:hot-read-clearings');
type RawRequest = IncomingMessage & {
  [READ_BODY]?: { requestKey: string; body: Buffer; flight?: Flight };
  [CLEARINGS_AT_ARRIVAL]?: number;
};

/** A GraphQL request that waits for an identical one in flight (same body, same rights) to be answered. */
interface Waiter {
  req: RawRequest;
  res: ServerResponse;
  next: RequestListener;
  startedAt: number;
}

/**
 * The first of identical GraphQL requests of callers with the same rights, while it is answered: the
 * others wait for its answer instead of each running Fastify, Nest, Apollo and graphql-js over the same
 * lookups (a cold stampede of 500 built the same bytes 500 times on cold code). It lands once: with the
 * answer it kept (the waiters are answered from it, as from a kept answer), or without one (not a declared
 * read, an error, a stale answer, an abort), and then every waiter goes the normal way itself.
 */
interface Flight {
  requestKey: string;
  rights: string;
  waiters: Waiter[];
  landed: boolean;
}

/** The GraphQL body the whole-answer front already read from a raw request (replayed to Fastify), if any. */
export function bodyReadAtFront(req: IncomingMessage): Buffer | undefined {
  return (req as RawRequest)[READ_BODY]?.body;
}

/**
 * The body the front read, as the stream Fastify's parser expects (with the byte count its body limit
 * checks). A plain one-chunk Readable: `Readable.from` would drive an iterator through promises.
 */
export function replayOf(body: Buffer): Readable & { receivedEncodedLength: number } {
  const replay = new Readable({
    read() {
      this.push(body);
      this.push(null);
    },
  }) as Readable & { receivedEncodedLength: number };
  replay.receivedEncodedLength = body.length;
  return replay;
}

/**
 * The part of a caller an answer may depend on: its rights (scopes and projects), never its identity, so
 * callers with the same rights share answers (a dashboard's many API keys of one role, every JWT of one
 * group). A declared read is built from the lookups and the caller's rights alone; `admin` stands for every
 * scope. Principals are long-lived objects (one per API key; JWT principals per verified token): key once.
 */
const rightsKeys = new WeakMap<Principal, string>();
export function rightsKey(p: Principal): string {
  let key = rightsKeys.get(p);
  if (key === undefined) {
    const scopes = p.scopes.has('admin') ? 'admin' : [...p.scopes].sort().join(',');
    const projects = p.projects === '*' ? '*' : [...p.projects].sort().join(',');
    key = `${scopes}\u0000${projects}`;
    rightsKeys.set(p, key);
  }
  return key;
}

function getRequestKey(url: string | undefined, accept: string | undefined): string {
  return `GET\u0000${url ?? ''}\u0000${accept ?? ''}`;
}

@Injectable()
export class HotReadCache implements OnModuleInit {
  private readonly logger = new Logger('HotReadCache');
  /** Answers by request (method, URL or body, accept), then by the caller's rights. */
  private readonly answers = new Map<string, Map<string, Entry>>();
  /** GraphQL requests being answered, by request, then by the caller's rights (see `Flight`). */
  private readonly flights = new Map<string, Map<string, Flight>>();
  /**
   * When `clear()` last ran, and how often it has: an answer to a request that arrived before it is not
   * kept. Requests that came through the front compare the count (exact); others (`inject()`) the time, at
   * millisecond resolution, so one that arrived in the clearing's millisecond is not kept either.
   */
  private clearedAtMs = 0;
  private clearings = 0;
  private entryCount = 0;
  private hits = 0;
  /** Declared reads answered the normal way (their answer then kept when clean). */
  private misses = 0;
  private readonly ttlMs: number;
  private readonly clientIp: (request: IncomingMessage) => string;
  private readonly log: (done: CompletedRequest) => void;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(PINO) pino: Pino,
    private readonly gate: AuthGate,
    private readonly metrics: MetricsService,
    private readonly lookups: CacheService,
    private readonly adapterHost: HttpAdapterHost,
    private readonly edgeReads: EdgeReads,
  ) {
    this.ttlMs = config.cache.hotReadTtlMs;
    this.clientIp = rawClientIp(config.server.trustProxy);
    this.log = requestCompletionLogger(pino, config);
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  stats(): HotReadStats {
    return { hits: this.hits, misses: this.misses, entries: this.entryCount };
  }

  /** Drops every answer (the lookup cache was invalidated somewhere). */
  clear(): void {
    this.answers.clear();
    this.entryCount = 0;
    // Requests arriving from now on wait for none started before (their answers may predate it).
    this.flights.clear();
    this.clearedAtMs = Date.now();
    this.clearings++;
  }

  /** Before Fastify is ready (Nest readies it in listen(), after every init hook). */
  onModuleInit(): void {
    if (!this.enabled) return;
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify?.server) return;
    if (!this.install(fastify)) {
      this.logger.warn('The HTTP server has an unexpected request listener: hot reads are off');
      return;
    }
    this.edgeReads.onAnswered((answer) => this.keepEdgeAnswer(answer));
    this.lookups.onInvalidated(() => this.clear());
    this.metrics.setHotReadSource(() => this.stats());
  }

  /**
   * Puts the front before Fastify's own request listener, on the server Fastify created with its own
   * options (timeouts included), and adds the Fastify side: the body replay and keeping answers.
   */
  private install(fastify: FastifyInstance): boolean {
    const server = fastify.server;
    const listeners = server.listeners('request');
    if (listeners.length !== 1) return false;
    const fastifyHandler = listeners[0] as RequestListener;
    server.removeListener('request', fastifyHandler);
    server.on('request', (req: RawRequest, res: ServerResponse) => this.front(req, res, fastifyHandler));
    fastify.addHook('preParsing', (request, _reply, payload, done) => {
      const read = (request.raw as RawRequest)[READ_BODY];
      done(null, read === undefined ? payload : replayOf(read.body));
    });
    fastify.addHook('onSend', (request, reply, payload, done) => {
      const kept = this.keep(request, reply, payload);
      const flight = (request.raw as RawRequest)[READ_BODY]?.flight;
      if (flight) this.land(flight, kept);
      done(null, payload);
    });
    return true;
  }

  /**
   * The server's request handler: a GET some caller has an answer for, and every GraphQL read it can read
   * the body of (small, JSON, with a length), are looked up; all else goes on.
   */
  private front(req: RawRequest, res: ServerResponse, next: RequestListener): void {
    req[CLEARINGS_AT_ARRIVAL] = this.clearings;
    if (req.method === 'GET') {
      const requestKey = getRequestKey(req.url, req.headers.accept);
      if (this.answers.has(requestKey)) this.lookUp(req, res, next, requestKey);
      else next(req, res);
      return;
    }
    const length = Number(req.headers['content-length']);
    if (
      req.method !== 'POST' ||
      req.url !== GRAPHQL_PATH ||
      !(req.headers['content-type'] ?? '').startsWith('application/json') ||
      !(length > 0 && length <= MAX_REQUEST_BYTES)
    ) {
      next(req, res);
      return;
    }
    readRawBody(req, res, (body) => {
      const requestKey = `POST\u0000${body.toString('latin1')}\u0000${req.headers.accept ?? ''}`;
      req[READ_BODY] = { requestKey, body };
      // Admitted here, so that identical requests in flight together are answered once (see `Flight`);
      // the outcome stays on the request's context and the normal path does not decide it again.
      this.lookUp(req, res, next, requestKey);
    });
  }

  /**
   * Admits the caller as the edge does (synchronously unless a JWT must be verified or the caller's local
   * share of its rate limit must be refilled from Redis); a refusal goes on to Fastify, which answers the
   * refusal already recorded.
   */
  private lookUp(req: RawRequest, res: ServerResponse, next: RequestListener, requestKey: string): void {
    const startedAt = performance.now();
    const ctx = RequestContext.of(req);
    const handOver = (): void => {
      if (!res.headersSent) next(req, res);
    };
    RequestContext.run(ctx, () => {
      let admitted: Principal | Promise<Principal>;
      try {
        admitted = this.gate.admit(ctx, req.headers, () => this.clientIp(req));
      } catch {
        handOver();
        return;
      }
      if (admitted instanceof Promise) {
        admitted.then((principal) => this.answer(req, res, next, requestKey, principal, startedAt), handOver);
      } else {
        this.answer(req, res, next, requestKey, admitted, startedAt);
      }
    });
  }

  private answer(
    req: RawRequest,
    res: ServerResponse,
    next: RequestListener,
    requestKey: string,
    principal: Principal,
    startedAt: number,
  ): void {
    const forRequest = this.answers.get(requestKey);
    const rights = rightsKey(principal);
    const entry = forRequest?.get(rights);
    if (!entry || entry.expiresAtMs <= Date.now()) {
      if (entry) this.forget(requestKey, rights);
      const read = req[READ_BODY];
      if (read) {
        const flight = this.flights.get(requestKey)?.get(rights);
        if (flight) {
          flight.waiters.push({ req, res, next, startedAt });
          return;
        }
        read.flight = this.takeOff(req, res, requestKey, rights);
      }
      next(req, res);
      return;
    }
    this.serve(req, res, entry, startedAt);
  }

  /** Answers a request from a kept answer, counted and logged like any request. */
  private serve(req: RawRequest, res: ServerResponse, entry: Entry, startedAt: number): void {
    this.hits++;
    const requestId = RequestContext.of(req).requestId;
    // The same names, values and order as the object `{ x-request-id, ...headers }` wrote, as a flat list.
    res.writeHead(200, [REQUEST_ID_HEADER, requestId, ...entry.headers]);
    res.end(entry.body);
    const elapsedMs = performance.now() - startedAt;
    const method = req.method ?? 'GET';
    entry.record(200, elapsedMs);
    this.log({ requestId, method, url: req.url ?? '', headers: req.headers, statusCode: 200, elapsedMs });
  }

  /**
   * The first of identical requests in flight: the others of the same rights wait for its answer. It
   * lands when its answer is kept or refused (onSend), when its operation is found not to be a declared
   * read (`releaseWaitersOf`), and at the latest when its response closes, whatever ended it.
   */
  private takeOff(req: RawRequest, res: ServerResponse, requestKey: string, rights: string): Flight {
    const flight: Flight = { requestKey, rights, waiters: [], landed: false };
    let forRequest = this.flights.get(requestKey);
    if (!forRequest) {
      forRequest = new Map();
      this.flights.set(requestKey, forRequest);
    }
    forRequest.set(rights, flight);
    onReleaseWaiters(RequestContext.of(req), () => this.land(flight, undefined));
    res.once('close', () => this.land(flight, undefined));
    return flight;
  }

  /**
   * Ends a flight: its waiters are answered from `kept`, or, without it, sent the normal way each. After
   * the first request's own answer has been handed on (a microtask later), each in its own context.
   */
  private land(flight: Flight, kept: Entry | undefined): void {
    if (flight.landed) return;
    flight.landed = true;
    const forRequest = this.flights.get(flight.requestKey);
    if (forRequest?.get(flight.rights) === flight) {
      forRequest.delete(flight.rights);
      if (forRequest.size === 0) this.flights.delete(flight.requestKey);
    }
    const waiters = flight.waiters;
    flight.waiters = [];
    if (waiters.length === 0) return;
    queueMicrotask(() => {
      for (const { req, res, next, startedAt } of waiters) {
        if (res.destroyed || res.headersSent) continue; // the caller left while it waited
        try {
          RequestContext.run(RequestContext.of(req), () => {
            if (kept) this.serve(req, res, kept, startedAt);
            else next(req, res);
          });
        } catch (error) {
          // One waiter's failure is its own: the others are still answered.
          this.logger.error(
            `a waiter of an identical read could not be answered: ${(error as Error).message}`,
          );
          if (!res.headersSent && !res.destroyed) res.destroy();
        }
      }
    });
  }

  /**
   * onSend: keeps the clean answer of a declared read the front could not serve. Returns the answer kept
   * for this request (by it or by an identical request in flight with it), if any.
   */
  private keep(request: FastifyRequest, reply: FastifyReply, payload: unknown): Entry | undefined {
    const ctx = request.requestContext;
    const principal = ctx?.principal;
    if (!ctx || !principal) return undefined;
    let requestKey: string;
    if (request.method === 'GET') {
      if (request.routeOptions.config?.[WHOLE_ANSWER_CACHEABLE] !== true) return undefined;
      requestKey = getRequestKey(request.raw.url, request.headers.accept);
    } else {
      const read = (request.raw as RawRequest)[READ_BODY];
      if (!read || !ctx.wholeAnswer) return undefined;
      requestKey = read.requestKey;
    }
    this.misses++;
    if (reply.statusCode !== 200 || typeof payload !== 'string' || payload.length > MAX_BODY_BYTES)
      return undefined;
    if (ctx.staleResources.size > 0 || ctx.wholeAnswer?.clean === false) return undefined;
    // Built from lookups as they were before an invalidation that came while it was answered: not kept.
    const clearingsAtArrival = (request.raw as RawRequest)[CLEARINGS_AT_ARRIVAL];
    if (
      clearingsAtArrival === undefined
        ? ctx.startedAtMs <= this.clearedAtMs
        : clearingsAtArrival !== this.clearings
    )
      return undefined;
    const rights = rightsKey(principal);
    // Requests that were in flight together (a stampede) all end here with one answer: keep it once.
    const kept = this.answers.get(requestKey)?.get(rights);
    if (kept && kept.expiresAtMs > Date.now()) return kept;
    const contentType = reply.getHeader('content-type');
    if (typeof contentType !== 'string') return undefined;
    const headers: OutgoingHttpHeader[] = [
      'content-type',
      contentType,
      'content-length',
      Buffer.byteLength(payload),
    ];
    const cacheControl = reply.getHeader('cache-control');
    if (typeof cacheControl === 'string') headers.push('cache-control', cacheControl);
    const { transport, route } = httpMetricLabels(request);
    const entry: Entry = {
      body: payload,
      headers,
      record: this.metrics.httpRecorder(transport, route, request.method),
      expiresAtMs: Date.now() + this.ttlMs,
    };
    this.store(requestKey, rights, entry);
    return entry;
  }

  /** Keeps the clean answer of a declared read the edge read front served (it never reaches onSend). */
  private keepEdgeAnswer(answer: EdgeAnswer): void {
    if (answer.routeConfig[WHOLE_ANSWER_CACHEABLE] !== true) return;
    this.misses++;
    if (answer.body.length > MAX_BODY_BYTES) return;
    this.store(getRequestKey(answer.url, answer.accept), rightsKey(answer.principal), {
      body: answer.body,
      headers: ['content-type', answer.contentType, 'content-length', Buffer.byteLength(answer.body)],
      record: this.metrics.httpRecorder('rest', answer.route, 'GET'),
      expiresAtMs: Date.now() + this.ttlMs,
    });
  }

  private store(requestKey: string, rights: string, entry: Entry): void {
    let forRequest = this.answers.get(requestKey);
    if (!forRequest?.has(rights) && this.entryCount >= MAX_ENTRIES) {
      // The request answered longest ago goes first, with every caller's answer to it.
      const oldest = this.answers.entries().next();
      if (!oldest.done) {
        this.answers.delete(oldest.value[0]);
        this.entryCount -= oldest.value[1].size;
      }
      forRequest = this.answers.get(requestKey);
    }
    if (!forRequest) {
      forRequest = new Map();
      this.answers.set(requestKey, forRequest);
    }
    if (!forRequest.has(rights)) this.entryCount++;
    forRequest.set(rights, entry);
  }

  private forget(requestKey: string, rights: string): void {
    const forRequest = this.answers.get(requestKey);
    if (!forRequest?.delete(rights)) return;
    this.entryCount--;
    if (forRequest.size === 0) this.answers.delete(requestKey);
  }
}
