import { HttpService } from '@nestjs/axios';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  type AxiosError,
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import { createServer } from 'node:net';
import { gzipSync } from 'node:zlib';
import { startBodyServer, type BodyServer } from '../../test/support/body-server';
import { eventually } from '../../test/support/eventually';
import { ConfigModule, loadConfig } from '../config';
import { RedisModule } from '../redis/redis.module';
import { UPSTREAM_OBSERVER, type UpstreamObserver } from './maia-observer';
import { MaiaModule } from './maia.module';
import { MaiaTransport, type MaiaRequest } from './maia.transport';

/** What the server received: everything on the wire but the socket. */
interface Seen {
  method?: string;
  url?: string;
  rawHeaders: string[];
  body: string;
}

/** The transport's private attempt: one exchange with the headers it builds, and the result it judges. */
type Attempt = (request: MaiaRequest, url: string, token: string, timeoutMs: number) => Promise<unknown>;

const bigBody = JSON.stringify({ items: 'x'.repeat(4_000) });

/**
 * API calls skip axios' request pipeline while that is unobservable (ADR 0047). Against a real local
 * server: the same calls through the direct path and through axios' pipeline (forced by a pass-through
 * interceptor, which changes nothing else) put the same bytes on the wire and give the transport the same
 * answer or failure; an interceptor or a default that the direct path would skip sends calls through
 * axios again.
 */
