import WebSocket from 'ws';
import { eventually } from '../support/eventually';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';

/**
 * `npm start` as a newcomer sees it (`node dist/main.js` with no Maia settings: sandbox mode): the terminal
 * shows lines a person reads, not JSON, and every address the start banner prints answers — opened as a
 * browser would (HTTP) or as a graphql-ws client would (the WebSocket URL).
 */

/** The banner: from its "listening on" line (plain stdout, the last thing printed at start) to the end. */
function bannerOf(output: string): string {
  const lines = output.split('\n');
  const first = lines.findIndex((line) => line.startsWith('maia-gateway (sandbox mode) listening on'));
  expect(first).toBeGreaterThanOrEqual(0);
  return lines.slice(first).join('\n');
}

/** Opens `url` with the graphql-transport-ws subprotocol and resolves with the server's first message. */
function graphqlWsAck(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    socket.once('message', (data: Buffer) => {
      socket.close();
      resolve(JSON.parse(data.toString('utf8')));
    });
    socket.once('error', reject);
  });
}

describe('the sandbox start banner', () => {
  let gateway: GatewayProcess;
  let banner: string;

  beforeAll(async () => {
    // What a newcomer has (log level and format at their defaults), on random ports.
    gateway = await startGatewayProcess({ HOST: '127.0.0.1', PORT: '0', SANDBOX_EMULATOR_PORT: '0' });
    // The process is "listening" at its log line; the banner (its last lines, ending in the curl examples)
    // follows on stdout.
    banner = await eventually(() => {
      const printed = bannerOf(gateway.output());
      expect(printed).toMatch(/curl -s \S+\/graphql .*\n/);
      return printed;
    });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('follows log lines a person reads: no JSON, the authentication warning on one line', () => {
    const logLines = gateway
      .output()
      .split('\n')
      .filter((line) => line.startsWith('[') || line.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(5);
    // Each "[time] LEVEL: [context] message"; none a JSON object.
    for (const line of logLines) expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|DEBUG): /);
    const warning = logLines.filter((line) => line.includes('AUTHENTICATION IS DISABLED'));
    expect(warning).toHaveLength(1);
    expect(warning[0]).toMatch(
      /WARN: \[Auth\] AUTHENTICATION IS DISABLED \(sandbox mode\): .* Set AUTH_API_KEYS or AUTH_JWKS_URL .* before exposing this gateway to anyone\.$/,
    );
    expect(gateway.output()).not.toContain('\\n');
  });

  it('lists what the README says it does', () => {
    const base = gateway.url.replace('127.0.0.1', '(127\\.0\\.0\\.1|localhost)');
    for (const path of [
      '/graphql   \\(open it in a browser: GraphiQL',
      '/api/v1/projects',
      '/api/docs-json',
      '/api/docs;',
      '/health/ready',
      '/health/live',
      '/metrics',
    ])
      expect(banner).toMatch(new RegExp(`${base}${path}`));
    expect(banner).toMatch(/GraphQL subscriptions \(graphql-ws\): ws:\/\/\S+\/graphql/);
    expect(banner).toMatch(/Maia emulator \(sandbox\): http:\/\/127\.0\.0\.1:\d+\//);
  });

  it('every HTTP address in it answers as a browser opens it', async () => {
    const urls = [...new Set([...banner.matchAll(/https?:\/\/[^\s;'")]+/g)].map((m) => m[0]))];
    expect(urls.length).toBeGreaterThanOrEqual(9);
    const answers = await Promise.all(
      urls.map(async (url) => {
        const response = await fetch(url.replace('localhost', '127.0.0.1'), {
          headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
        });
        await response.arrayBuffer();
        return `${response.status} ${url}`;
      }),
    );
    expect(answers).toEqual(urls.map((url) => `200 ${url}`));
  });

  it('the WebSocket address accepts a graphql-ws connection', async () => {
    const wsUrls = [...banner.matchAll(/ws:\/\/\S+/g)].map((m) => m[0].replace('localhost', '127.0.0.1'));
    expect(wsUrls).toHaveLength(1);
    await expect(graphqlWsAck(wsUrls[0])).resolves.toEqual({ type: 'connection_ack' });
  });
});

describe('the start banner with JSON logs (as production writes them)', () => {
  it('comes after every line logged during start-up', async () => {
    const gateway = await startGatewayProcess({
      HOST: '127.0.0.1',
      PORT: '0',
      SANDBOX_EMULATOR_PORT: '0',
      LOG_FORMAT: 'json',
    });
    try {
      const lines = await eventually(() => {
        const printed = gateway.output().split('\n');
        expect(printed.some((line) => /^\s+curl -s \S+\/graphql /.test(line))).toBe(true);
        expect(printed.some((line) => line.startsWith('{') && line.includes('listening on'))).toBe(true);
        return printed;
      });
      const json = lines.flatMap((line, index) => (line.startsWith('{') ? [index] : []));
      const listening = lines.findIndex((line) => line.startsWith('{') && line.includes('listening on'));
      const bannerStart = lines.findIndex((line) => line.startsWith('maia-gateway ('));
      expect(listening).toBeGreaterThanOrEqual(0);
      expect(json.length).toBeGreaterThan(5);
      // Nothing was asked of it, so no line is logged after start-up: every JSON line precedes the banner.
      expect(bannerStart).toBeGreaterThan(Math.max(...json));
    } finally {
      await gateway.stop();
    }
  });
});
