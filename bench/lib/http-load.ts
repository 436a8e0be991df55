import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import { median, seededRandom, summarize, type Summary } from './stats';

/** One HTTP request as a load scenario sends it, again and again. */
export interface RequestSpec {
  url: string;
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadOptions {
  connections: number;
  durationSeconds: number;
  /**
   * The longest warm-up. It runs in windows of WARMUP_WINDOW_SECONDS and, after a third of this budget,
   * stops early once two windows in a row are within WARMUP_STABLE_RATIO of the one before: a large application (Nest, Apollo) keeps
   * getting faster for tens of seconds (JIT, young-generation sizing), a small server is steady at once.
   */
  warmupSeconds: number;
  /**
   * Measured windows back to back after the warm-up (default 1), each of `durationSeconds`: the result
   * sums them (latencies: the median window's p50, the worst window's p99), and `windows` lists each.
   */
  windows?: number;
}

const WARMUP_WINDOW_SECONDS = 2;
const WARMUP_STABLE_RATIO = 0.05;

export interface LoadResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  durationSeconds: number;
  warmupRequests: number;
  /** How long the warm-up ran before the throughput held steady (or the budget ran out). */
  warmupSeconds: number;
  /** Each measured window's own figures, when there were several. */
  windows?: WindowResult[];
}

export type WindowResult = Pick<
  LoadResult,
  'reqPerSec' | 'p50Ms' | 'p99Ms' | 'requests' | 'errors' | 'timeouts' | 'non2xx' | 'durationSeconds'
>;

/**
 * A workload: one request repeated, or a mix (each request drawn at random from the list, from a seeded
 * generator per connection, so runs are comparable and connections do not move in step).
 */
export type Workload = RequestSpec | RequestSpec[];

let connectionSeed = 0;

function mixOptions(mix: RequestSpec[]): Partial<autocannon.Options> {
  const origin = new URL(mix[0].url).origin;
  const prepared = mix.map((spec) => {
    const url = new URL(spec.url);
    if (url.origin !== origin) throw new Error(`a mix goes to one server: ${spec.url} is not on ${origin}`);
    return {
      method: spec.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      headers: spec.headers ?? {},
      body: spec.body,
    };
  });
  return {
    url: origin,
    requests: [
      {
        setupRequest: (request, context: { random?: () => number }) => {
          context.random ??= seededRandom(++connectionSeed);
          const next = prepared[Math.floor(context.random() * prepared.length)];
          return {
            ...request,
            method: next.method,
            path: next.path,
            headers: { ...next.headers },
            body: next.body ?? Buffer.alloc(0),
          };
        },
      },
    ],
  };
}

function runAutocannon(workload: Workload, connections: number, durationSeconds: number) {
  const shape: Partial<autocannon.Options> = Array.isArray(workload)
    ? mixOptions(workload)
    : {
        url: workload.url,
        method: workload.method ?? 'GET',
        headers: workload.headers,
        body: workload.body,
      };
  return autocannon({
    ...(shape as autocannon.Options),
    connections,
    pipelining: 1,
    duration: durationSeconds,
    // A request that outlives this is counted as a timeout, not awaited forever.
    timeout: 10,
  });
}

/** Load without measuring: brings a server to the state another one reached by earlier rows. */
export async function warmUp(workload: Workload, connections: number, seconds: number): Promise<number> {
  if (seconds <= 0) return 0;
  const result = await runAutocannon(workload, connections, seconds);
  return result.requests.total;
}

/**
 * Throughput and latency under a closed loop of `connections` keep-alive connections (autocannon).
 * A warm-up run first (JIT, caches, connection pools), then the measured run.
 */
