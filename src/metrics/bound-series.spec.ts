import { Counter, Histogram, Registry } from 'prom-client';
import { BoundCounter, BoundHistogram } from './bound-series';

type Labels = 'route' | 'method';
const BUCKETS = [0.005, 0.01, 0.1, 1];

function pair(bound: boolean): {
  registry: Registry;
  counter: Counter<Labels>;
  histogram: Histogram<Labels>;
} {
  const registry = new Registry();
  const common = { labelNames: ['route', 'method'] as Labels[], registers: [registry] };
  const counter = bound
    ? new BoundCounter<Labels>({ name: 'requests_total', help: 'r', ...common })
    : new Counter<Labels>({ name: 'requests_total', help: 'r', ...common });
  const histogram = bound
    ? new BoundHistogram<Labels>({ name: 'duration_seconds', help: 'd', buckets: BUCKETS, ...common })
    : new Histogram<Labels>({ name: 'duration_seconds', help: 'd', buckets: BUCKETS, ...common });
  return { registry, counter, histogram };
}

/** The same observations through prom-client's own calls and through bound series. */
async function both(observations: [Record<Labels, string>, number][]): Promise<[string, string]> {
  const plain = pair(false);
  const bound = pair(true);
  const recorders = new Map<string, [() => void, (v: number) => void]>();
  for (const [labels, value] of observations) {
    plain.counter.inc(labels);
    plain.histogram.observe(labels, value);
    const key = JSON.stringify(labels);
    let recorder = recorders.get(key);
    if (!recorder) {
      recorder = [
        (bound.counter as BoundCounter<Labels>).bind(labels),
        (bound.histogram as BoundHistogram<Labels>).bind(labels),
      ];
      recorders.set(key, recorder);
    }
    recorder[0]();
    recorder[1](value);
  }
  return [await plain.registry.metrics(), await bound.registry.metrics()];
}

describe('bound metric series', () => {
  const a = { route: '/api/v1/projects', method: 'GET' };
  const b = { route: 'Projects', method: 'POST' };

  it('print exactly what prom-client prints for the same observations', async () => {
    const observations: [Record<Labels, string>, number][] = [
      [a, 0.001],
      [a, 0.005], // on a bound: in that bucket
      [b, 0.05],
      [a, 0.5],
      [b, 3], // above every bound: only in +Inf
      [a, 0.0001],
    ];
    const [plain, bound] = await both(observations);
    expect(bound).toBe(plain);
    expect(bound).toContain('duration_seconds_bucket{le="0.005",route="/api/v1/projects",method="GET"} 3');
    expect(bound).toContain('requests_total{route="Projects",method="POST"} 2');
  });

  it('keep counting across scrapes, and start again from zero after reset', async () => {
    const bound = pair(true);
    const count = (bound.counter as BoundCounter<Labels>).bind(a);
    const observe = (bound.histogram as BoundHistogram<Labels>).bind(a);
    count();
    observe(0.2);
    await bound.registry.metrics();
    count();
    observe(0.02);
    const text = await bound.registry.metrics();
    expect(text).toContain('requests_total{route="/api/v1/projects",method="GET"} 2');
    expect(text).toContain('duration_seconds_count{route="/api/v1/projects",method="GET"} 2');
    bound.registry.resetMetrics();
    const reset = await bound.registry.metrics();
    expect(reset).toContain('duration_seconds_count{route="/api/v1/projects",method="GET"} 0');
    expect(reset).not.toContain('requests_total{route="/api/v1/projects",method="GET"} 2');
  });

  it('refuse unknown labels when bound, as prom-client would when observing', () => {
    const bound = pair(true);
    expect(() => (bound.histogram as BoundHistogram<Labels>).bind({ nope: 'x' } as never)).toThrow();
    expect(() => (bound.counter as BoundCounter<Labels>).bind({ nope: 'x' } as never)).toThrow();
  });
});
