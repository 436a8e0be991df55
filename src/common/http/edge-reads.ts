import type { IncomingMessage, OutgoingHttpHeader, RequestListener, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  Inject,
  Injectable,
  Logger,
  RequestMethod,
  type ArgumentMetadata,
  type OnModuleInit,
  type Type,
} from '@nestjs/common';
import {
  EXCEPTION_FILTERS_METADATA,
  GUARDS_METADATA,
  HEADERS_METADATA,
  HTTP_CODE_METADATA,
  INTERCEPTORS_METADATA,
  METHOD_METADATA,
  PATH_METADATA,
  PIPES_METADATA,
  REDIRECT_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ApplicationConfig, DiscoveryService, HttpAdapterHost, Reflector } from '@nestjs/core';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import type { FastifyInstance } from 'fastify';
import type { Logger as Pino } from 'pino';
import { AccessPolicy } from '../../auth/access-policy';
import { AuthGate } from '../../auth/auth-gate.service';
import { AuthGuard } from '../../auth/auth.guard';
import { rawClientIp } from '../../auth/client-ip';
import { currentPrincipalArg } from '../../auth/current-principal.decorator';
import type { Principal } from '../../auth/principal';
import { DEFAULT_PROJECT_ID_ARGS, PROJECT_ID_ARGS } from '../../auth/project-args.decorator';
import { IS_PUBLIC } from '../../auth/public.decorator';
import { REQUIRED_SCOPE, type Scope } from '../../auth/require-scope.decorator';
import { APP_CONFIG, type AppConfig } from '../../config';
import { PINO, requestCompletionLogger, type CompletedRequest } from '../../logging/logging.module';
import { MetricsService } from '../../metrics/metrics.service';
import { RequestContext, REQUEST_ID_HEADER, STALE_RESOURCES_HEADER } from '../request-context';
import { GatewayValidationPipe } from '../validation';
import { EDGE_READ } from './edge-read.decorator';
import { answerByteLength, answerJson } from './immutable-answer';
import { hasBody, JsonBodyGuard } from './json-body.guard';
import { problemAnswer, ProblemJsonExceptionFilter } from './problem-json.filter';
import { STALE_WARNING } from './stale-warning';

/** What Fastify sends a JSON answer as: the edge's answers carry the same. */
const JSON_UTF8 = 'application/json; charset=utf-8';

/**
 * A query string the edge reads itself: `name=value` pairs of plain characters, each name once. Anything
 * else (percent-encoding, `+`, repeated names, arrays) goes to Fastify's parser the normal way.
 */
const PLAIN_PAIR = /^([A-Za-z][A-Za-z0-9_]*)=([A-Za-z0-9_.~-]*)$/;

/** The members of a plain query string, as Fastify's parser would give them; undefined when not plain. */
export function plainQuery(text: string): Record<string, string> | undefined {
  const out = Object.create(null) as Record<string, string>;
  if (text === '') return out;
  for (const pair of text.split('&')) {
    const match = PLAIN_PAIR.exec(pair);
    if (!match || match[1] in out) return undefined;
    out[match[1]] = match[2];
  }
  return out;
}

type EdgeHandler = (query: object, principal: Principal) => unknown;

interface EdgeRoute {
  /** The route template, as Fastify's routes and the HTTP metrics name it (no parameters). */
  path: string;
  handler: EdgeHandler;
  scope: Scope;
  query: ArgumentMetadata;
  /** Query members that name a project: the guard checks them, so the edge leaves such requests to it. */
  projectIdArgs: readonly string[];
  /** The route's Fastify config (`@RouteConfig`, `@WholeAnswerCacheable`), for listeners of answers. */
  routeConfig: Readonly<Record<string, unknown>>;
  /** Counts an answer of this route in the HTTP metrics (its series looked up once per status). */
  record: (status: number, durationMs: number) => void;
}

/** One edge read in progress: what every step of `serve` needs. */
interface EdgeRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** Fastify's request listener: the normal path, for whatever the edge does not answer itself. */
  next: RequestListener;
  route: EdgeRoute;
  ctx: RequestContext;
  startedAt: number;
}

