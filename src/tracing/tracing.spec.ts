import { isTracingEnabled, startTracing, tracingOptionsFromEnv } from './tracing';

// Strict doubles: loading any of these fails the test, proving the default path never requires them.
const loaded: string[] = [];
jest.mock('@opentelemetry/sdk-trace-node', () => {
  loaded.push('sdk-trace-node');
  return {};
});
jest.mock('@opentelemetry/exporter-trace-otlp-http', () => {
  loaded.push('exporter-trace-otlp-http');
  return {};
});
jest.mock('@opentelemetry/instrumentation-http', () => {
  loaded.push('instrumentation-http');
  return {};
});

describe('startTracing', () => {
  it('loads nothing and stays off without an endpoint (the default path pays nothing)', () => {
    expect(startTracing(tracingOptionsFromEnv({}))).toBe(false);
    expect(startTracing({ endpoint: 'not a url' })).toBe(false);
    expect(isTracingEnabled()).toBe(false);
    expect(loaded).toEqual([]);
  });

  it('reads the endpoint and service name from the standard variables', () => {
    expect(
      tracingOptionsFromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: ' http://collector:4318 ',
        OTEL_SERVICE_NAME: 'gw',
      }),
    ).toEqual({ endpoint: 'http://collector:4318', serviceName: 'gw' });
  });
});
