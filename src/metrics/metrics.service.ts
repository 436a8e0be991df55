import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BoundCounter, BoundHistogram } from './bound-series';
import { BoundedLabelSet } from './bounded-label';
import { type UpstreamCallObservation, type UpstreamObserver } from '../maia/maia-observer';
import {
  type CacheStatsSample,
  type ConnectionLimitSample,
  type GraphqlLaneStatsSample,
  type HotReadStatsSample,
  type MaiaStateSample,
  type WatchStatsSample,
} from './metrics.types';

const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BREAKER_STATES = ['closed', 'half-open', 'open'] as const;

/** GraphQL operation names are chosen by clients: at most this many distinct ones become labels. */
const MAX_OPERATION_LABELS = 200;
/** Upstream endpoint names are ours (route names), but a bound costs nothing. */
const MAX_ENDPOINT_LABELS = 50;
/** Recorders kept for Maia calls: endpoints times the statuses seen; past it they are bound per call. */
const MAX_UPSTREAM_SERIES = 1000;

export type HttpTransport = 'graphql' | 'rest' | 'other';

/** One bound pair of HTTP series: the request counter (with its status) and the duration histogram. */
interface HttpSeries {
  count: () => void;
  observe: (seconds: number) => void;
}

/**
 * The process's Prometheus registry (its own, not prom-client's global one, so several gateways in one
 * test process do not collide) and every metric the gateway exports.
 *
 * Counters owned by other parts (cache hit/miss/stale, single-flight saves, watcher gauges, the breaker
 * state) are not mirrored on every event: they are read from their owners when Prometheus scrapes,
 * through the sources registered with `setCacheSource`, `setWatchSource` and `setMaiaSource`.
 */
@Injectable()
export class MetricsService implements UpstreamObserver {
  readonly registry = new Registry();
  private readonly operations = new BoundedLabelSet(MAX_OPERATION_LABELS);
  private readonly endpoints = new BoundedLabelSet(
    MAX_ENDPOINT_LABELS,
    'other',
    /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/,
  );
  private cacheSource: (() => Iterable<CacheStatsSample>) | null = null;
  private hotReadSource: (() => HotReadStatsSample | null) | null = null;
  private watchSource: (() => WatchStatsSample | null) | null = null;
  private maiaSource: (() => MaiaStateSample | null) | null = null;
  private connectionLimitSource: (() => ConnectionLimitSample | null) | null = null;
  private graphqlLaneSource: (() => GraphqlLaneStatsSample | null) | null = null;

