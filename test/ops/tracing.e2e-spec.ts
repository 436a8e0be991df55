import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv } from '../support/gateway-env';
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
  /** The instrumentation that made the span (its scope), added by the receiver below. */
  scope?: string;
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { scope?: { name?: string }; spans?: OtlpSpan[] }[];
  }[];
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
          for (const ss of rs.scopeSpans ?? [])
            for (const span of ss.spans ?? []) spans.push({ ...span, scope: ss.scope?.name });
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

/** What the emulator received: path and `traceparent` of each request to its port, seen from node's http server. */
function recordRequestsTo(port: () => number): {
  received: { path: string; traceparent?: string }[];
  stop(): void;
} {
  const received: { path: string; traceparent?: string }[] = [];
  const onStart = (message: unknown) => {
    const request = (message as { request: IncomingMessage }).request;
    if (request.socket.localPort !== port()) return;
    const traceparent = request.headers.traceparent;
    received.push({
      path: request.url ?? '',
      traceparent: typeof traceparent === 'string' ? traceparent : undefined,
    });
  };
  subscribe('http.server.request.start', onStart);
  return { received, stop: () => unsubscribe('http.server.request.start', onStart) };
}

/**
 * With OTEL_EXPORTER_OTLP_ENDPOINT set, one client request is one trace: the gateway's server span, and
 * under it a client span for each Maia call made to answer it, made by the undici instrumentation (the Maia
 * client's axios runs on the undici adapter, tracing or not), and Maia receives that span as `traceparent`.
 */
describe('OpenTelemetry traces', () => {
  let maia: EmulatorFixture;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let gateway: GatewayProcess;
  let maiaRequests: ReturnType<typeof recordRequestsTo>;

  beforeAll(async () => {
    maia = await startEmulatorFixture();
    maiaRequests = recordRequestsTo(() => maia.emulator.port);
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
    maiaRequests?.stop();
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
    await eventually(
      () => {
        if (receiver.spans.filter(isMaiaCall).length < upstreamCalls)
          throw new Error(`spans received: ${JSON.stringify(receiver.spans.map((s) => s.name))}`);
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );

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
    // Made on the undici path: the undici instrumentation's spans, none from the HTTP instrumentation.
    for (const span of maiaSpans) expect(span.scope).toBe('@opentelemetry/instrumentation-undici');
    // Nothing secret recorded: no Authorization header, the request id only.
    for (const span of maiaSpans) {
      expect(span.attributes?.some((a) => /authorization/i.test(a.key))).toBe(false);
      expect(JSON.stringify(span.attributes)).not.toContain(maia.emulator.clientSecret);
      expect(JSON.stringify(span.attributes)).not.toMatch(/bearer|basic /i);
    }
    // The request id links each API call span to the gateway's log lines (the token fetch has none).
    const requestIdOf = (s: OtlpSpan) =>
      JSON.stringify(s.attributes?.find((a) => a.key === 'http.request.header.x-request-id')?.value ?? null);
    const apiCalls = maiaSpans.filter((s) => attribute(s, 'url.path')?.startsWith('/dpc/'));
    expect(apiCalls.length).toBe(upstreamCalls - 1);
    for (const span of apiCalls) expect(requestIdOf(span)).toContain('"trace-me-1"');

    // W3C propagation: every Maia call (the emulator's control API aside) arrived with a traceparent naming
    // the gateway's trace and, as parent, that call's own client span.
    const calls = maiaRequests.received.filter((r) => !r.path.startsWith('/__emulator'));
    expect(calls).toHaveLength(upstreamCalls);
    const maiaSpanIds = new Set(maiaSpans.map((s) => s.spanId));
    for (const call of calls) {
      const [version, traceId, parentId] = call.traceparent?.split('-') ?? [];
      expect(version).toBe('00');
      expect(traceId).toBe(gatewaySpan.traceId);
      expect(maiaSpanIds.has(parentId)).toBe(true);
    }
    expect(new Set(calls.map((c) => c.traceparent?.split('-')[2])).size).toBe(upstreamCalls);

    const apiSpan = maiaSpans.find((s) => attribute(s, 'url.full', 'http.url')?.includes('/dpc/v1/projects'));
    expect(apiSpan).toBeDefined();

    // Probes are not traced; the service is named as configured.
    expect(receiver.spans.some((s) => attribute(s, 'url.path', 'http.target')?.startsWith('/health'))).toBe(
      false,
    );
    expect([...receiver.services]).toEqual(['maia-gateway-under-test']);
  });
});
