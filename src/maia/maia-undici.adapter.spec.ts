import axios, { AxiosError, type AxiosInstance } from 'axios';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { startBodyServer, type BodyServer } from '../../test/support/body-server';
import { proxyConfigured } from './maia-http.exchange';
import { neverSentCodes as neverSent } from './maia-errors';
import { axiosCodeOf, createUndiciAdapter, type UndiciAxiosAdapter } from './maia-undici.adapter';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

describe('undici axios adapter', () => {
  let server: BodyServer;
  let origin: string;
  let handler: Handler;
  let undici: UndiciAxiosAdapter;
  let client: AxiosInstance;

  beforeAll(async () => {
    server = await startBodyServer((req, res, body) => handler(req, res, body));
    origin = server.origin;
  });

  afterAll(async () => {
    await server.close();
  });

  beforeEach(() => {
    undici = createUndiciAdapter();
    client = axios.create({ adapter: undici.adapter, proxy: false });
  });

  afterEach(async () => {
    await undici.close(100);
  });

  /** What the transport sends, give or take the URL. */
  const call = (path: string, extra: Parameters<AxiosInstance['request']>[0] = {}) =>
    client.request<string>({
      url: origin + path,
      method: 'GET',
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxRedirects: 0,
      ...extra,
    });

  const failure = async (promise: Promise<unknown>): Promise<AxiosError> => {
    try {
      await promise;
    } catch (error) {
      expect(error).toBeInstanceOf(AxiosError);
      return error as AxiosError;
    }
    throw new Error('expected the call to fail');
  };

  it('headers given as a plain object go on the wire as AxiosHeaders would send them', async () => {
    const seen: string[][] = [];
    handler = (req, res) => {
      seen.push(req.rawHeaders);
      res.end();
    };
    const given = [
      { Accept: 'application/json', Authorization: 'Bearer t0k', 'x-request-id': 'r1' },
      // Values AxiosHeaders changes: a control character, blanks at the ends.
      { Accept: 'application/json', 'x-request-id': ' r\u0001-2\t' },
      // A value that is not a string.
      { Accept: 'application/json', 'x-count': 3 as unknown as string },
    ];
    for (const headers of given) {
      const config = { url: `${origin}/v1/h`, method: 'get', timeout: 1_000, validateStatus: () => true };
      await undici.adapter({ ...config, headers } as never); // as the transport's direct path gives them
      await client.request({ ...config, headers }); // through axios: an AxiosHeaders
    }
    expect(seen).toHaveLength(6);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[3]).toEqual(seen[2]);
    expect(seen[5]).toEqual(seen[4]);
    expect(seen[2]).toEqual(expect.arrayContaining(['x-request-id', 'r-2']));
    expect(seen[4]).toEqual(expect.arrayContaining(['x-count', '3']));
  });

  it('sends method, path, query, headers and body; answers status, headers and text', async () => {
    let seen: { method?: string; url?: string; headers?: IncomingMessage['headers']; body?: string } = {};
    handler = (req, res, body) => {
      seen = { method: req.method, url: req.url, headers: req.headers, body };
      res.writeHead(201, 'Made', { 'Content-Type': 'application/json', 'X-Thing': 'a' });
      res.end('{"ok":true}');
    };
    const response = await call('/v1/things?x=1&y=%C3%A9', {
      method: 'POST',
      data: JSON.stringify({ a: 'é' }),
      headers: { Authorization: 'Bearer t0k', 'Content-Type': 'application/json', 'x-request-id': 'r1' },
    });
    expect(response.status).toBe(201);
    expect(response.statusText).toBe('Made');
    expect(response.data).toBe('{"ok":true}');
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['x-thing']).toBe('a');
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/v1/things?x=1&y=%C3%A9');
    expect(seen.body).toBe('{"a":"é"}');
    expect(seen.headers).toMatchObject({
      authorization: 'Bearer t0k',
      'content-type': 'application/json',
      'x-request-id': 'r1',
      'content-length': String(Buffer.byteLength('{"a":"é"}')),
      'user-agent': `axios/${axios.VERSION}`,
    });
  });

  it('builds the URL from baseURL and params', async () => {
    let url = '';
    handler = (req, res) => {
      url = req.url ?? '';
      res.end('');
    };
    await call('', { url: '/v1/items', baseURL: `${origin}/api`, params: { q: 'a b', n: 2 } });
    expect(url).toBe('/api/v1/items?q=a+b&n=2');
  });

  it('keeps connections alive between calls', async () => {
    const ports: number[] = [];
    handler = (req, res) => {
      ports.push(req.socket.remotePort ?? 0);
      res.end('x');
    };
    // undici frees a connection just after the body ends, so back-to-back calls may open a second one.
    for (let i = 0; i < 6; i += 1) await call('/');
    expect(new Set(ports).size).toBeLessThanOrEqual(2);
  });

  it('a non-2xx answer resolves when validateStatus accepts it, and rejects with the response otherwise', async () => {
    handler = (_req, res) => {
      res.writeHead(503, { 'Retry-After': '2' });
      res.end('{"title":"busy"}');
    };
    const accepted = await call('/');
    expect(accepted.status).toBe(503);
    expect(accepted.headers['retry-after']).toBe('2');
    expect(accepted.data).toBe('{"title":"busy"}');

    const rejected = await failure(call('/', { validateStatus: (s) => s < 500 }));
    expect(rejected.code).toBe('ERR_BAD_RESPONSE');
    expect(rejected.response?.status).toBe(503);
  });

  it('a gzip body is decoded and its content-encoding dropped', async () => {
    handler = (req, res) => {
      expect(req.headers['accept-encoding']).toContain('gzip');
      res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Type': 'application/json' });
      res.end(gzipSync('{"zipped":"yes"}'));
    };
    const response = await call('/');
    expect(response.data).toBe('{"zipped":"yes"}');
    expect(response.headers['content-encoding']).toBeUndefined();
  });

  it('timeout: the whole exchange is bounded, ECONNABORTED', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('partial');
      setTimeout(() => res.end(), 1000).unref();
    };
    const started = Date.now();
    const error = await failure(call('/', { timeout: 150, headers: { Authorization: 'Bearer secret' } }));
    expect(error.code).toBe('ECONNABORTED');
    expect(error.message).toBe('timeout of 150ms exceeded');
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('abort: ERR_CANCELED, before or during the exchange', async () => {
    const controller = new AbortController();
    handler = () => controller.abort(); // never answers; the caller gives up once the request is there
    const pending = call('/', { signal: controller.signal });
    const error = await failure(pending);
    expect(error.code).toBe('ERR_CANCELED');
    expect(axios.isCancel(error)).toBe(true);

    const early = await failure(call('/', { signal: AbortSignal.abort() }));
    expect(early.code).toBe('ERR_CANCELED');
  });

  it('too large: ERR_BAD_RESPONSE naming maxContentLength, whether declared or streamed', async () => {
    handler = (_req, res) => res.end('x'.repeat(5000));
    const declared = await failure(call('/', { maxContentLength: 1000 }));
    expect(declared.code).toBe('ERR_BAD_RESPONSE');
    expect(declared.message).toBe('maxContentLength size of 1000 exceeded');

    handler = (_req, res) => {
      res.writeHead(200); // chunked: no declared length
      res.write('x'.repeat(800));
      res.end('x'.repeat(800));
    };
    const streamed = await failure(call('/', { maxContentLength: 1000 }));
    expect(streamed.code).toBe('ERR_BAD_RESPONSE');
    expect(streamed.message).toMatch(/maxContentLength/);

    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Encoding': 'gzip' });
      res.end(gzipSync('x'.repeat(5000)));
    };
    const inflated = await failure(call('/', { maxContentLength: 1000 }));
    expect(inflated.code).toBe('ERR_BAD_RESPONSE');
    expect(inflated.message).toMatch(/maxContentLength/);

    handler = (_req, res) => res.end('x'.repeat(1000));
    expect((await call('/', { maxContentLength: 1000 })).data).toHaveLength(1000);
  });

  it('connection refused: ECONNREFUSED (never sent)', async () => {
    const closed = await startBodyServer(() => undefined);
    await closed.close();
    const error = await failure(
      call('', {
        url: `${closed.origin}/v1/x?secret=1`,
        headers: { Authorization: 'Bearer s3cr3t' },
      }),
    );
    expect(error.code).toBe('ECONNREFUSED');
    expect(neverSent.has(error.code ?? '')).toBe(true);
    expect(error.message).not.toMatch(/s3cr3t|secret=1/);
  });

  it('socket destroyed after the request arrived: a code outside the never-sent set', async () => {
    handler = (req) => req.socket.destroy();
    const error = await failure(
      call('/v1/execute?token=q', {
        method: 'POST',
        data: '{"secret":"body"}',
        headers: { Authorization: 'Bearer s3cr3t' },
      }),
    );
    expect(error.code).toBe('ECONNRESET');
    expect(neverSent.has(error.code ?? '')).toBe(false);
    expect(['ECONNABORTED', 'ETIMEDOUT', 'ERR_CANCELED']).not.toContain(error.code);
    expect(error.message).not.toMatch(/s3cr3t|token=q|secret/);
  });

  it('socket destroyed in the middle of the body: a code outside the never-sent set', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'Content-Length': '100' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 20);
    };
    const error = await failure(call('/'));
    expect(error.code).toBe('ECONNRESET');
    expect(neverSent.has(error.code ?? '')).toBe(false);
  });

  it('refuses the options no Maia call uses instead of ignoring them', async () => {
    handler = (_req, res) => res.end('x');
    const auth = await failure(call('/', { auth: { username: 'u', password: 'p' } }));
    expect([auth.code, auth.message]).toEqual(['ERR_NOT_SUPPORT', 'auth is not supported by this adapter']);
    const bytes = await failure(call('/', { responseType: 'arraybuffer' }));
    expect(bytes.code).toBe('ERR_NOT_SUPPORT');
    const typedArray = await failure(call('/', { data: new Uint8Array([1]), method: 'POST' }));
    expect(typedArray.code).toBe('ERR_BAD_REQUEST');
  });

  it('refuses after close', async () => {
    await undici.close();
    const error = await failure(call('/'));
    expect(error.code).toBe('ERR_CLIENT_CLOSED');
  });
});