describe('MaiaTransport: API calls with and without axios’ pipeline', () => {
  let server: BodyServer;
  let moduleRef: TestingModule;
  let transport: MaiaTransport;
  let axiosRef: AxiosInstance;
  let requestSpy: jest.SpyInstance;
  const seen: Seen[] = [];
  const observer: UpstreamObserver = {
    upstreamCall: () => undefined,
    tokenRefresh: () => undefined,
    rateLimitCooldown: () => undefined,
  };
  let closedOrigin: string;

  beforeAll(async () => {
    server = await startBodyServer((req, res, body) => {
      res.sendDate = false; // the two paths' answers differ in nothing but what the test sends
      const url = req.url ?? '';
      if (url === '/oauth/token') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"access_token":"t0k","token_type":"Bearer","expires_in":3600}');
        return;
      }
      seen.push({ method: req.method, url, rawHeaders: req.rawHeaders, body });
      if (url.startsWith('/dpc/v1/slow')) return; // never answers; sockets are destroyed in afterAll
      if (url.startsWith('/dpc/v1/drop')) {
        req.socket.destroy();
        return;
      }
      if (url.startsWith('/dpc/v1/big')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(bigBody);
        return;
      }
      if (url.startsWith('/dpc/v1/gzip')) {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
        res.end(gzipSync('{"zipped":true}'));
        return;
      }
      if (url.startsWith('/dpc/v1/missing')) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end('{"message":"no such run"}');
        return;
      }
      res.writeHead(req.method === 'POST' ? 201 : 200, {
        'Content-Type': 'application/json',
        'Retry-After': '3',
        'X-Maia-Trace': ' padded ',
      });
      res.end(JSON.stringify({ method: req.method, body }));
    });

    // A port nothing listens on: connection refused, the request never sent.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedOrigin = `http://127.0.0.1:${(probe.address() as { port: number }).port}`;
    await new Promise((resolve) => probe.close(resolve));

    const config = loadConfig({
      MAIA_BASE_URL: `${server.origin}/dpc`,
      MAIA_TOKEN_URL: `${server.origin}/oauth/token`,
      MAIA_CLIENT_ID: 'client',
      MAIA_CLIENT_SECRET: 'secret',
      MAIA_ACCOUNT_ID: 'acct-1',
      MAIA_MAX_RESPONSE_BYTES: '1024',
      MAIA_MAX_ATTEMPTS: '1',
      LOG_LEVEL: 'silent',
      GATEWAY_MODE: 'development',
    });
    // The observer makes MaiaTokenObserver install its interceptors, as in the gateway.
    const observerModule = {
      module: class ObserverModule {},
      global: true,
      providers: [{ provide: UPSTREAM_OBSERVER, useValue: observer }],
      exports: [UPSTREAM_OBSERVER],
    };
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(config), RedisModule, MaiaModule, observerModule],
    }).compile();
    await moduleRef.init();
    transport = moduleRef.get(MaiaTransport);
    axiosRef = moduleRef.get(HttpService, { strict: false }).axiosRef;
  });

  afterAll(async () => {
    await moduleRef.close();
    await server.close();
  });

  beforeEach(() => {
    seen.length = 0;
    requestSpy = jest.spyOn(axiosRef, 'request');
  });

  afterEach(() => {
    requestSpy.mockRestore();
  });

  /** API calls through axios' pipeline: the calls that went through `axios.request` to the API. */
  const pipelineApiCalls = () =>
    requestSpy.mock.calls.filter(([config]) => String((config as { url?: string }).url).includes('/dpc/v1/'))
      .length;

  /** Runs `body` with a pass-through interceptor pair on the instance: axios' pipeline, nothing else. */
  const withPipeline = async <T>(body: () => Promise<T>): Promise<T> => {
    const { request, response } = axiosRef.interceptors;
    const requestId = request.use((config: InternalAxiosRequestConfig) => config);
    const responseId = response.use((answer: AxiosResponse) => answer);
    try {
      return await body();
    } finally {
      request.eject(requestId);
      response.eject(responseId);
    }
  };

  /** What the transport got from one attempt, in a form to compare (the response's config left out). */
  const attempt = async (request: MaiaRequest, url: string, timeoutMs = 2_000) => {
    const result = (await (transport as unknown as { attempt: Attempt }).attempt(
      request,
      url,
      't0k',
      timeoutMs,
    )) as { kind: string; response?: AxiosResponse<string> };
    if (!result.response) return result;
    const { status, statusText, headers, data } = result.response;
    return { kind: result.kind, status, statusText, headers: { ...headers }, data };
  };

  const api = (path: string) => `${server.origin}/dpc${path}`;
  /** A listing of `/v1/ok`, with these call options. */
  const listOk = (options?: MaiaRequest['options']): MaiaRequest => ({
    route: 'listProjects',
    method: 'GET',
    path: '/v1/ok',
    retry: 'idempotent',
    ...(options ? { options } : {}),
  });

  const cases: [string, () => { request: MaiaRequest; url: string; timeoutMs?: number }][] = [
    [
      'a GET with a query and a request id',
      () => ({
        request: {
          route: 'getExecution',
          method: 'GET',
          path: '/v1/ok',
          retry: 'idempotent',
          options: { requestId: 'req-1' },
        },
        url: api('/v1/ok?page=2&status=RUNNING'),
      }),
    ],
    [
      'the execute POST',
      () => ({
        request: {
          route: 'executePipeline',
          method: 'POST',
          path: '/v1/ok',
          body: { pipelineName: 'FOLDER/load.orch.yaml', environmentName: 'Dev', parameters: { a: 'é' } },
          retry: 'never-after-send',
        },
        url: api('/v1/ok'),
      }),
    ],
    [
      'the cancel PATCH',
      () => ({
        request: {
          route: 'cancelExecution',
          method: 'PATCH',
          path: '/v1/ok',
          body: { status: 'CANCELLED', forceUpdate: false },
          retry: 'once',
        },
        url: api('/v1/ok'),
      }),
    ],
    [
      'a PATCH without a body (axios adds a form Content-Type)',
      () => ({
        request: { route: 'cancelExecution', method: 'PATCH', path: '/v1/ok', retry: 'once' },
        url: api('/v1/ok'),
      }),
    ],
    [
      'a request id AxiosHeaders would trim and clean',
      () => ({
        request: listOk({ requestId: ' req\u0001-2\t' }),
        url: api('/v1/ok'),
      }),
    ],
    [
      'a 404 with a body',
      () => ({
        request: { route: 'getExecution', method: 'GET', path: '/v1/missing', retry: 'idempotent' },
        url: api('/v1/missing'),
      }),
    ],
    [
      'a gzip answer',
      () => ({
        request: { route: 'listAgents', method: 'GET', path: '/v1/gzip', retry: 'idempotent' },
        url: api('/v1/gzip'),
      }),
    ],
    [
      'a timeout',
      () => ({
        request: { route: 'getExecution', method: 'GET', path: '/v1/slow', retry: 'idempotent' },
        url: api('/v1/slow'),
        timeoutMs: 50,
      }),
    ],
    [
      'an answer larger than allowed',
      () => ({
        request: { route: 'listExecutions', method: 'GET', path: '/v1/big', retry: 'idempotent' },
        url: api('/v1/big'),
      }),
    ],
    [
      'a connection lost after the request was sent',
      () => ({
        request: {
          route: 'executePipeline',
          method: 'POST',
          path: '/v1/drop',
          body: {},
          retry: 'never-after-send',
        },
        url: api('/v1/drop'),
      }),
    ],
    [
      'a connection refused (never sent)',
      () => ({
        request: listOk(),
        url: `${closedOrigin}/dpc/v1/ok`,
      }),
    ],
    [
      'an invalid URL',
      () => ({
        request: listOk(),
        url: 'ftp://127.0.0.1/dpc/v1/ok',
      }),
    ],
    [
      'a signal aborted before the call',
      () => ({
        request: listOk({ signal: AbortSignal.abort() }),
        url: api('/v1/ok'),
      }),
    ],
  ];

  it.each(cases)('%s: the same on the wire and the same result', async (_name, make) => {
    const call = make();
    const direct = await attempt(call.request, call.url, call.timeoutMs);
    expect(pipelineApiCalls()).toBe(0);
    const piped = await withPipeline(() => attempt(call.request, call.url, call.timeoutMs));
    expect(pipelineApiCalls()).toBe(1);

    expect(piped).toEqual(direct);
    expect(seen.length % 2).toBe(0);
    expect(seen.slice(seen.length / 2)).toEqual(seen.slice(0, seen.length / 2));
  });

  it('the answers and failures are the ones each case is about', async () => {
    const kinds: unknown[] = [];
    for (const [, make] of cases) {
      const call = make();
      const result = (await attempt(call.request, call.url, call.timeoutMs)) as Record<string, unknown>;
      kinds.push(result.kind === 'response' ? result.status : result);
    }
    expect(kinds).toEqual([
      200,
      201,
      200,
      200,
      200,
      404,
      200,
      { kind: 'timeout' },
      { kind: 'too-large' },
      { kind: 'network', sent: true, code: 'ECONNRESET' },
      { kind: 'network', sent: false, code: 'ECONNREFUSED' },
      { kind: 'network', sent: true, code: 'ERR_INVALID_URL' },
      { kind: 'aborted' },
    ]);
    const headersOf = (index: number) => {
      const raw = seen[index].rawHeaders;
      return Object.fromEntries(raw.flatMap((v, i) => (i % 2 === 0 ? [[v.toLowerCase(), raw[i + 1]]] : [])));
    };
    // The GET: what axios sent before, User-Agent and Accept-Encoding included.
    expect(headersOf(0)).toMatchObject({
      accept: 'application/json',
      authorization: 'Bearer t0k',
      'account-id': 'acct-1',
      'x-request-id': 'req-1',
      'user-agent': expect.stringMatching(/^axios\//) as unknown,
      'accept-encoding': 'gzip, deflate, br',
    });
    expect(headersOf(3)['content-type']).toBe('application/x-www-form-urlencoded');
    expect(headersOf(4)['x-request-id']).toBe('req-2');
  });

  it('a caller abort while the request is in flight: aborted on both paths', async () => {
    const inFlight = async () => {
      const controller = new AbortController();
      const before = seen.length;
      const result = attempt(
        {
          route: 'getExecution',
          method: 'GET',
          path: '/v1/slow',
          retry: 'idempotent',
          options: { signal: controller.signal },
        },
        api('/v1/slow'),
      );
      await eventually(() => seen.length > before);
      controller.abort();
      return result;
    };
    const direct = await inFlight();
    const piped = await withPipeline(inFlight);
    expect(direct).toEqual({ kind: 'aborted' });
    expect(piped).toEqual(direct);
  });

  it('token calls keep going through axios, seen by the token observer', async () => {
    const refreshes = jest.spyOn(observer, 'tokenRefresh');
    const tokens = (transport as unknown as { tokens: { invalidate(token: string): Promise<void> } }).tokens;
    await tokens.invalidate('t0k');
    await transport.request({ route: 'listProjects', method: 'GET', path: '/v1/ok', retry: 'idempotent' });
    const urls = requestSpy.mock.calls.map(([config]) => (config as { url?: string }).url);
    expect(urls).toEqual([`${server.origin}/oauth/token`]);
    expect(refreshes.mock.calls).toEqual([['success']]);
    expect(seen.map((s) => s.url)).toEqual(['/dpc/v1/ok']);
    refreshes.mockRestore();
  });

  describe('an interceptor that is not the gateway’s sees API calls again', () => {
    const call = () =>
      transport.request({
        route: 'getExecution',
        method: 'GET',
        path: '/v1/ok',
        query: { page: 1 },
        retry: 'idempotent',
      });

    it('a request interceptor sees every API call, and may change it; ejected, the direct path is back', async () => {
      const urls: string[] = [];
      const id = axiosRef.interceptors.request.use((config: InternalAxiosRequestConfig) => {
        urls.push(config.url ?? '');
        config.headers.set('X-Trace-Id', 'trace-1');
        return config;
      });
      try {
        await call();
        await call();
      } finally {
        axiosRef.interceptors.request.eject(id);
      }
      expect(urls).toEqual([api('/v1/ok?page=1'), api('/v1/ok?page=1')]);
      expect(seen.map((s) => s.rawHeaders.includes('X-Trace-Id'))).toEqual([true, true]);

      await call();
      expect(urls).toHaveLength(2);
      expect(seen[2].rawHeaders.includes('X-Trace-Id')).toBe(false);
      expect(pipelineApiCalls()).toBe(2);
    });

    it('a response interceptor sees every API answer', async () => {
      const statuses: number[] = [];
      const id = axiosRef.interceptors.response.use((response: AxiosResponse) => {
        if (String(response.config.url).includes('/dpc/v1/')) statuses.push(response.status);
        return response;
      });
      try {
        await call();
        await transport.request({
          route: 'executePipeline',
          method: 'POST',
          path: '/v1/ok',
          body: {},
          retry: 'never-after-send',
        });
      } finally {
        axiosRef.interceptors.response.eject(id);
      }
      expect(statuses).toEqual([200, 201]);
    });

    it('a response interceptor registered for failures only sees API failures', async () => {
      const codes: unknown[] = [];
      const id = axiosRef.interceptors.response.use(null, (error: AxiosError) => {
        codes.push(error.code);
        return Promise.reject(error);
      });
      try {
        await expect(
          transport.request({ route: 'listProjects', method: 'GET', path: '/v1/big', retry: 'idempotent' }),
        ).rejects.toThrow();
      } finally {
        axiosRef.interceptors.response.eject(id);
      }
      expect(codes).toEqual(['ERR_BAD_RESPONSE']);
    });

    it('a default the direct path would not send sends calls through axios', async () => {
      const headers = axiosRef.defaults.headers as unknown as Record<string, string>;
      headers['X-Tenant'] = 'blue';
      try {
        await call();
      } finally {
        delete headers['X-Tenant'];
      }
      await call();
      expect(seen.map((s) => s.rawHeaders.includes('X-Tenant'))).toEqual([true, false]);
      expect(pipelineApiCalls()).toBe(1);
    });
  });
});
