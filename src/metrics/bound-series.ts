import {
  Counter,
  Histogram,
  type LabelValues,
  type MetricObjectWithValues,
  type MetricValueWithName,
} from 'prom-client';

/**
 * prom-client metrics with *bound* series for the per-request hot path: `bind(labels)` validates the
 * labels once and returns a recorder that only adds numbers. prom-client's own `inc()` / `observe()`
 * (child or not) validate and hash the label object on every call, about 1 µs per HTTP request: a
 * measurable share of a hot read (bench/RESULTS.md). Everything else (exposition, registries, types)
 * stays prom-client's.
 */

/** A counter whose bound series are added to prom-client's at every scrape (`inc` by the delta). */
export class BoundCounter<T extends string> extends Counter<T> {
  private readonly pending = new Map<string, { labels: LabelValues<T>; delta: number }>();

  constructor(config: ConstructorParameters<typeof Counter<T>>[0]) {
    super({
      ...config,
      collect: () => {
        for (const series of this.pending.values()) {
          if (series.delta === 0) continue;
          this.inc(series.labels, series.delta);
          series.delta = 0;
        }
      },
    });
  }

  bind(labels: LabelValues<T>): () => void {
    this.inc(labels, 0); // validates now, and makes the series exist at zero
    const key = JSON.stringify(labels);
    let series = this.pending.get(key);
    if (!series) {
      series = { labels: { ...labels }, delta: 0 };
      this.pending.set(key, series);
    }
    const bound = series;
    return () => {
      bound.delta += 1;
    };
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor resets too, before this class's fields exist.
    for (const series of this.pending?.values() ?? []) series.delta = 0;
  }
}

interface HistogramSeries<T extends string> {
  labels: LabelValues<T>;
  /** Per bucket, not cumulative; observations above the last bound are only in `count`. */
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * A histogram whose bound series keep their own buckets and are exported beside prom-client's own
 * (use one or the other for a given label set: both would print the series twice).
 */
export class BoundHistogram<T extends string> extends Histogram<T> {
  private readonly bound = new Map<string, HistogramSeries<T>>();
  private readonly bounds: number[];
  private readonly metricName: string;

  constructor(config: ConstructorParameters<typeof Histogram<T>>[0] & { buckets: number[] }) {
    super(config);
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    this.metricName = config.name;
  }

  bind(labels: LabelValues<T>): (value: number) => void {
    this.labels(labels); // validates now
    const key = JSON.stringify(labels);
    let series = this.bound.get(key);
    if (!series) {
      series = { labels: { ...labels }, buckets: this.bounds.map(() => 0), sum: 0, count: 0 };
      this.bound.set(key, series);
    }
    const target = series;
    const bounds = this.bounds;
    return (value) => {
      if (!Number.isFinite(value)) return;
      let i = 0;
      while (i < bounds.length && value > bounds[i]) i++;
      if (i < bounds.length) target.buckets[i] += 1;
      target.sum += value;
      target.count += 1;
    };
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    const own = await super.get();
    own.values.push(...this.boundValues());
    return own;
  }

  /**
   * The registry prints from this method when a metric has it (prom-client's Histogram does); its values
   * may carry their labels whole, as `get()`'s do.
   */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    const parent = Histogram.prototype as unknown as {
      getForPromString?: () => Promise<MetricObjectWithValues<MetricValueWithName<T>>>;
    };
    const own = parent.getForPromString ? await parent.getForPromString.call(this) : await super.get();
    own.values.push(...this.boundValues());
    return own;
  }

  override reset(): void {
    super.reset();
    for (const series of this.bound?.values() ?? []) {
      series.buckets.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  private boundValues(): MetricValueWithName<T>[] {
    const values: MetricValueWithName<T>[] = [];
    const bucketName = `${this.metricName}_bucket`;
    const withLe = (labels: LabelValues<T>, le: number | string) =>
      ({ le, ...labels }) as unknown as LabelValues<T>;
    for (const series of this.bound.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.buckets[i];
        values.push({ labels: withLe(series.labels, bound), value: cumulative, metricName: bucketName });
      });
      values.push(
        { labels: withLe(series.labels, '+Inf'), value: series.count, metricName: bucketName },
        { labels: series.labels, value: series.sum, metricName: `${this.metricName}_sum` },
        { labels: series.labels, value: series.count, metricName: `${this.metricName}_count` },
      );
    }
    return values;
  }
}
