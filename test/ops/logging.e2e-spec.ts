import { createServer, type IncomingMessage, type Server } from 'node:http';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv } from '../support/gateway-env';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';

interface SeenByMaia {
  path: string;
  requestId: string | undefined;
}

/** A pass-through proxy in front of the emulator that records the x-request-id of every API call. */
async function recordingProxy(target: string, seen: SeenByMaia[]): Promise<{ url: string; server: Server }> {
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', requestId: req.headers['x-request-id'] as string | undefined });
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)),
      ) as Record<string, string>;
      void fetch(`${target}${req.url}`, {
        method: req.method,
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      }).then(
        async (upstream) => {
          res.writeHead(upstream.status, {
            'content-type': upstream.headers.get('content-type') ?? 'text/plain',
          });
          res.end(Buffer.from(await upstream.arrayBuffer()));
        },
        () => res.destroy(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, server };
}

interface LogLine {
  level: number;
  msg?: string;
  requestId?: string;
  req?: { headers?: Record<string, string> };
  [key: string]: unknown;
}

/** The JSON log lines of a process's output (a half-written last line throws, and is read again later). */
function jsonLinesOf(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/**
 * The logs of a real gateway process: JSON lines, a request id on every line logged while serving a
 * request (the caller's `x-request-id`, also sent to Maia), and no secret anywhere.
 */
describe('structured logs', () => {
  let maia: EmulatorFixture;
  let proxy: { url: string; server: Server };
  let gateway: GatewayProcess;
  const seen: SeenByMaia[] = [];

  beforeAll(async () => {
    maia = await startEmulatorFixture();
    proxy = await recordingProxy(maia.url, seen);
    gateway = await startGatewayProcess(
      gatewayEnv(
        { url: proxy.url, clientId: maia.clientId, clientSecret: maia.clientSecret },
        { LOG_LEVEL: 'debug', MAIA_RETRY_BASE_DELAY_MS: '1', MAIA_RETRY_MAX_DELAY_MS: '1' },
      ),
    );
  });
  afterAll(async () => {
    await gateway?.stop('SIGTERM');
    await new Promise((resolve) => proxy?.server.close(resolve));
    await maia?.close();
  });

  it('logs JSON with the request id on every line of a request, sends it to Maia, and redacts secrets', async () => {
    await maia.addFault({ route: 'listProjects', status: 503, count: 1 });
    const requestId = 'ops-log-test-0001';
    const secrets = {
      authorization: 'Bearer caller-bearer-value-123',
      'x-api-key': 'caller-api-key-456',
      cookie: 'session=caller-cookie-789',
    };
    const response = await fetch(`${gateway.url}/api/v1/projects`, {
      headers: { 'x-request-id': requestId, ...secrets },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe(requestId);

    // Maia got the same id on both attempts (the 503 and the retry); the token call carries none.
    const apiCalls = seen.filter((s) => s.path.startsWith('/dpc/v1/projects'));
    expect(apiCalls).toHaveLength(2);
    expect(apiCalls.map((s) => s.requestId)).toEqual([requestId, requestId]);

    // Without an x-request-id the gateway makes one: the same in its answer, its logs and to Maia.
    const seenBefore = seen.length;
    const anonymous = await fetch(`${gateway.url}/api/v1/projects?page=1&size=2`);
    expect(anonymous.status).toBe(200);
    const generatedId = anonymous.headers.get('x-request-id') as string;
    expect(generatedId).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen.slice(seenBefore).filter((s) => s.path.startsWith('/dpc/v1/projects'))).toEqual([
      { path: '/dpc/v1/projects?page=1&size=2', requestId: generatedId },
    ]);

    // The log lines reach the gateway's stdout a little after the answers.
    const jsonLines = await eventually(() => {
      const lines = jsonLinesOf(gateway.output());
      expect(lines.filter((l) => l.msg === 'request completed').map((l) => l.requestId)).toEqual(
        expect.arrayContaining([requestId, generatedId]),
      );
      return lines;
    });
    const output = gateway.output();
    expect(jsonLines.length).toBeGreaterThan(5);

    const ofRequest = jsonLines.filter((l) => l.requestId === requestId);
    // The retry's debug line and the request's completion line, at least, both with the id.
    const retryLine = jsonLines.find((l) => l.msg?.includes('listProjects') && l.msg.includes('retry'));
    expect(retryLine?.requestId).toBe(requestId);
    const completion = ofRequest.find((l) => l.msg === 'request completed');
    expect(completion?.req?.headers).toMatchObject({
      authorization: '[REDACTED]',
      'x-api-key': '[REDACTED]',
      cookie: '[REDACTED]',
    });
    expect(jsonLines.find((l) => l.msg === 'request completed' && l.requestId === generatedId)).toBeDefined();
    // Every completion line names its request.
    const completions = jsonLines.filter((l) => l.msg === 'request completed');
    expect(completions.length).toBeGreaterThanOrEqual(2);
    expect(completions.filter((l) => typeof l.requestId !== 'string')).toEqual([]);

    // No line, of this request or any other, carries a secret: the caller's or Maia's.
    for (const secret of [...Object.values(secrets), 'caller-bearer-value-123', maia.clientSecret]) {
      expect(output).not.toContain(secret);
    }
  });

  it('logs a read answered from the hot-read cache like any other, under its own request id', async () => {
    const path = '/api/v1/projects?page=0&size=3';
    const first = await fetch(`${gateway.url}${path}`, { headers: { 'x-request-id': 'ops-log-hot-miss' } });
    const seenBefore = seen.length;
    // Within the hot-read TTL (1 s by default): answered from memory, nothing reaches Maia.
    const again = await fetch(`${gateway.url}${path}`, {
      headers: { 'x-request-id': 'ops-log-hot-hit', 'x-api-key': 'caller-api-key-456' },
    });
    expect([first.status, again.status, again.headers.get('x-request-id')]).toEqual([
      200,
      200,
      'ops-log-hot-hit',
    ]);
    expect(await again.text()).toBe(await first.text());
    expect(seen.slice(seenBefore)).toEqual([]);

    const completion = await eventually(() => {
      const found = jsonLinesOf(gateway.output()).find(
        (l) => l.msg === 'request completed' && l.requestId === 'ops-log-hot-hit',
      );
      expect(found).toBeDefined();
      return found;
    });
    expect(completion).toMatchObject({ res: { statusCode: 200 }, req: { method: 'GET', url: path } });
    expect(completion?.req?.headers?.['x-api-key']).toBe('[REDACTED]');
  });
});