export async function measureLoad(
  spec: Workload,
  options: LoadOptions,
  /** Runs between the warm-up and the measured run (reset counters, read CPU time). */
  beforeMeasure?: () => Promise<void>,
  /** Runs after each measured window (read CPU time per window). */
  afterWindow?: (window: WindowResult) => Promise<void>,
): Promise<LoadResult> {
  let warmupRequests = 0;
  let warmupSeconds = 0;
  let previousRate = 0;
  let steadyWindows = 0;
  const minimumSeconds = Math.min(
    options.warmupSeconds,
    Math.max(WARMUP_WINDOW_SECONDS, options.warmupSeconds / 3),
  );
  while (warmupSeconds < options.warmupSeconds) {
    const window = Math.min(WARMUP_WINDOW_SECONDS, options.warmupSeconds - warmupSeconds);
    const warm = await runAutocannon(spec, options.connections, window);
    warmupSeconds += window;
    warmupRequests += warm.requests.total;
    const rate = warm.requests.total / warm.duration;
    // Steady: two windows in a row within the ratio of the one before (one could be a lucky plateau).
    const steady = previousRate > 0 && Math.abs(rate - previousRate) <= previousRate * WARMUP_STABLE_RATIO;
    steadyWindows = steady ? steadyWindows + 1 : 0;
    // Not before a third of the budget: the gateway's ramp is slow enough to look steady for a moment.
    if (steadyWindows >= 2 && warmupSeconds >= minimumSeconds) break;
    previousRate = rate;
  }
  await beforeMeasure?.();
  const windows: WindowResult[] = [];
  for (let i = 0; i < Math.max(1, options.windows ?? 1); i += 1) {
    const result = await runAutocannon(spec, options.connections, options.durationSeconds);
    const window: WindowResult = {
      reqPerSec: result.requests.total / result.duration,
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      requests: result.requests.total,
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      durationSeconds: result.duration,
    };
    windows.push(window);
    await afterWindow?.(window);
  }
  const sum = (of: (w: WindowResult) => number) => windows.reduce((total, w) => total + of(w), 0);
  const requests = sum((w) => w.requests);
  const durationSeconds = sum((w) => w.durationSeconds);
  return {
    reqPerSec: requests / durationSeconds,
    p50Ms: median(windows.map((w) => w.p50Ms)),
    p99Ms: Math.max(...windows.map((w) => w.p99Ms)),
    requests,
    errors: sum((w) => w.errors),
    timeouts: sum((w) => w.timeouts),
    non2xx: sum((w) => w.non2xx),
    durationSeconds,
    warmupRequests,
    warmupSeconds,
    ...(windows.length > 1 ? { windows } : {}),
  };
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request, the whole answer read (for checks and setup, not for timing under load). */
export function send(spec: RequestSpec, agent?: Agent): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(spec.url, { method: spec.method ?? 'GET', headers: spec.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(spec.body);
  });
}

/** Sends `spec` and resolves with the wall time of the whole exchange, in milliseconds. */
async function timed(spec: RequestSpec, agent: Agent): Promise<{ ms: number; status: number }> {
  const start = process.hrtime.bigint();
  const answer = await send(spec, agent);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, status: answer.status };
}

export interface PairedLatency {
  a: Summary;
  b: Summary;
  /** Median of b minus median of a. */
  addedP50Ms: number;
  failures: number;
}

/**
 * Latency of two request specs measured one request at a time, interleaved (a, b, a, b, ...) over one
 * keep-alive connection each, so drift on the machine (other work, GC) falls on both alike. Used for the
 * latency the gateway adds in front of its upstream: at low concurrency nothing queues, and the difference
 * of the medians is the gateway's own time.
 */
export async function measurePairedLatency(
  a: RequestSpec,
  b: RequestSpec,
  samples: number,
  warmupSamples: number,
): Promise<PairedLatency> {
  const agentA = new Agent({ keepAlive: true, maxSockets: 1 });
  const agentB = new Agent({ keepAlive: true, maxSockets: 1 });
  const msA: number[] = [];
  const msB: number[] = [];
  let failures = 0;
  try {
    for (let i = 0; i < warmupSamples + samples; i++) {
      // Alternate the order too, so neither side always runs right after the other's work.
      let ra: { ms: number; status: number };
      let rb: { ms: number; status: number };
      if (i % 2 === 0) {
        ra = await timed(a, agentA);
        rb = await timed(b, agentB);
      } else {
        rb = await timed(b, agentB);
        ra = await timed(a, agentA);
      }
      if (i < warmupSamples) continue;
      for (const [r, into] of [
        [ra, msA],
        [rb, msB],
      ] as const) {
        if (r.status < 200 || r.status >= 300) failures++;
        else into.push(r.ms);
      }
    }
  } finally {
    agentA.destroy();
    agentB.destroy();
  }
  const sa = summarize(msA);
  const sb = summarize(msB);
  return { a: sa, b: sb, addedP50Ms: sb.p50 - sa.p50, failures };
}
