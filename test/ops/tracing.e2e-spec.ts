import { createServer, type Server } from 'node:http';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv } from '../support/gateway-inprocess';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
}
interface OtlpExport {
  resourceSpans?: { resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

const SERVER = 2;
const CLIENT = 3;

/** An OTLP/HTTP (JSON) trace receiver on a random port, keeping every span it is sent. */
async function startOtlpReceiver(): Promise<{
  url: string;
  spans: OtlpSpan[];
  services: Set<string>;
  server: Server;
}> {
  const spans: OtlpSpan[] = [];
  const services = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.method === 'POST') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
        for (const rs of body.resourceSpans ?? []) {
          const name = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue;
          if (name) services.add(name);
          for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    spans,
    services,
    server,
  };
}

function attribute(span: OtlpSpan, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const value = span.attributes?.find((a) => a.key === key)?.value;
    if (value) return String(value.stringValue ?? value.intValue);
  }
  return undefined;
}

/**
 * With OTEL_EXPORTER_OTLP_ENDPOINT set, one client request is one trace: the gateway's server span, and
 * under it a client span for each Maia call made to answer it.
 */
describe('OpenTelemetry traces', () => {
  let maia: EmulatorFixture;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    maia = await startEmulatorFixture();
    receiver = await startOtlpReceiver();
    gateway = await startGatewayProcess(
      gatewayEnv(maia, {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_SERVICE_NAME: 'maia-gateway-under-test',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      }),
    );
  });
  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await new Promise((resolve) => receiver?.server.close(resolve));
    await maia?.close();
  });

  it('puts the gateway span and each Maia call span of one request in one trace', async () => {
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-me-1' },
      body: JSON.stringify({ query: '{ projects { results { id environments { results { name } } } } }' }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { errors?: unknown }).errors).toBeUndefined();
    expect((await fetch(`${gateway.url}/health/ready`)).status).toBe(200);

    const emulatorPort = String(new URL(maia.url).port);
    const isMaiaCall = (s: OtlpSpan) =>
      s.kind === CLIENT && attribute(s, 'server.port', 'net.peer.port') === emulatorPort;
    const upstreamCalls = (await maia.counters()).total;
    const giveUpAtMs = Date.now() + 10_000;
    while (receiver.spans.filter(isMaiaCall).length < upstreamCalls) {
      if (Date.now() > giveUpAtMs)
        throw new Error(`spans received: ${JSON.stringify(receiver.spans.map((s) => s.name))}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const serverSpans = receiver.spans.filter(
      (s) => s.kind === SERVER && attribute(s, 'url.path', 'http.target')?.startsWith('/graphql'),
    );
    expect(serverSpans).toHaveLength(1);
    const gatewaySpan = serverSpans[0];
    const maiaSpans = receiver.spans.filter(isMaiaCall);
    // token + projects + one environments call per project (batched by DataLoader), all in that trace.
    expect(maiaSpans.length).toBe(upstreamCalls);
    expect(upstreamCalls).toBeGreaterThanOrEqual(3);
    for (const span of maiaSpans) expect(span.traceId).toBe(gatewaySpan.traceId);

    // Each Maia span descends from the gateway span.
    const byId = new Map(receiver.spans.map((s) => [s.spanId, s]));
    for (const span of maiaSpans) {
      let current: OtlpSpan | undefined = span;
      while (current && current.spanId !== gatewaySpan.spanId) {
        current = current.parentSpanId ? byId.get(current.parentSpanId) : undefined;
      }
      expect(current?.spanId).toBe(gatewaySpan.spanId);
    }
    const apiSpan = maiaSpans.find((s) => attribute(s, 'url.full', 'http.url')?.includes('/dpc/v1/projects'));
    expect(apiSpan).toBeDefined();

    // Probes are not traced; the service is named as configured.
    expect(receiver.spans.some((s) => attribute(s, 'url.path', 'http.target')?.startsWith('/health'))).toBe(
      false,
    );
    expect([...receiver.services]).toEqual(['maia-gateway-under-test']);
  });
});
