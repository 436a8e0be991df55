import { isTracingEnabled, redactedUrlAttributes, startTracing, tracingOptionsFromEnv } from './tracing';

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
jest.mock('@opentelemetry/instrumentation-undici', () => {
  loaded.push('instrumentation-undici');
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

describe('redactedUrlAttributes (undici client spans)', () => {
  const origin = 'https://maia.example:8443';

  it('leaves URLs without a secret query value to the instrumentation', () => {
    expect(redactedUrlAttributes(origin, '/dpc/v1/projects')).toBeNull();
    expect(redactedUrlAttributes(origin, '/dpc/v1/projects?page=2&size=25')).toBeNull();
  });

  it('replaces the values of secret parameters, whatever their case, and keeps the rest', () => {
    expect(
      redactedUrlAttributes(
        origin,
        '/oauth/dpc/token?client_id=c&CLIENT_SECRET=s3cr3t&X-Amz-Signature=abc&page=1',
      ),
    ).toEqual({
      'url.full':
        'https://maia.example:8443/oauth/dpc/token?client_id=c&CLIENT_SECRET=REDACTED&X-Amz-Signature=REDACTED&page=1',
      'url.query': '?client_id=c&CLIENT_SECRET=REDACTED&X-Amz-Signature=REDACTED&page=1',
    });
    const attributes = redactedUrlAttributes(origin, '/x?access_token=eyJa.b.c&api_key=k&token=t&sig=q');
    expect(JSON.stringify(attributes)).not.toMatch(/eyJa|=k\b|=t\b|=q\b/);
  });
});
