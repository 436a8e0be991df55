import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { budgets } from '../../bench/lib/options';
import { roundRatiosOf } from '../../bench/lib/dashboard-mix';
import {
  checkTargets,
  formatDetails,
  formatRuntimeTargets,
  formatTable,
  recordResults,
  setRatios,
  targetsTable,
} from '../../bench/lib/report';
import type {
  BenchResults,
  RowSettings,
  RuntimeInfo,
  RuntimeRun,
  ScenarioRow,
  StampedeResult,
} from '../../bench/lib/results';
import { medianStampede } from '../../bench/scenarios/stampede.scenario';

/**
 * The report of a run on two runtimes: each runtime's targets are judged on its own rows (a ratio that
 * misses on one runtime and holds on the other says so, per runtime), the production runtime is the one
 * marked, and bench/RESULTS.md gets one table per runtime and the verdicts side by side. No servers: the
 * results are written here, as a run would leave them.
 */

const settings: RowSettings = {
  responseCache: 'off',
  auth: 'api-key',
  callers: 1,
  rateLimits: 'on',
  mode: 'production',
  logs: 'info, to a file',
  metrics: 'on',
};

const node20: RuntimeInfo = {
  id: 'node20',
  major: 20,
  version: 'v20.20.2',
  path: '/usr/bin/node',
  production: false,
  source: 'harness',
};
const node24: RuntimeInfo = {
  id: 'node24',
  major: 24,
  version: 'v24.22.3',
  path: '/cache/node-24/bin/node',
  production: true,
  source: 'cache',
};

function row(runtime: RuntimeInfo, id: string, fields: Partial<ScenarioRow>): ScenarioRow {
  return {
    id,
    runtime: runtime.id,
    settings,
    group: 'graphql',
    title: id,
    server: 'gateway',
    status: 'ok',
    reqPerSec: 1000,
    p50Ms: 5,
    p99Ms: 10,
    rssMb: 200,
    cpuMsPerRequest: 0.3,
    ratioToLimit: 0.2,
    ratioToPeer: null,
    ...fields,
  };
}

/** One runtime's pass of these rows and nothing else measured (no targets judged yet). */
function runOf(runtime: RuntimeInfo, rows: ScenarioRow[]): RuntimeRun {
  return {
    runtime,
    rows,
    passThrough: [],
    stampede: null,
    stampedeWarm: null,
    subscriptions: [],
    targets: [],
    durationSeconds: 90,
  };
}

/** One runtime's pass: the GraphQL lookup at `peerRatio` of its own peer, REST at `limitRatio` of its limit. */
function runOn(runtime: RuntimeInfo, peerRatio: number, limitRatio: number | null): RuntimeRun {
  const rows = [
    row(runtime, 'gateway.graphql-projects.cache-off', { ratioToPeer: peerRatio }),
    ...(limitRatio === null
      ? []
      : [row(runtime, 'gateway.rest-projects.cache-off', { group: 'rest', ratioToLimit: limitRatio })]),
  ];
  const run = runOf(runtime, rows);
  run.targets = checkTargets(run, ['graphql', 'rest'], 1000, 15000);
  return run;
}

function resultsOf(runs: RuntimeRun[]): BenchResults {
  return {
    schemaVersion: 3,
    mode: 'quick',
    startedAt: '2026-12-05T08:00:00.000Z',
    finishedAt: '2026-12-05T08:03:00.000Z',
    durationSeconds: 180,
    machine: {
      nproc: 2,
      cpuModel: 'test cpu',
      node: 'v20.20.2',
      totalMemoryMb: 1024,
      loadAverage1m: 0.5,
      commit: 'abc1234',
      date: '2026-12-05T08:00:00.000Z',
    },
    runtimes: runs.map((r) => r.runtime),
    productionNodeMajor: 24,
    cores: { pinned: false, server: null, loadGenerator: null, emulator: null, note: 'pinning off' },
    budget: budgets.quick,
    groups: ['graphql', 'rest'],
    runs,
    warnings: [],
    processes: [],
    redisKeyPrefixes: [],
  };
}