/** A clean 200 the edge answered itself (no stale resource in it). */
export interface EdgeAnswer {
  url: string;
  accept: string | undefined;
  route: string;
  routeConfig: Readonly<Record<string, unknown>>;
  principal: Principal;
  contentType: string;
  body: string;
}

/**
 * The edge read front: REST reads declared `@EdgeRead()` are served by the HTTP server's request
 * listener calling the route's handler, before Fastify's routing, hooks and reply and Nest's router
 * layers (execution context, guards, param factories, the pipe through Nest, the exception zone) run.
 * Those layers are most of a lookup read's CPU (docs/adr/0030-edge-reads.md) while the read itself is a
 * cached lookup; everything that decides the answer still runs per request, through the same pieces:
 * `AuthGate` admits the caller (authentication and the rate-limit charge), `AccessPolicy` checks the
 * route's scope, `GatewayValidationPipe` validates the query, the handler builds the answer from the
 * service, `problemAnswer` renders its errors as the exception filter does, and the request is counted
 * by `MetricsService` and logged by the completion logger like every other. Whatever the front is not
 * sure of (a refusal, an invalid or unusual query, a body, a project id in the query) it hands to
 * Fastify untouched, where the normal path answers it (the admission outcome is already on the request's
 * `RequestContext`, so nothing is authenticated or charged twice).
 */
