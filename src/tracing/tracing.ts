/**
 * OpenTelemetry traces, loaded only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: the default path does not
 * even `require` the SDK. `startTracing` must run before Nest, Fastify or axios are loaded (see
 * `register.ts`, the first import of `main.ts`), so the HTTP instrumentation patches `http` before anyone
 * holds on to it.
 *
 * One trace per client request: the incoming HTTP request is the server span (the gateway span), and every
 * Maia call made while serving it (axios over `http`/`https`) becomes a client span under it, through the
 * async-local context the Node tracer provider installs.
 */

interface TracingHandle {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

let handle: TracingHandle | null = null;

/** Paths that are probed or scraped all day long: no spans for them. */
const UNTRACED_PATHS = /^\/(health(\/|$)|metrics$)/;

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
        // Exports to the collector itself must not be traced (a span per export, forever).
        ignoreOutgoingRequestHook: (req) => typeof req.path === 'string' && req.path.endsWith('/v1/traces'),
        // The request id links a Maia call span to the gateway's log lines.
        headersToSpanAttributes: { client: { requestHeaders: ['x-request-id'] } },
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
