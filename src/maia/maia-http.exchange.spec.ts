import axios, { AxiosError, type AxiosInstance, type AxiosRequestConfig } from 'axios';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { startBodyServer, type BodyServer } from '../../test/support/body-server';
import { leanAxiosDefaults } from './maia-http.exchange';
import { createUndiciAdapter, type UndiciAxiosAdapter } from './maia-undici.adapter';

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * Maia's axios instance with its defaults trimmed (`leanAxiosDefaults`) against a stock instance: the same
 * calls, through the undici adapter and through axios' own http adapter (used when a proxy is set), must
 * put the same request on the wire and come back with the same answer or error.
 */
describe('leanAxiosDefaults', () => {
  let server: BodyServer;
  let origin: string;
  let answer: (res: ServerResponse) => void;
  const seen: Seen[] = [];
  const adapters: UndiciAxiosAdapter[] = [];

  beforeAll(async () => {
    server = await startBodyServer((req, res, body) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      answer(res);
    });
    origin = server.origin;
  });

  afterAll(async () => {
    await Promise.all(adapters.map((adapter) => adapter.close(100)));
    await server.close();
  });

  beforeEach(() => {
    seen.length = 0;
    answer = (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Retry-After': '3' });
      res.end('{"ok":true}');
    };
  });

  /** A stock instance and a lean one, as MaiaHttpExchange configures them (undici, or axios' own). */
  const pair = (exchange: 'undici' | 'axios-http'): [AxiosInstance, AxiosInstance] => {
    const make = () => {
      if (exchange === 'axios-http') return axios.create({ proxy: false });
      const undici = createUndiciAdapter();
      adapters.push(undici);
      return axios.create({ adapter: undici.adapter, proxy: false });
    };
    const stock = make();
    const lean = make();
    leanAxiosDefaults(lean);
    return [stock, lean];
  };

  // What the transport and the token service send, and calls neither sends today (no Accept, no body).
  const calls: [string, () => AxiosRequestConfig][] = [
    [
      'an API GET',
      () => ({
        url: `${origin}/v1/projects/p1/pipeline-executions/e1?x=1`,
        method: 'GET',
        headers: { Authorization: 'Bearer t0k', Accept: 'application/json', 'x-request-id': 'r1' },
      }),
    ],
    [
      'the execute POST',
      () => ({
        url: `${origin}/v1/projects/p1/pipelines/execute`,
        method: 'POST',
        data: JSON.stringify({ pipelineName: 'load', environmentName: 'dev', parameters: { a: 1 } }),
        headers: {
          Authorization: 'Bearer t0k',
          Accept: 'application/json',
          'Content-Type': 'application/json',
        },
      }),
    ],
    [
      'the token POST',
      () => ({
        url: `${origin}/oauth/token`,
        method: 'POST',
        data: 'grant_type=client_credentials&client_id=c&client_secret=s',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      }),
    ],
    ['a PATCH without body or headers', () => ({ url: `${origin}/v1/x/cancel`, method: 'PATCH' })],
    ['a GET without Accept', () => ({ url: `${origin}/v1/projects`, method: 'GET' })],
  ];

  const common: AxiosRequestConfig = {
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    validateStatus: () => true,
    maxContentLength: 1_000_000,
    maxBodyLength: 1_000_000,
    maxRedirects: 0,
    timeout: 5_000,
  };

  describe.each(['undici', 'axios-http'] as const)('through the %s exchange', (exchange) => {
    it.each(calls)('%s: the same request on the wire and the same answer', async (_name, config) => {
      const [stock, lean] = pair(exchange);
      const fromStock = await stock.request<string>({ ...common, ...config() });
      const fromLean = await lean.request<string>({ ...common, ...config() });
      expect(seen).toHaveLength(2);
      expect(seen[1]).toEqual(seen[0]);
      expect(seen[0].headers.accept).toBeDefined();
      for (const response of [fromStock, fromLean]) {
        expect(response.status).toBe(200);
        expect(response.data).toBe('{"ok":true}');
        expect(response.headers['retry-after']).toBe('3');
      }
    });

    it('a timeout fails with the same code', async () => {
      answer = () => undefined; // never answers; the socket is destroyed in afterAll
      const [stock, lean] = pair(exchange);
      const codeOf = async (client: AxiosInstance) => {
        try {
          await client.request({ ...common, url: `${origin}/slow`, method: 'GET', timeout: 50 });
        } catch (error) {
          return error instanceof AxiosError ? error.code : 'not an AxiosError';
        }
        return 'answered';
      };
      expect(await codeOf(lean)).toBe(await codeOf(stock));
      expect(await codeOf(lean)).toBe('ECONNABORTED');
    });
  });

  it('leaves axios nothing to merge but one flat Accept', () => {
    const [, lean] = pair('axios-http');
    expect(lean.defaults.headers).toEqual({ Accept: 'application/json, text/plain, */*' });
    expect(lean.defaults.transitional).toBeUndefined();
  });
});