describe('axiosCodeOf', () => {
  it('keeps connection-phase codes raised while connecting or resolving', () => {
    expect(axiosCodeOf(Object.assign(new Error('x'), { code: 'ECONNREFUSED', syscall: 'connect' }))).toBe(
      'ECONNREFUSED',
    );
    expect(axiosCodeOf(Object.assign(new Error('x'), { code: 'ENOTFOUND', syscall: 'getaddrinfo' }))).toBe(
      'ENOTFOUND',
    );
    const aggregate = Object.assign(
      new AggregateError([Object.assign(new Error('a'), { code: 'EHOSTUNREACH', syscall: 'connect' })]),
    );
    expect(axiosCodeOf(aggregate)).toBe('EHOSTUNREACH');
  });

  it('the same codes on an established socket mean the request may have left', () => {
    expect(axiosCodeOf(Object.assign(new Error('x'), { code: 'EHOSTUNREACH', syscall: 'read' }))).toBe(
      'ECONNRESET',
    );
  });

  it("maps undici's own codes", () => {
    expect(axiosCodeOf(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }))).toBe('ECONNRESET');
    expect(axiosCodeOf(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }))).toBe('ETIMEDOUT');
    expect(axiosCodeOf(Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' }))).toBe('ETIMEDOUT');
    expect(axiosCodeOf(new Error('no code'))).toBe('ERR_NETWORK');
  });
});

describe('proxyConfigured', () => {
  it('sees the proxy variables axios would follow, in either case', () => {
    expect(proxyConfigured({})).toBe(false);
    expect(proxyConfigured({ NO_PROXY: '*' })).toBe(false);
    expect(proxyConfigured({ HTTPS_PROXY: 'http://proxy:3128' })).toBe(true);
    expect(proxyConfigured({ http_proxy: 'proxy:3128' })).toBe(true);
    expect(proxyConfigured({ ALL_PROXY: 'http://proxy:3128' })).toBe(true);
    expect(proxyConfigured({ HTTP_PROXY: '' })).toBe(false);
  });
});
