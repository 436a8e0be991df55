import { startTracing, tracingOptionsFromEnv } from './tracing';

// Imported first by main.ts: patches `http` before Nest, Fastify and axios load. A no-op (and no SDK
// loaded) unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
startTracing(tracingOptionsFromEnv());
