import { Counter, Histogram, Registry } from 'prom-client';
import { type UpstreamCallObservation } from '../maia/maia-observer';
import { MetricsService } from './metrics.service';

const FAMILIES = ['maia_upstream_requests_total', 'maia_upstream_request_duration_seconds'];

/** The exposition lines of Maia's call metrics (help and type lines included). */
function upstreamLines(exposition: string): string[] {
  return exposition.split('\n').filter((line) => FAMILIES.some((name) => line.includes(name)));
}

/** The same observations through prom-client's own `inc` / `observe`, as MetricsService recorded them before. */
async function plainExposition(observations: UpstreamCallObservation[]): Promise<string> {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({
    name: 'maia_upstream_requests_total',
    help: 'Attempts sent to Maia, by endpoint and outcome (HTTP status, or timeout / network_error).',
    labelNames: ['endpoint', 'status'],
    registers,
  });
  const duration = new Histogram({
    name: 'maia_upstream_request_duration_seconds',
    help: 'Duration of one attempt sent to Maia, by endpoint.',
    labelNames: ['endpoint'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  for (const { endpoint, status, durationMs } of observations) {
    requests.inc({ endpoint, status: String(status) });
    duration.observe({ endpoint }, durationMs / 1000);
  }
  return registry.metrics();
}

describe('MetricsService.upstreamCall', () => {
  it('exposes what prom-client’s own calls expose, across scrapes', async () => {
    const first: UpstreamCallObservation[] = [
      { endpoint: 'executePipeline', status: 200, durationMs: 3 },
      { endpoint: 'getExecution', status: 200, durationMs: 7 },
      { endpoint: 'getExecution', status: 200, durationMs: 5 },
      { endpoint: 'getExecution', status: 'timeout', durationMs: 2_500 },
      { endpoint: 'token', status: 200, durationMs: 40 },
      { endpoint: 'listExecutions', status: 503, durationMs: 0.005 * 1000 },
    ];
    const second: UpstreamCallObservation[] = [
      { endpoint: 'getExecution', status: 200, durationMs: 12 },
      { endpoint: 'executePipeline', status: 'network_error', durationMs: 31_000 },
    ];
    const metrics = new MetricsService();
    for (const observation of first) metrics.upstreamCall(observation);
    expect(upstreamLines((await metrics.exposition()).body)).toEqual(
      upstreamLines(await plainExposition(first)),
    );
    for (const observation of second) metrics.upstreamCall(observation);
    const lines = upstreamLines((await metrics.exposition()).body);
    expect(lines).toEqual(upstreamLines(await plainExposition([...first, ...second])));
    expect(lines).toContain('maia_upstream_requests_total{endpoint="getExecution",status="200"} 3');
  });

  it('folds endpoint names that are not identifiers into one label, as before', async () => {
    const metrics = new MetricsService();
    metrics.upstreamCall({ endpoint: 'not a name', status: 200, durationMs: 1 });
    metrics.upstreamCall({ endpoint: 'not a name', status: 200, durationMs: 1 });
    expect(upstreamLines((await metrics.exposition()).body)).toContain(
      'maia_upstream_requests_total{endpoint="invalid",status="200"} 2',
    );
  });
});
