import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleControl } from './control-api.router';
import { CounterRegistry } from './counter.registry';
import { defaultEmulatorConfig, validateConfigPatch, type EmulatorConfig } from './emulator.config';
import { FaultRegistry, type Fault } from './fault.registry';
import {
  HttpProblem,
  isPlainObject,
  jsonReply,
  parseJsonBody,
  problemReply,
  readBody,
  type Reply,
} from './http.util';
import { MaiaApiRouter, authContextOf, type AuthContext, type RouteDef } from './maia-api.router';
import { RateLimiter } from './rate.limiter';
import { RequestLog } from './request.log';
import { unmatchedRoute } from './route.names';
import { loadSeed, type Seed } from './seed.loader';
import { TokenStore } from './token.store';
import { WorldState } from './world.state';

/**
 * The Maia emulator: a plain `node:http` server (no framework, so a request costs a few map lookups)
 * that behaves like the Maia API of docs/maia-api.md, plus a control API for tests (docs/emulator.md).
 * It imports nothing of the gateway.
 */

export interface EmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (random). */
  port?: number;
  /** Multiplies every scripted duration; default 1 (tests use e.g. 0.05). */
  timeScale?: number;
  /** Default 1800. */
  tokenLifetimeSeconds?: number;
  /** Per client id; default 1000. */
  rateLimitPerMinute?: number;
  /** GET details answers `{result: {...}}` without projectId; default false. */
  detailsWrapped?: boolean;
  /** Default: the seed.json beside this module. */
  seedPath?: string;
  /** No console output. */
  quiet?: boolean;
}

export interface RunningEmulator {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  port: number;
  /** The first client of the seed: sandbox-client. */
  clientId: string;
  clientSecret: string;
  /** `${url}/dpc`: the Maia API base. */
  apiBaseUrl: string;
  /** `${url}/oauth/dpc/token`. */
  tokenUrl: string;
  /** Closes the server; pending fault delays are cancelled and open sockets destroyed. */
  close(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const seed = loadSeed(options.seedPath);
  const startConfig: EmulatorConfig = {
    ...defaultEmulatorConfig,
    ...validateConfigPatch(
      Object.fromEntries(
        Object.entries({
          timeScale: options.timeScale,
          tokenLifetimeSeconds: options.tokenLifetimeSeconds,
          rateLimitPerMinute: options.rateLimitPerMinute,
          detailsWrapped: options.detailsWrapped,
        }).filter(([, v]) => v !== undefined),
      ),
    ),
  };
  const emulator = new EmulatorServer(seed, startConfig, options.quiet === true);
  const host = options.host ?? '127.0.0.1';
  const port = await emulator.listen(host, options.port ?? 0);
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `http://${urlHost}:${port}`;
  if (options.quiet !== true) console.log(`Maia emulator listening on ${url}`);
  const client = seed.clients[0];
  return {
    url,
    port,
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    apiBaseUrl: `${url}/dpc`,
    tokenUrl: `${url}/oauth/dpc/token`,
    close: () => emulator.close(),
  };
}

class EmulatorServer {
  private readonly config: EmulatorConfig;
  private readonly world: WorldState;
  private readonly faults = new FaultRegistry();
  private readonly counters = new CounterRegistry();
  private readonly requests = new RequestLog();
  private readonly tokens = new TokenStore();
  private readonly rateLimiter = new RateLimiter();
  private readonly router: MaiaApiRouter;
  private readonly clients = new Map<string, { secret: string; auth: AuthContext }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly http: Server;
  private closed: Promise<void> | null = null;