  readonly httpRequests: BoundCounter<'transport' | 'route' | 'method' | 'status'>;
  readonly httpDuration: BoundHistogram<'transport' | 'route' | 'method'>;
  /** One bound pair per (transport, route, method, status): as bounded as the label sets themselves. */
  private readonly httpSeries = new Map<string, HttpSeries>();
  readonly upstreamRequests: BoundCounter<'endpoint' | 'status'>;
  readonly upstreamDuration: BoundHistogram<'endpoint'>;
  /** One bound pair per (Maia endpoint, status) reported; bounded (endpoints are code's names). */
  private readonly upstreamSeries = new Map<string, HttpSeries>();
  readonly tokenRefreshes: Counter<'outcome'>;
  readonly rateLimitCooldowns: Counter;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];

    this.httpRequests = new BoundCounter({
      name: 'gateway_http_requests_total',
      help: 'HTTP requests answered, by transport, GraphQL operation name or REST route template, method and status.',
      labelNames: ['transport', 'route', 'method', 'status'],
      registers,
    });
    this.httpDuration = new BoundHistogram({
      name: 'gateway_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by transport, GraphQL operation name or REST route template, and method.',
      labelNames: ['transport', 'route', 'method'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.upstreamRequests = new BoundCounter({
      name: 'maia_upstream_requests_total',
      help: 'Attempts sent to Maia, by endpoint and outcome (HTTP status, or timeout / network_error).',
      labelNames: ['endpoint', 'status'],
      registers,
    });
    this.upstreamDuration = new BoundHistogram({
      name: 'maia_upstream_request_duration_seconds',
      help: 'Duration of one attempt sent to Maia, by endpoint.',
      labelNames: ['endpoint'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.tokenRefreshes = new Counter({
      name: 'maia_token_refreshes_total',
      help: 'Access token fetches from the Maia token endpoint, by outcome.',
      labelNames: ['outcome'],
      registers,
    });
    this.rateLimitCooldowns = new Counter({
      name: 'maia_rate_limit_cooldowns_total',
      help: 'Times Maia answered 429 and the client paused its calls until Retry-After.',
      registers,
    });

    // prom-client calls collect() with the metric as `this`; the sources live on the service.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({
      name: 'maia_circuit_breaker_state',
      help: 'The Maia circuit breaker: 1 for its current state, 0 for the others.',
      labelNames: ['state'],
      registers,
      collect() {
        const state = self.maiaSource?.()?.breakerState;
        this.reset();
        if (!state) return;
        for (const s of BREAKER_STATES) this.set({ state: s }, s === state ? 1 : 0);
      },
    });
    new Gauge({
      name: 'maia_rate_limit_cooldown_active',
      help: '1 while calls to Maia are paused after a 429.',
      registers,
      collect() {
        const sample = self.maiaSource?.();
        this.reset();
        if (sample) this.set(sample.cooldownActive ? 1 : 0);
      },
    });
    new Counter({
      name: 'gateway_cache_requests_total',
      help: 'Cached lookups by resource and result: hit (fresh), miss (waited for a load), stale (Maia failed, served stale), revalidating (expired, served while refreshed).',
      labelNames: ['resource', 'result'],
      registers,
      collect() {
        this.reset();
        for (const s of self.cacheSource?.() ?? []) {
          this.inc({ resource: s.resource, result: 'hit' }, s.hits);
          this.inc({ resource: s.resource, result: 'miss' }, s.misses);
          this.inc({ resource: s.resource, result: 'stale' }, s.stale);
          this.inc({ resource: s.resource, result: 'revalidating' }, s.staleWhileRevalidate ?? 0);
        }
      },
    });
    new Counter({
      name: 'gateway_hot_read_requests_total',
      help: 'Cacheable lookup reads by result: hit (answered from the per-caller hot-read cache, ahead of Nest and Apollo) or miss.',
      labelNames: ['result'],
      registers,
      collect() {
        const sample = self.hotReadSource?.();
        this.reset();
        if (!sample) return;
        this.inc({ result: 'hit' }, sample.hits);
        this.inc({ result: 'miss' }, sample.misses);
      },
    });
    new Counter({
      name: 'gateway_graphql_lane_requests_total',
      help: 'GraphQL POSTs the query lane answered itself, ahead of Fastify, Nest and Apollo (result="served").',
      labelNames: ['result'],
      registers,
      collect() {
        const sample = self.graphqlLaneSource?.();
        this.reset();
        if (sample) this.inc({ result: 'served' }, sample.served);
      },
    });
    new Counter({
      name: 'gateway_graphql_lane_parked_total',
      help: "GraphQL POSTs that waited at the query lane while their document's first request was inside Apollo, by outcome: accepted (on to the lane, which serves it unless its own checks send it to Apollo: a refused admission, variables that do not coerce, a cacheable read with the whole-answer cache on), released (that request ended without acceptance), timeout, abandoned (its client went away while it waited: dropped, not executed), full (not parked: a cap was reached).",
      labelNames: ['outcome'],
      registers,
      collect() {
        const sample = self.graphqlLaneSource?.();
        this.reset();
        if (!sample) return;
        for (const [outcome, count] of Object.entries(sample.parked)) this.inc({ outcome }, count);
      },
    });
    new Counter({
      name: 'gateway_connections_refused_total',
      help: 'TCP connections closed on arrival because their peer address held CONNECTION_LIMIT_PER_IP already.',
      registers,
      collect() {
        const sample = self.connectionLimitSource?.();
        this.reset();
        if (sample) this.inc(sample.refused);
      },
    });
    new Gauge({
      name: 'gateway_http_connections',
      help: 'TCP connections open on this replica (HTTP and upgraded WebSocket ones).',
      registers,
      async collect() {
        const sample = self.connectionLimitSource?.();
        this.reset();
        if (sample) this.set(await sample.open());
      },
    });
    new Gauge({
      name: 'gateway_hot_read_entries',
      help: 'Answers held by the hot-read cache on this replica.',
      registers,
      collect() {
        const sample = self.hotReadSource?.();
        this.reset();
        if (sample) this.set(sample.entries);
      },
    });
    new Counter({
      name: 'gateway_cache_loads_saved_total',
      help: 'Upstream loads saved by single-flight: callers that joined a load already in progress.',
      labelNames: ['resource'],
      registers,
      collect() {
        this.reset();
        for (const s of self.cacheSource?.() ?? []) this.inc({ resource: s.resource }, s.loadsSaved);
      },
    });
    new Gauge({
      name: 'gateway_active_subscriptions',
      help: 'Live execution subscriptions open on this replica, by transport.',
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        const sample = self.watchSource?.();
        for (const [transport, count] of Object.entries(sample?.subscriptions ?? {})) {
          this.set({ transport }, count);
        }
      },
    });
    new Gauge({
      name: 'gateway_active_pollers',
      help: 'Executions this replica polls Maia for right now.',
      registers,
      collect() {
        this.reset();
        const sample = self.watchSource?.();
        if (sample) this.set(sample.pollers);
      },
    });
    new Gauge({
      name: 'gateway_poller_leases_held',
      help: 'Poller leases (one per execution across replicas) this replica holds.',
      registers,
      collect() {
        this.reset();
        const sample = self.watchSource?.();
        if (sample) this.set(sample.leases);
      },
    });
  }

  /** Records one answered HTTP request. `route` is a GraphQL operation name or a REST route template. */
  recordHttpRequest(
    transport: HttpTransport,
    route: string,
    method: string,
    status: number,
    durationMs: number,
  ): void {
    const label = transport === 'graphql' ? this.operations.label(route) : route;
    const series = this.seriesOf(transport, label, method, status);
    series.count();
    series.observe(durationMs / 1000);
  }

  /**
   * `recordHttpRequest` for one fixed transport, route and method (a route served by a front of its own):
   * the series of each status is looked up once, so a request only adds its numbers (no label key is built
   * and hashed per request). The same series as `recordHttpRequest`'s.
   */
  httpRecorder(
    transport: HttpTransport,
    route: string,
    method: string,
  ): (status: number, durationMs: number) => void {
    const label = transport === 'graphql' ? this.operations.label(route) : route;
    const byStatus = new Map<number, HttpSeries>();
    return (status, durationMs) => {
      let series = byStatus.get(status);
      if (series === undefined) {
        series = this.seriesOf(transport, label, method, status);
        byStatus.set(status, series);
      }
      series.count();
      series.observe(durationMs / 1000);
    };
  }

  private seriesOf(transport: HttpTransport, label: string, method: string, status: number): HttpSeries {
    const key = `${transport}\u0000${label}\u0000${method}\u0000${status}`;
    let series = this.httpSeries.get(key);
    if (!series) {
      series = {
        count: this.httpRequests.bind({ transport, route: label, method, status: String(status) }),
        observe: this.httpDuration.bind({ transport, route: label, method }),
      };
      this.httpSeries.set(key, series);
    }
    return series;
  }

  /** Every attempt sent to Maia (three or four per executePipeline): bound series, no label hashing. */
  upstreamCall(observation: UpstreamCallObservation): void {
    const key = `${observation.endpoint}\u0000${observation.status}`;
    let series = this.upstreamSeries.get(key);
    if (series === undefined) {
      const endpoint = this.endpoints.label(observation.endpoint);
      series = {
        count: this.upstreamRequests.bind({ endpoint, status: String(observation.status) }),
        observe: this.upstreamDuration.bind({ endpoint }),
      };
      if (this.upstreamSeries.size < MAX_UPSTREAM_SERIES) this.upstreamSeries.set(key, series);
    }
    series.count();
    series.observe(observation.durationMs / 1000);
  }

  tokenRefresh(outcome: 'success' | 'failure'): void {
    this.tokenRefreshes.inc({ outcome });
  }

  rateLimitCooldown(): void {
    this.rateLimitCooldowns.inc();
  }

  /** The cache's cumulative counters, read at scrape time. */
  setCacheSource(source: () => Iterable<CacheStatsSample>): void {
    this.cacheSource = guarded(source, []);
  }

  /** The watcher's gauges, read at scrape time. */
  setWatchSource(source: () => WatchStatsSample): void {
    this.watchSource = guarded(source, null);
  }

  /** The Maia client's breaker and cooldown state, read at scrape time. */
  setMaiaSource(source: () => MaiaStateSample): void {
    this.maiaSource = guarded(source, null);
  }

  /** The per-IP connection cap's counts, read at scrape time. */
  setConnectionLimitSource(source: () => ConnectionLimitSample): void {
    this.connectionLimitSource = guarded(source, null);
  }

  /** The GraphQL query lane's counts, read at scrape time. */
  setGraphqlLaneSource(source: () => GraphqlLaneStatsSample): void {
    this.graphqlLaneSource = guarded(source, null);
  }

  /** The hot-read answer cache's counts, read at scrape time. */
  setHotReadSource(source: () => HotReadStatsSample): void {
    this.hotReadSource = guarded(source, null);
  }

  /** The exposition text served at /metrics. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A source that throws must not fail the whole scrape: its metrics are left out instead. */
function guarded<T, F>(source: () => T, fallback: F): () => T | F {
  return () => {
    try {
      return source();
    } catch {
      return fallback;
    }
  };
}