const verdictOf = (run: RuntimeRun, id: string) => run.targets.find((t) => t.id === id)?.pass;

describe('bench report on two runtimes', () => {
  // GraphQL lookup: 1.2x the peer on Node 20 (a miss), 1.6x on Node 24 (a pass); REST measured on 20 only.
  const on20 = runOn(node20, 1.2, 0.6);
  const on24 = runOn(node24, 1.6, null);
  const results = resultsOf([on20, on24]);

  it("judges each runtime's targets on that runtime's rows, and says which runtime each check is of", () => {
    expect(verdictOf(on20, 'graphql-lookup-read')).toBe(false);
    expect(verdictOf(on24, 'graphql-lookup-read')).toBe(true);
    expect(verdictOf(on20, 'rest-lookup-read')).toBe(true);
    // Not measured on 24: neither a pass nor a miss.
    expect(verdictOf(on24, 'rest-lookup-read')).toBeNull();
    expect(new Set(on20.targets.map((t) => t.runtime))).toEqual(new Set(['node20']));
    expect(new Set(on24.targets.map((t) => t.runtime))).toEqual(new Set(['node24']));
  });

  it('prints the target lines under the name of their runtime, the production one marked', () => {
    const printed = formatRuntimeTargets(results);
    const [block20, block24] = printed.split('\n\n');
    expect(block20.split('\n')[0]).toBe("targets on Node v20.20.2 (the machine's, running the harness):");
    expect(block24.split('\n')[0]).toBe(
      "targets on Node v24.22.3 (the production runtime: the Dockerfile's):",
    );
    expect(block20).toMatch(/^MISS {2}GraphQL lookup read .*: 1\.20x \(target >= 1\.50x peer\)$/m);
    expect(block24).toMatch(/^PASS {2}GraphQL lookup read .*: 1\.60x \(target >= 1\.50x peer\)$/m);
    expect(block24).toMatch(/^N\/A {3}REST lookup read .*: not measured/m);
  });

  it("puts the runtimes' verdicts side by side in the targets table, the production column marked", () => {
    const [header, separator, ...lines] = targetsTable(results);
    expect(header).toBe('| target | required | Node v20.20.2 |  | **Node v24.22.3 (production)** |  |');
    expect(separator).toBe('|---|---|---|---|---|---|');
    const graphql = lines.find((l) => l.startsWith('| GraphQL lookup read'));
    expect(graphql).toMatch(/\| >= 1\.50x peer \| 1\.20x \| \*\*MISS\*\* \| 1\.60x \| PASS \|$/);
    const rest = lines.find((l) => l.startsWith('| REST lookup read'));
    expect(rest).toMatch(/\| >= 0\.50x limit \| 0\.60x \| PASS \| not measured \| N\/A \|$/);
    // Every line has the header's cells.
    for (const line of lines) expect(line.split(' | ').length).toBe(header.split(' | ').length);
  });

  it('records one table per runtime in RESULTS.md and keeps what is written around the block', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
    try {
      const path = join(dir, 'RESULTS.md');
      writeFileSync(
        path,
        '# Benchmark results\n\nbefore\n\n<!-- bench:figures:start (written by npm run bench; edit outside the markers) -->\nold\n<!-- bench:figures:end -->\n\nafter\n',
      );
      recordResults(path, results);
      const written = readFileSync(path, 'utf8');
      expect(written.startsWith('# Benchmark results\n\nbefore\n\n')).toBe(true);
      expect(written.endsWith('<!-- bench:figures:end -->\n\nafter\n')).toBe(true);
      expect(written).not.toContain('\nold\n');
      expect(written).toContain(
        "servers on Node v20.20.2 (the machine's, running the harness) and Node v24.22.3 (the production runtime: the Dockerfile's)",
      );
      const headings = written.split('\n').filter((l) => l.startsWith('#### '));
      expect(headings).toEqual([
        "#### Node v20.20.2 (the machine's, running the harness), 90 s",
        "#### Node v24.22.3 (the production runtime: the Dockerfile's), 90 s",
      ]);
      expect(written).toContain(formatTable(on20));
      expect(written).toContain(formatTable(on24));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench report of ratios measured in interleaved rounds', () => {
  // Each round measures the baseline and the gateway back to back. The ratio of the medians (1 600 / 1 000
  // req/s: 1.60x) would pass; the rounds' own ratios are 1.60x, 1.20x and 1.40x: the verdict is their median.
  const rounds = (reqPerSec: number[], cpuMsPerRequest: (number | null)[] = reqPerSec.map(() => 0.1)) => ({
    reqPerSec: Math.round([...reqPerSec].sort((a, b) => a - b)[reqPerSec.length >> 1]),
    rounds: { reqPerSec, cpuMsPerRequest },
  });
  const baseline = { ...settings, auth: 'none' as const, mode: 'baseline' as const };
  const peer = row(node24, 'peer.graphql-projects', {
    server: 'peer',
    group: 'baselines',
    settings: baseline,
    ...rounds([1000, 2000, 1000]),
  });
  const limit = row(node24, 'limit.rest-projects', {
    server: 'limit',
    group: 'baselines',
    settings: baseline,
    ...rounds([10_000, 8_000, 12_000]),
  });
  const lookup = row(node24, 'gateway.graphql-projects.cache-off', rounds([1600, 2400, 1400]));
  const rest = row(node24, 'gateway.rest-projects.cache-off', {
    group: 'rest',
    ...rounds([6_000, 4_400, 5_400]),
  });
  lookup.ratioRounds = roundRatiosOf(lookup, peer, 'reqPerSec') ?? undefined;
  // A machine busy enough to starve both servers in rounds 2 and 3 (seen on a shared machine: the peer
  // served nothing at all in round 3's window).
  const peerNested = row(node24, 'peer.graphql-nested', {
    server: 'peer',
    group: 'baselines',
    settings: baseline,
    ...rounds([1000, 100, 0], [0.2, 0.2, null]),
  });
  const nested = row(node24, 'gateway.graphql-nested.cache-off', {
    group: 'nested',
    ...rounds([1600, 100, 10]),
  });
  nested.ratioRounds = roundRatiosOf(nested, peerNested, 'reqPerSec') ?? undefined;
  rest.ratioRounds = roundRatiosOf(rest, limit, 'reqPerSec') ?? undefined;
  const mixOn = row(node24, 'gateway.dashboard-mix.cache-off', {
    group: 'mix',
    ...rounds([500, 500, 500], [0.4, 0.5, 0.4]),
  });
  const laneOff = row(node24, 'gateway.dashboard-mix.lane-off', {
    group: 'mix',
    title: 'gateway dashboard mix (GraphQL query lane off, not judged)',
    settings: { ...settings, graphqlQueryLane: 'off' },
    ...rounds([450, 450, 450], [0.48, 0.55, 0.5]),
  });
  laneOff.ratioRounds = roundRatiosOf(laneOff, mixOn, 'cpuMsPerRequest') ?? undefined;
  /** A REST row against the raw limit, both measured in the same rounds. */
  const restAgainstLimit = (limitReqPerSec: number[], gateway: ReturnType<typeof rounds>) => {
    const limitRow = row(node24, 'limit.rest-projects', {
      server: 'limit',
      group: 'baselines',
      settings: baseline,
      ...rounds(limitReqPerSec),
    });
    const restRow = row(node24, 'gateway.rest-projects.cache-off', { group: 'rest', ...gateway });
    restRow.ratioRounds = roundRatiosOf(restRow, limitRow, 'reqPerSec') ?? undefined;
    return [restRow, limitRow] as const;
  };
  // One good round, then the gateway served nothing while the limit did: 1.6x once is not a pass.
  const [restStalled, limitSteady] = restAgainstLimit(
    [1000, 1000, 1000],
    rounds([1600, 0, 0], [0.02, null, null]),
  );
  // Every round's median passes, but one round was starved: it reads MISS, with its reason.
  const [restStarved, limitStarved] = restAgainstLimit([1000, 1000, 300], rounds([600, 700, 200]));
  const run = runOf(node24, [limit, peer, peerNested, rest, lookup, nested, mixOn, laneOff]);
  setRatios(run);
  run.targets = checkTargets(run, ['baselines', 'graphql', 'rest', 'mix'], 1000, 15000);

  it("judges on the median of the rounds' ratios, not on the ratio of the medians, and prints the spread", () => {
    expect(lookup.ratioRounds).toEqual({
      against: 'peer.graphql-projects',
      of: 'reqPerSec',
      ratios: [1.6, 1.2, 1.4],
      median: 1.4,
      min: 1.2,
      max: 1.6,
      rounds: 3,
      starved: 0,
    });
    expect(lookup.ratioToPeer).toBe(1.4);
    expect(verdictOf(run, 'graphql-lookup-read')).toBe(false);
    expect(run.targets.find((t) => t.id === 'graphql-lookup-read')?.measured).toBe(
      '1.40x median of 3 interleaved rounds (1.20x-1.60x)',
    );
    // REST against the limit: 0.60x, 0.55x, 0.45x; the median passes, the ratio of the medians too.
    expect(rest.ratioToLimit).toBe(0.55);
    expect(verdictOf(run, 'rest-lookup-read')).toBe(true);
    expect(run.targets.find((t) => t.id === 'rest-lookup-read')?.measured).toBe(
      '0.55x median of 3 interleaved rounds (0.45x-0.60x)',
    );
  });

  it('says when rounds were starved or gave no ratio, and judges on the rounds that did', () => {
    expect(nested.ratioRounds).toEqual(
      expect.objectContaining({ ratios: [1.6, 1], median: 1.3, rounds: 3, starved: 2 }),
    );
    expect(nested.ratioToPeer).toBe(1.3);
    expect(run.targets.find((t) => t.id === 'graphql-nested-read')?.measured).toBe(
      "1.30x median of 2 interleaved rounds (1.00x-1.60x; 1 of 3 round(s) without a ratio: the baseline served nothing; in 2 of 3 round(s) a side served under half its best round's req/s: starved, not reliable)",
    );
    // The quiet rounds of the other rows flag nothing.
    expect(run.targets.find((t) => t.id === 'graphql-lookup-read')?.measured).not.toContain('starved');
  });

  it('counts a round in which the gateway served nothing as a ratio of 0, and never passes on unreliable rounds', () => {
    expect(restStalled.ratioRounds).toEqual(
      expect.objectContaining({ ratios: [1.6, 0, 0], median: 0, rounds: 3 }),
    );
    const judge = (gateway: ScenarioRow, against: ScenarioRow) => {
      const alone = runOf(node24, [against, gateway]);
      setRatios(alone);
      return checkTargets(alone, ['baselines', 'rest'], 1000, 15000).find((t) => t.id === 'rest-lookup-read');
    };
    expect(judge(restStalled, limitSteady)?.pass).toBe(false);
    const starved = judge(restStarved, limitStarved);
    expect(restStarved.ratioRounds).toEqual(
      expect.objectContaining({ ratios: [0.6, 0.7, 0.667], median: 0.667, starved: 1 }),
    );
    expect(starved?.pass).toBe(false);
    expect(starved?.measured).toContain('starved, not reliable');
  });

  it("lists every round's ratio, and the GraphQL query lane's share of the mix (not judged)", () => {
    const details = formatDetails(run);
    expect(details).toContain(
      'gateway.graphql-projects.cache-off: 1.40x peer (peer.graphql-projects), median of 3 interleaved round(s) of req/s ratios: 1.60x, 1.20x, 1.40x (spread 1.20x-1.60x)',
    );
    expect(details).toContain(
      "gateway dashboard mix (GraphQL query lane off, not judged): CPU per request 1.20x that of gateway.dashboard-mix.cache-off, median of 3 interleaved round(s): 1.20x, 1.10x, 1.25x (spread 1.10x-1.25x); the GraphQL query lane's share of the mix's CPU",
    );
    // Not judged: no target line is of the lane-off row.
    expect(run.targets.filter((t) => /lane/i.test(`${t.id} ${t.description}`))).toEqual([]);
  });
});

describe('bench report of a cold stampede on several fresh gateways', () => {
  const stampedeRun = (p99: number | null, calls = 1): StampedeResult =>
    p99 === null
      ? { process: 'fresh', status: 'error', error: 'gateway did not start', requests: 500 }
      : {
          process: 'fresh',
          status: 'ok',
          requests: 500,
          answeredOk: 500,
          listProjectsCalls: calls,
          afterUpstreamEnd: { count: 500, p50: p99 / 2, p90: p99, p99, max: p99, mean: p99 / 2 },
        };
  const judged = (runs: StampedeResult[]) => {
    const run: RuntimeRun = {
      runtime: node24,
      rows: [],
      passThrough: [],
      stampede: medianStampede(runs),
      stampedeFreshRuns: runs,
      stampedeWarm: null,
      subscriptions: [],
      targets: [],
      durationSeconds: 30,
    };
    const targets = checkTargets(run, ['stampede'], 1000, 15000);
    return {
      calls: targets.find((t) => t.id === 'stampede-fresh'),
      p99: targets.find((t) => t.id === 'stampede-fresh-after-upstream-p99'),
    };
  };

  it('judges the run of median p99 and lists every run beside it', () => {
    const { calls, p99 } = judged([stampedeRun(90), stampedeRun(230), stampedeRun(120)]);
    expect(p99).toEqual(
      expect.objectContaining({ pass: true, measured: '120 ms (runs: 90 ms, 230 ms, 120 ms)' }),
    );
    expect(calls).toEqual(expect.objectContaining({ pass: true, measured: '1 (runs: 1, 1, 1)' }));
    expect(judged([stampedeRun(90), stampedeRun(230), stampedeRun(160)]).p99?.pass).toBe(false);
  });

  it('never lets good runs outvote a failed run or one that called upstream twice', () => {
    const twice = judged([stampedeRun(90), stampedeRun(100, 2), stampedeRun(95)]);
    expect(twice.calls).toEqual(expect.objectContaining({ pass: false, measured: '2 (runs: 1, 2, 1)' }));
    const failed = judged([stampedeRun(90), stampedeRun(null), stampedeRun(95)]);
    expect(failed.p99?.pass).not.toBe(true);
    expect(failed.p99?.measured).toContain('error');
  });
});

describe('bench report: executePipeline measured in windows', () => {
  /** The row as the bench leaves it: CPU per call over every window together, each window's as spread. */
  const judged = (cpuMsPerRequest: number, windows?: (number | null)[]) => {
    const run = runOf(node24, [
      row(node24, 'gateway.graphql-execute', {
        group: 'execute',
        cpuMsPerRequest,
        ...(windows ? { rounds: { cpuMsPerRequest: windows, reqPerSec: windows.map(() => 900) } } : {}),
      }),
    ]);
    return checkTargets(run, ['execute'], 1000, 15000).find((t) => t.id === 'execute-cpu');
  };

  it("judges the whole run's figure, a slow window included, and lists every window in the order measured", () => {
    // A collection in the first window: the whole run misses though two windows of three are under 1 ms.
    expect(judged(1.177, [1.602, 0.95, 0.98])).toEqual(
      expect.objectContaining({
        pass: false,
        measured: '1.177 ms over 3 windows (each: 1.602, 0.95, 0.98)',
      }),
    );
    expect(judged(0.85, [0.9, 0.8, null])).toEqual(
      expect.objectContaining({ pass: true, measured: '0.85 ms over 3 windows (each: 0.9, 0.8, -)' }),
    );
    // One window (smoke mode, older results): the figure alone.
    expect(judged(0.9)?.measured).toBe('0.9 ms');
  });
});