  constructor(
    seed: Seed,
    private readonly startConfig: EmulatorConfig,
    private readonly quiet: boolean,
  ) {
    this.config = { ...startConfig };
    this.world = new WorldState(seed);
    this.world.reset(Date.now());
    this.router = new MaiaApiRouter(this.world, () => this.config);
    for (const client of seed.clients) {
      this.clients.set(client.clientId, { secret: client.clientSecret, auth: authContextOf(client) });
    }
    this.http = createServer((req, res) => {
      this.dispatch(req, res).catch((error: unknown) => this.fail(res, error));
    });
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve((this.http.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      this.closed = new Promise((resolve) => {
        this.http.close(() => resolve());
        this.http.closeAllConnections();
      });
    }
    return this.closed;
  }

  private reset(): void {
    Object.assign(this.config, this.startConfig);
    this.world.reset(Date.now());
    this.faults.clear();
    this.counters.clear();
    this.requests.clear();
    this.tokens.revokeAll();
    this.rateLimiter.clear();
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    let path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const query = q === -1 ? null : new URLSearchParams(rawUrl.slice(q + 1));
    const segs = path.split('/');
    const method = req.method ?? 'GET';

    if (segs[1] === '__emulator') {
      let reply: Reply;
      try {
        const body = method === 'GET' || method === 'DELETE' ? undefined : parseJsonBody(await readBody(req));
        reply = handleControl(method, segs, body, this.controlDeps(), Date.now());
      } catch (error) {
        reply = this.problemOf(error);
      }
      send(res, reply);
      return;
    }

    // The emulator's own front page (what a sandbox banner links to): where its Maia API, token endpoint and
    // control API are. Not a Maia route, so neither counted nor logged as one.
    if (path === '/' && (method === 'GET' || method === 'HEAD')) {
      send(res, jsonReply(200, emulatorIndex()));
      return;
    }

    const match = this.router.match(method, segs);
    const routeName = match !== null && 'route' in match ? match.route.name : unmatchedRoute;
    this.requests.record(routeName, method, path, query);
    if (match === null || 'allow' in match) {
      const reply =
        match === null
          ? problemReply(404, `No route for ${method} ${path}`)
          : problemReply(405, `${method} is not allowed on ${path}`, { allow: match.allow.join(', ') });
      this.counters.record(unmatchedRoute, reply.status);
      send(res, reply);
      return;
    }

    const { route, params } = match;
    const fault = this.faults.pick(route.name, { path });
    // The request is received whole before any latency, as Maia would have it: a client that times out
    // during the delay still gets its action performed (the "acted, but answered too late" case).
    let bodyText: string;
    try {
      bodyText = method === 'GET' || method === 'HEAD' ? '' : await readBody(req);
    } catch (error) {
      const reply = this.problemOf(error);
      this.counters.record(route.name, reply.status);
      send(res, reply);
      return;
    }
    if (fault?.latencyMs) await this.delay(fault.latencyMs);
    if (fault?.drop === 'before') {
      this.counters.record(route.name, 'dropped');
      req.socket.destroy();
      return;
    }
    if (fault?.status !== undefined) {
      const reply = faultReply(fault, fault.status);
      this.counters.record(route.name, reply.status);
      send(res, reply);
      return;
    }

    let reply: Reply;
    try {
      reply = this.perform(route, params, query, req, bodyText);
    } catch (error) {
      reply = this.problemOf(error);
    }
    if (fault?.drop === 'after') {
      // The action happened (e.g. the execution exists); the client just never hears about it.
      this.counters.record(route.name, 'dropped');
      req.socket.destroy();
      return;
    }
    this.counters.record(route.name, reply.status);
    send(res, reply);
  }

  private perform(
    route: RouteDef,
    rawParams: string[],
    query: URLSearchParams | null,
    req: IncomingMessage,
    bodyText: string,
  ): Reply {
    if (!route.authenticated) {
      return this.issueToken(bodyText, req.headers['content-type'] ?? '');
    }
    const authorization = req.headers.authorization;
    const token = authorization && /^bearer /i.test(authorization) ? authorization.slice(7).trim() : '';
    const nowMs = Date.now();
    const clientId = token ? this.tokens.verify(token, nowMs) : null;
    const client = clientId === null ? undefined : this.clients.get(clientId);
    if (!client) {
      return problemReply(
        401,
        token ? 'The access token is invalid or has expired' : 'Missing bearer token',
        {
          'www-authenticate': 'Bearer',
        },
      );
    }
    const rate = this.rateLimiter.check(client.auth.clientId, this.config.rateLimitPerMinute, nowMs);
    if (!rate.allowed) {
      return problemReply(429, 'Rate limit exceeded', { 'retry-after': String(rate.retryAfterSeconds) });
    }
    const params = rawParams.map(decodeParam);
    const body = req.method === 'GET' ? undefined : parseJsonBody(bodyText);
    return route.handle({ params, query, body, auth: client.auth, nowMs: Date.now() });
  }

  /** Auth0-style client-credentials grant: form-encoded (JSON is accepted too, as Auth0 does). */
  private issueToken(text: string, contentType: string): Reply {
    let form: Record<string, unknown>;
    if (contentType.includes('application/json')) {
      const parsed = parseJsonBody(text);
      form = isPlainObject(parsed) ? parsed : {};
    } else {
      form = Object.fromEntries(new URLSearchParams(text));
    }
    const grantType = form.grant_type;
    if (typeof grantType !== 'string' || grantType === '') {
      return jsonReply(400, {
        error: 'invalid_request',
        error_description: 'Missing required parameter: grant_type',
      });
    }
    if (grantType !== 'client_credentials') {
      return jsonReply(400, {
        error: 'unsupported_grant_type',
        error_description: `Grant type '${grantType}' not allowed for the client.`,
      });
    }
    const client = typeof form.client_id === 'string' ? this.clients.get(form.client_id) : undefined;
    if (!client || form.client_secret !== client.secret) {
      return jsonReply(401, { error: 'access_denied', error_description: 'Unauthorized' });
    }
    const lifetimeSeconds = this.config.tokenLifetimeSeconds;
    return jsonReply(
      200,
      {
        access_token: this.tokens.issue(client.auth.clientId, lifetimeSeconds, Date.now()),
        token_type: 'Bearer',
        expires_in: lifetimeSeconds,
        scope: 'pipeline-execution',
      },
      { 'cache-control': 'no-store' },
    );
  }

  private controlDeps() {
    return {
      world: this.world,
      faults: this.faults,
      counters: this.counters,
      requests: this.requests,
      tokens: this.tokens,
      config: this.config,
      reset: () => this.reset(),
    };
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private problemOf(error: unknown): Reply {
    if (error instanceof HttpProblem) return problemReply(error.status, error.detail, error.headers);
    if (!this.quiet) console.error('Maia emulator: unexpected error', error);
    return problemReply(500, 'Internal emulator error');
  }

  private fail(res: ServerResponse, error: unknown): void {
    const reply = this.problemOf(error);
    if (!res.headersSent && !res.destroyed) send(res, reply);
  }
}

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpProblem(400, 'Malformed URL encoding in path');
  }
}

function faultReply(fault: Fault, status: number): Reply {
  const headers = fault.headers ?? {};
  if (fault.body === undefined) return problemReply(status, `Injected fault ${fault.id}`, headers);
  if (typeof fault.body === 'string')
    return { status, body: fault.body, headers: { 'content-type': 'text/plain', ...headers } };
  return jsonReply(status, fault.body, headers);
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.destroyed) return;
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}

/** What `GET /` answers: the emulator's entry points, as paths on its own origin. */
function emulatorIndex(): Record<string, string> {
  return {
    name: 'Maia emulator',
    api: '/dpc/v1/projects',
    token: '/oauth/dpc/token',
    counters: '/__emulator/counters',
    config: '/__emulator/config',
    docs: 'docs/emulator.md in the maia-gateway repository',
  };
}