@Injectable()
export class EdgeReads implements OnModuleInit {
  private readonly logger = new Logger('EdgeReads');
  private readonly routes = new Map<string, EdgeRoute>();
  private readonly listeners: ((answer: EdgeAnswer) => void)[] = [];
  private readonly pipe = new GatewayValidationPipe();
  private servedCount = 0;
  private readonly clientIp: (request: IncomingMessage) => string;
  private readonly log: (done: CompletedRequest) => void;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(PINO) pino: Pino,
    private readonly gate: AuthGate,
    private readonly policy: AccessPolicy,
    private readonly metrics: MetricsService,
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    private readonly adapterHost: HttpAdapterHost,
    private readonly appConfig: ApplicationConfig,
  ) {
    this.clientIp = rawClientIp(config.server.trustProxy);
    this.log = requestCompletionLogger(pino, config);
  }

  /** The route templates served at the edge (for tests and the start log). */
  get paths(): string[] {
    return [...this.routes.keys()];
  }

  /** Requests answered by the front itself since start (every other request went on to Fastify). */
  get served(): number {
    return this.servedCount;
  }

  /** Called with every clean 200 the front answered (the whole-answer cache keeps declared ones). */
  onAnswered(listener: (answer: EdgeAnswer) => void): void {
    this.listeners.push(listener);
  }

  /** Before Fastify is ready (Nest readies it in listen(), after every init hook). */
  onModuleInit(): void {
    this.collectRoutes();
    if (this.routes.size === 0) return;
    const unknown = this.unknownGlobalEnhancer();
    if (unknown) {
      this.logger.warn(`The application has a global ${unknown} the edge does not run: edge reads are off`);
      this.routes.clear();
      return;
    }
    const server = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>()?.server;
    const listeners = server?.listeners('request') ?? [];
    if (!server || listeners.length !== 1) {
      this.logger.warn('The HTTP server has an unexpected request listener: edge reads are off');
      this.routes.clear();
      return;
    }
    const next = listeners[0] as RequestListener;
    server.removeListener('request', next);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.front(req, res, next));
  }

  private front(req: IncomingMessage, res: ServerResponse, next: RequestListener): void {
    if (req.method === 'GET') {
      const url = req.url ?? '';
      const mark = url.indexOf('?');
      const route = this.routes.get(mark < 0 ? url : url.slice(0, mark));
      if (route !== undefined && !hasBody(req)) {
        const query = plainQuery(mark < 0 ? '' : url.slice(mark + 1));
        if (query !== undefined && !namesAny(query, route.projectIdArgs)) {
          const ctx = RequestContext.of(req);
          RequestContext.run(ctx, () => this.serve(req, res, next, route, query, ctx));
          return;
        }
      }
    }
    next(req, res);
  }

  /**
   * Serves one edge read. Synchronous from admission to the written answer while nothing needs waiting for
   * (an admission decided here, a query validated before, an answer in this process's memory): no promise
   * and no later turn then. Whatever must wait continues in `serveLater`. Never throws.
   */
  private serve(
    req: IncomingMessage,
    res: ServerResponse,
    next: RequestListener,
    route: EdgeRoute,
    query: Record<string, string>,
    ctx: RequestContext,
  ): void {
    const read: EdgeRequest = { req, res, next, route, ctx, startedAt: performance.now() };
    let principal: Principal;
    let input: object | undefined;
    try {
      const admitted = this.gate.admit(ctx, req.headers, () => this.clientIp(req));
      if (admitted instanceof Promise) {
        this.serveLater(read, query, admitted);
        return;
      }
      principal = admitted;
      this.policy.assertScope(principal, route.scope);
      // A query validated before is answered without waiting a turn (the pipe's remembered flat inputs).
      input = this.pipe.transformKnown(query, route.query);
    } catch {
      // Refused, or an invalid query: the normal path answers it (and reads the admission outcome).
      this.handOver(read);
      return;
    }
    if (input === undefined) {
      this.serveLater(read, query, principal);
      return;
    }
    let answer: unknown;
    try {
      answer = route.handler(input, principal);
    } catch (error) {
      this.answer(read, principal, { error });
      return;
    }
    if (isThenable(answer)) {
      void Promise.resolve(answer).then(
        (value: unknown) => this.answer(read, principal, { value }),
        (error: unknown) => this.answer(read, principal, { error }),
      );
      return;
    }
    this.answer(read, principal, { value: answer });
  }

  /** `serve` from the first step that has to wait: admission, the query's validation, then the handler. */
  private serveLater(
    read: EdgeRequest,
    query: Record<string, string>,
    admitted: Principal | Promise<Principal>,
  ): void {
    this.continueLater(read, query, admitted).catch((error: unknown) => {
      this.logger.error(`Edge read of ${read.route.path} failed: ${String(error)}`);
    });
  }

  private async continueLater(
    read: EdgeRequest,
    query: Record<string, string>,
    admitted: Principal | Promise<Principal>,
  ): Promise<void> {
    const { route } = read;
    let principal: Principal;
    let input: object;
    try {
      principal = await admitted;
      this.policy.assertScope(principal, route.scope);
      input =
        this.pipe.transformKnown(query, route.query) ??
        ((await this.pipe.transform(query, route.query)) as object);
    } catch {
      this.handOver(read);
      return;
    }
    let outcome: { value: unknown } | { error: unknown };
    try {
      outcome = { value: await route.handler(input, principal) };
    } catch (error) {
      outcome = { error };
    }
    this.answer(read, principal, outcome);
  }

  /** Writes the handler's answer (or its error, as the exception filter would), counts and logs it. Never throws. */
  private answer(
    read: EdgeRequest,
    principal: Principal,
    outcome: { value: unknown } | { error: unknown },
  ): void {
    const { req, res, route, ctx } = read;
    try {
      let status = 200;
      let contentType = JSON_UTF8;
      let retryAfter: string | undefined;
      let body: string;
      let answer: unknown;
      try {
        if ('error' in outcome) throw outcome.error;
        answer = outcome.value;
        // The same bytes as JSON.stringify; an answer declared immutable is encoded once (ADR 0040).
        body = answerJson(answer);
      } catch (error) {
        answer = undefined;
        const problem = problemAnswer(error);
        status = problem.status;
        // Fastify adds the charset to a JSON media type that has none: so does the edge.
        contentType = `${problem.headers['content-type']}; charset=utf-8`;
        retryAfter = problem.headers['retry-after'];
        body = problem.body;
      }
      // A flat list of names and values, in the order the object had: Node writes it as it is, without
      // walking an object's keys (the same bytes on the wire).
      const headers: OutgoingHttpHeader[] = [
        REQUEST_ID_HEADER,
        ctx.requestId,
        'content-type',
        contentType,
        'content-length',
        answerByteLength(answer, body),
      ];
      if (retryAfter !== undefined) headers.push('retry-after', retryAfter);
      const stale = ctx.staleResources;
      if (stale.size > 0) {
        headers.push(STALE_RESOURCES_HEADER, [...stale].sort().join(', '), 'warning', STALE_WARNING);
      }
      res.writeHead(status, headers);
      res.end(body);
      this.servedCount++;
      const elapsedMs = performance.now() - read.startedAt;
      route.record(status, elapsedMs);
      const url = req.url ?? '';
      this.log({
        requestId: ctx.requestId,
        method: 'GET',
        url,
        headers: req.headers,
        statusCode: status,
        elapsedMs,
      });
      if (status === 200 && stale.size === 0 && this.listeners.length > 0) {
        const answer: EdgeAnswer = {
          url,
          accept: req.headers.accept,
          route: route.path,
          routeConfig: route.routeConfig,
          principal,
          contentType,
          body,
        };
        for (const listener of this.listeners) listener(answer);
      }
    } catch (error) {
      this.logger.error(`Edge read of ${route.path} failed: ${String(error)}`);
      if (!res.headersSent) this.handOver(read);
    }
  }

  /** The request to Fastify's normal path; whatever that throws is logged, never thrown from a listener. */
  private handOver({ req, res, next, route }: EdgeRequest): void {
    try {
      next(req, res);
    } catch (error) {
      this.logger.error(`Edge read of ${route.path}: the normal path failed: ${String(error)}`);
    }
  }

  /** Every controller method declared `@EdgeRead()` whose shape the front can serve exactly. */
  private collectRoutes(): void {
    for (const wrapper of this.discovery.getControllers()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      const controller = wrapper.metatype as Type<unknown> | undefined;
      if (!instance || !controller) continue;
      const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(prototype)) {
        const method = prototype[name];
        if (name === 'constructor' || typeof method !== 'function') continue;
        if (this.reflector.get<boolean | undefined>(EDGE_READ, method) !== true) continue;
        const problem = this.declarationProblem(controller, name, method as (...args: unknown[]) => unknown);
        if (problem) {
          this.logger.warn(
            `${controller.name}.${name} is declared @EdgeRead() but ${problem}: served by Nest`,
          );
          continue;
        }
        const handler = (method as (...args: unknown[]) => unknown).bind(instance) as EdgeHandler;
        const targets = [method, controller];
        const [queryType] = Reflect.getMetadata('design:paramtypes', prototype, name) as [Type<unknown>];
        for (const path of pathsOf(controller, method)) {
          this.routes.set(path, {
            path,
            handler,
            scope: this.reflector.getAllAndOverride<Scope>(REQUIRED_SCOPE, targets),
            query: { type: 'query', metatype: queryType, data: undefined },
            projectIdArgs:
              this.reflector.getAllAndOverride<string[] | undefined>(PROJECT_ID_ARGS, targets) ??
              DEFAULT_PROJECT_ID_ARGS,
            routeConfig:
              (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, method) as
                Record<string, unknown> | undefined) ?? {},
            record: this.metrics.httpRecorder('rest', path, 'GET'),
          });
        }
      }
    }
  }

  /**
   * An app-wide guard, interceptor, pipe or filter other than the ones the front does itself (the auth and
   * JSON-body guards, the validation pipe, the problem+json filter), or undefined: one added later (an IP
   * allow-list, a throttler) would otherwise run on every route but these.
   */
  private unknownGlobalEnhancer(): string | undefined {
    const known = (value: unknown, classes: readonly Type<unknown>[]): boolean =>
      classes.some((type) => value instanceof type);
    const app = this.appConfig;
    const guards: unknown[] = [
      ...app.getGlobalGuards(),
      ...app.getGlobalRequestGuards().map((wrapper) => wrapper.instance),
    ];
    if (!guards.every((guard) => known(guard, [AuthGuard, JsonBodyGuard]))) return 'guard';
    if (app.getGlobalInterceptors().length + app.getGlobalRequestInterceptors().length > 0)
      return 'interceptor';
    const pipes: unknown[] = [
      ...app.getGlobalPipes(),
      ...app.getGlobalRequestPipes().map((wrapper) => wrapper.instance),
    ];
    if (!pipes.every((pipe) => known(pipe, [GatewayValidationPipe]))) return 'pipe';
    const filters: unknown[] = [
      ...app.getGlobalFilters(),
      ...app.getGlobalRequestFilters().map((wrapper) => wrapper.instance),
    ];
    if (!filters.every((filter) => known(filter, [ProblemJsonExceptionFilter]))) return 'filter';
    return undefined;
  }

  /**
   * Why the front could not serve this handler exactly as Nest would, or undefined: anything Nest would
   * run around the handler that the front does not (its own guards, pipes, interceptors, filters, a
   * status or headers of its own, other parameters), a public route, or a route with path parameters.
   */
  private declarationProblem(
    controller: Type<unknown>,
    name: string,
    method: (...args: unknown[]) => unknown,
  ): string | undefined {
    if (Reflect.getMetadata(METHOD_METADATA, method) !== RequestMethod.GET) return 'it is not a GET';
    const targets = [method, controller];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return 'it is public';
    if (!this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets))
      return 'it has no scope';
    for (const key of [GUARDS_METADATA, INTERCEPTORS_METADATA, PIPES_METADATA, EXCEPTION_FILTERS_METADATA]) {
      for (const target of targets) {
        const value = Reflect.getMetadata(key, target) as unknown[] | undefined;
        if (value !== undefined && value.length > 0) return `it has its own ${key}`;
      }
    }
    for (const key of [HEADERS_METADATA, HTTP_CODE_METADATA, REDIRECT_METADATA]) {
      if (Reflect.getMetadata(key, method) !== undefined) return `it sets ${key}`;
    }
    if (pathsOf(controller, method).some((path) => /[:*]/.test(path))) return 'it has path parameters';
    const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as Record<
      string,
      { index: number; data?: unknown; pipes?: unknown[]; factory?: unknown }
    >;
    const entries = Object.entries(args);
    const query = args[`${RouteParamtypes.QUERY}:0`];
    const principal = entries.find(([key, arg]) => key !== `${RouteParamtypes.QUERY}:0` && arg.index === 1);
    if (
      entries.length !== 2 ||
      query?.data !== undefined ||
      (query?.pipes?.length ?? 0) > 0 ||
      principal?.[1].factory !== currentPrincipalArg ||
      (principal[1].pipes?.length ?? 0) > 0
    ) {
      return 'its parameters are not (@Query() query, @CurrentPrincipal() principal)';
    }
    const [queryType] = (Reflect.getMetadata('design:paramtypes', controller.prototype as object, name) ??
      []) as unknown[];
    if (typeof queryType !== 'function' || queryType === Object) return 'its query has no class';
    return undefined;
  }
}

/** A promise, or anything `await` would treat as one. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Whether the query has a member of one of these names. */
function namesAny(query: Record<string, string>, names: readonly string[]): boolean {
  for (const name of names) if (name in query) return true;
  return false;
}

/** The route templates of a handler, joined as Nest joins them (no global prefix or versioning here). */
function pathsOf(controller: Type<unknown>, method: object): string[] {
  const list = (value: unknown): string[] =>
    value === undefined ? [''] : Array.isArray(value) ? (value as string[]) : [value as string];
  const out: string[] = [];
  for (const base of list(Reflect.getMetadata(PATH_METADATA, controller))) {
    for (const own of list(Reflect.getMetadata(PATH_METADATA, method))) {
      const parts = [base, own].map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p !== '');
      out.push(`/${parts.join('/')}`);
    }
  }
  return out;
}
