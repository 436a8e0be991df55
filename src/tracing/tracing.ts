import { REDACTED_FIELDS } from '../security/redaction';

/**
 * OpenTelemetry traces, loaded only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: the default path does not
 * even `require` the SDK. `startTracing` must run before Nest, Fastify or axios load (`register.ts`, the
 * first import of `main.ts`), so the HTTP instrumentation patches `http` before anyone holds on to it.
 *
 * One trace per client request: the incoming request is the server span, and each Maia call made while
 * serving it is a client span under it that carries a W3C `traceparent` to Maia. Maia calls run on undici
 * (`src/maia/maia-http.exchange.ts`), so undici's instrumentation makes those spans; its span starts when
 * undici creates the request, in the caller's context, which holds because the pools have no connection
 * cap. With a proxy variable set axios keeps its `http` adapter and the HTTP instrumentation makes them.
 * Both are configured alike: same ignores, the request id as the only header, secret query values redacted.
 */

interface TracingHandle {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

let handle: TracingHandle | null = null;

/** Paths that are probed or scraped all day long: no spans for them. */
const UNTRACED_PATHS = /^\/(health(\/|$)|metrics$)/;

/** Exports to the collector itself must not be traced (a span per export, forever). */
function isTraceExport(path: string): boolean {
  return path.split('?')[0].endsWith('/v1/traces');
}

/**
 * Query parameters whose values a span never records: the HTTP instrumentation's defaults (signed URLs)
 * plus the names the gateway treats as secrets everywhere else (`src/security/redaction.ts`).
 */
export const REDACTED_QUERY_PARAMS: readonly string[] = [
  'sig',
  'Signature',
  'AWSAccessKeyId',
  'X-Goog-Signature',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
  ...REDACTED_FIELDS,
];
const redactedQueryParamNames = new Set(REDACTED_QUERY_PARAMS.map((name) => name.toLowerCase()));

/** The value that replaces a secret query value (the HTTP instrumentation's own). */
const REDACTED_VALUE = 'REDACTED';

/**
 * `url.full` and `url.query` of an undici request with the values of secret query parameters (any case)
 * replaced, or null when the query holds none (the instrumentation's own values then stand). The
 * undici instrumentation records the URL as is; the HTTP instrumentation redacted it: this keeps both
 * paths alike.
 */
export function redactedUrlAttributes(
  origin: string,
  path: string,
): { 'url.full': string; 'url.query': string } | null {
  if (!path.includes('?')) return null;
  let url: URL;
  try {
    url = new URL(path, origin);
  } catch {
    return null;
  }
  let secret = false;
  const params = new URLSearchParams();
  for (const [name, value] of url.searchParams) {
    const hide = redactedQueryParamNames.has(name.toLowerCase());
    secret ||= hide;
    params.append(name, hide ? REDACTED_VALUE : value);
  }
  if (!secret) return null;
  url.search = params.toString();
  return { 'url.full': url.toString(), 'url.query': url.search };
}

export interface TracingOptions {
  endpoint?: string;
  serviceName?: string;
}

/** Options from the environment (before the validated configuration exists). */
export function tracingOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): TracingOptions {
  return {
    endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || undefined,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || undefined,
  };
}

/** Starts tracing when an endpoint is given and valid. Returns whether tracing is on. Idempotent. */
export function startTracing(options: TracingOptions): boolean {
  if (handle) return true;
  const endpoint = options.endpoint;
  // An invalid URL is reported, naming the variable, by the configuration check that runs next.
  if (!endpoint || !URL.canParse(endpoint)) return false;

  /* eslint-disable @typescript-eslint/no-require-imports -- loaded lazily so that the default path pays nothing */
  const { NodeTracerProvider, BatchSpanProcessor } =
    require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { registerInstrumentations } =
    require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
  const { HttpInstrumentation } =
    require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { UndiciInstrumentation } =
    require('@opentelemetry/instrumentation-undici') as typeof import('@opentelemetry/instrumentation-undici');
  const { resourceFromAttributes } =
    require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { ATTR_SERVICE_NAME } =
    require('@opentelemetry/semantic-conventions') as typeof import('@opentelemetry/semantic-conventions');
  /* eslint-enable @typescript-eslint/no-require-imports */

  const exporter = new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName ?? 'maia-gateway' }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.test((req.url ?? '').split('?')[0]),
        ignoreOutgoingRequestHook: (req) => typeof req.path === 'string' && isTraceExport(req.path),
        // The request id links a Maia call span to the gateway's log lines. No other header is recorded.
        headersToSpanAttributes: { client: { requestHeaders: ['x-request-id'] } },
        redactedQueryParams: [...REDACTED_QUERY_PARAMS],
      }),
      // Maia's calls on undici (and any other undici or `fetch` request), named by method like the HTTP
      // instrumentation's spans, with url.full, server.address/port and the status code.
      new UndiciInstrumentation({
        ignoreRequestHook: (req) => isTraceExport(req.path),
        // Only the request id: never Authorization (the bearer token) nor any other header.
        headersToSpanAttributes: { requestHeaders: ['x-request-id'] },
        // Overrides the instrumentation's url.full / url.query when the query holds a secret value.
        startSpanHook: (req) => redactedUrlAttributes(req.origin, req.path) ?? {},
      }),
    ],
  });
  handle = provider;
  return true;
}

/** Whether `startTracing` turned tracing on in this process. */
export function isTracingEnabled(): boolean {
  return handle !== null;
}

/** Sends buffered spans and stops the exporter (graceful shutdown calls it last). */
export async function flushTracing(): Promise<void> {
  const current = handle;
  if (!current) return;
  handle = null;
  await current.shutdown().catch(() => undefined);
}
