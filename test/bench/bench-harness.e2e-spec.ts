import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import type { BenchResults, RowSettings, RuntimeRun } from '../../bench/lib/results';

/**
 * Keeps `npm run bench` working: the compiled harness runs every scenario in smoke mode (a budget far too
 * small for figures to mean anything, so nothing here judges speed) and must write a complete, well-formed
 * results file, stop every process it started and leave no key in Redis.
 */

const ROOT = resolve(__dirname, '..', '..');
const RUN = join(ROOT, 'dist', 'bench', 'run.js');
const RESULTS_MD = join(ROOT, 'bench', 'RESULTS.md');
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

function runHarness(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [RUN, ...args], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`the harness did not finish within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const finite = (value: unknown) => typeof value === 'number' && Number.isFinite(value);

/** What every row must say about how it was measured (a row without them fails the check). */
const settingsShape = {
  responseCache: expect.stringMatching(/^(on|off)$/),
  auth: expect.stringMatching(/^(api-key|api-keys\+jwt|off|none)$/),
  callers: expect.any(Number),
  rateLimits: expect.stringMatching(/^(on|off)$/),
  mode: expect.stringMatching(/^(production|development|baseline)$/),
  logs: expect.any(String),
  metrics: expect.stringMatching(/^(on|off)$/),
};

function expectSettings(row: RuntimeRun['rows'][number]): void {
  expect({ id: row.id, settings: row.settings }).toEqual({
    id: row.id,
    settings: expect.objectContaining({ ...settingsShape, ...expectedSettings(row.id) }),
  });
}

/** The settings a row must record, by row id. */
function expectedSettings(id: string): Partial<RowSettings> {
  if (id.startsWith('limit.') || id.startsWith('peer.')) return { auth: 'none', mode: 'baseline' };
  if (id === 'gateway.dashboard-mix.auth-off')
    return { auth: 'off', rateLimits: 'off', responseCache: 'off', mode: 'development' };
  const responseCache = id.endsWith('.cache-on') ? 'on' : 'off';
  const auth = id.startsWith('gateway.dashboard-mix') ? 'api-keys+jwt' : 'api-key';
  return { auth, rateLimits: 'on', responseCache, mode: 'production', logs: 'info, to a file' };
}

describe('npm run bench (smoke mode: the harness, not the figures)', () => {
  let dir: string;
  let results: BenchResults;
  /** Smoke mode measures one runtime by default: the harness's own (CI runs it under each Node.js). */
  let measured: RuntimeRun;
  let run: { code: number | null; output: string };
  let resultsMdBefore: number | null;

  beforeAll(async () => {
    for (const built of ['main.js', join('emulator', 'main.js')]) {
      if (!existsSync(join(ROOT, 'dist', built)))
        throw new Error(`dist/${built} is missing: run npm run build`);
    }
    // What `npm run bench` does after the build: compile the harness beside it.
    const tsc = spawnSync(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.bench.json'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    if (tsc.status !== 0) throw new Error(`tsc -p tsconfig.bench.json failed:\n${tsc.stdout}${tsc.stderr}`);
    resultsMdBefore = existsSync(RESULTS_MD) ? statSync(RESULTS_MD).mtimeMs : null;
    dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
    // Smoke mode starts five gateways (production-shaped with the whole-answer cache off and on, auth off,
    // GraphQL query lane off, the stampede's); on a busy two-core machine that alone takes tens of seconds
    // (the whole smoke run: 88 s at load average 5, 106 s at 10, on the machine shared with three others).
    run = await runHarness(['--smoke', `--out=${join(dir, 'latest.json')}`], 160_000);
    results = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as BenchResults;
    measured = results.runs[0];
  }, 180_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every scenario to completion and exits 0', () => {
    expect({ code: run.code, warnings: results.warnings }).toEqual({ code: 0, warnings: expect.any(Array) });
    expect(results.warnings.filter((w) => !w.startsWith('load average'))).toEqual([]);
    expect(results.schemaVersion).toBe(3);
    expect(results.mode).toBe('smoke');
    expect(Date.parse(results.finishedAt)).toBeGreaterThanOrEqual(Date.parse(results.startedAt));
    expect(results.machine).toEqual(
      expect.objectContaining({
        nproc: expect.any(Number),
        cpuModel: expect.any(String),
        node: process.version,
      }),
    );
    // The servers ran on BENCH_NODE when set, else on the harness's Node.js; the version is reported, and
    // whether it is the Dockerfile's (production) Node.js.
    const node = process.env.BENCH_NODE || process.execPath;
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const productionMajor = Number(/^ARG NODE_VERSION=(\d+)/m.exec(dockerfile)?.[1]);
    expect(results.productionNodeMajor).toBe(productionMajor);
    expect(results.runtimes).toEqual([
      expect.objectContaining({ path: node, version: expect.stringMatching(/^v\d+\.\d+\.\d+$/) }),
    ]);
    const [runtime] = results.runtimes;
    expect(runtime.id).toBe(`node${runtime.major}`);
    expect(runtime.production).toBe(runtime.major === productionMajor);
    if (!process.env.BENCH_NODE) expect(runtime.version).toBe(process.version);
    expect(results.runs.map((r) => r.runtime)).toEqual([runtime]);
    expect(run.output).toContain(`servers on Node ${runtime.version}`);
  });

  it('measures the baselines and the gateway side by side, every row with its settings', () => {
    // The check itself fails a row that lacks its settings or records other ones.
    const sample = measured.rows.find(
      (row) => row.id === 'gateway.dashboard-mix.auth-off',
    ) as (typeof measured.rows)[number];
    expect(() => expectSettings({ ...sample, settings: undefined as unknown as RowSettings })).toThrow();
    expect(() =>
      expectSettings({ ...sample, settings: { ...sample.settings, responseCache: 'on' } }),
    ).toThrow();
    const ids = measured.rows.map((row) => row.id);
    expect(ids).toEqual([
      'limit.rest-projects',
      'peer.graphql-projects',
      'peer.graphql-nested',
      'gateway.rest-projects.cache-off',
      'gateway.graphql-projects.cache-off',
      'gateway.graphql-nested.cache-off',
      'gateway.dashboard-mix.cache-off',
      'gateway.dashboard-mix.auth-off',
      'gateway.dashboard-mix.lane-off',
      'gateway.graphql-execute',
      'gateway.rest-projects.cache-on',
      'gateway.graphql-projects.cache-on',
      'gateway.graphql-nested.cache-on',
      'gateway.dashboard-mix.cache-on',
    ]);
    for (const row of measured.rows) {
      expect({ id: row.id, status: row.status, error: row.error, runtime: row.runtime }).toEqual({
        id: row.id,
        status: 'ok',
        error: undefined,
        runtime: measured.runtime.id,
      });
      expectSettings(row);
      expect(row.reqPerSec).toBeGreaterThan(0);
      for (const value of [row.p50Ms, row.p99Ms, row.rssMb, row.cpuMsPerRequest, row.ratioToLimit]) {
        expect(finite(value)).toBe(true);
      }
      // Single reads have a peer; the mix and the mutation have none.
      const hasPeer = !row.id.includes('dashboard-mix') && row.id !== 'gateway.graphql-execute';
      expect({ id: row.id, peer: finite(row.ratioToPeer) }).toEqual({ id: row.id, peer: hasPeer });
    }
    const limit = measured.rows[0];
    expect(limit.ratioToLimit).toBe(1);
    // The judged ratio rows: measured in rounds interleaved with their baseline, the ratio the median of
    // the rounds' ratios; the baselines' figures are medians of the same rounds.
    const byId = new Map(measured.rows.map((row) => [row.id, row]));
    for (const [id, baseline, ratioOf] of [
      ['gateway.rest-projects.cache-off', 'limit.rest-projects', 'ratioToLimit'],
      ['gateway.graphql-projects.cache-off', 'peer.graphql-projects', 'ratioToPeer'],
      ['gateway.graphql-nested.cache-off', 'peer.graphql-nested', 'ratioToPeer'],
    ] as const) {
      const row = byId.get(id);
      expect({ id, rounds: row?.rounds?.reqPerSec.length }).toEqual({
        id,
        rounds: results.budget.ratioRounds,
      });
      expect(byId.get(baseline)?.rounds?.reqPerSec).toHaveLength(results.budget.ratioRounds);
      expect(row?.ratioRounds).toEqual(
        expect.objectContaining({ against: baseline, of: 'reqPerSec', ratios: expect.any(Array) }),
      );
      expect(row?.[ratioOf]).toBe(row?.ratioRounds?.median);
    }
    // The mix with the GraphQL query lane off: production-shaped, in the mix's rounds, not judged.
    const laneOff = byId.get('gateway.dashboard-mix.lane-off');
    expect(laneOff?.settings.graphqlQueryLane).toBe('off');
    expect(byId.get('gateway.dashboard-mix.cache-off')?.settings.graphqlQueryLane).toBe('on');
    expect(laneOff?.rounds?.cpuMsPerRequest).toHaveLength(results.budget.mixRounds);
    expect(laneOff?.ratioRounds).toEqual(
      expect.objectContaining({ against: 'gateway.dashboard-mix.cache-off', of: 'cpuMsPerRequest' }),
    );
    // Production-shaped: 200 API-key callers and JWT callers in the mix, one caller for single reads.
    const mix = measured.rows.find((row) => row.id === 'gateway.dashboard-mix.cache-on');
    expect(mix?.settings.callers).toBeGreaterThanOrEqual(200);
    expect(mix?.distinctRequests).toBeGreaterThan(mix?.settings.callers ?? 0);
    // The whole-answer cache: counted from /metrics; with it off nothing is served from it.
    for (const row of measured.rows.filter((r) => r.id.startsWith('gateway.') && r.group !== 'execute')) {
      expect({ id: row.id, hits: finite(row.hotRead?.hits) }).toEqual({ id: row.id, hits: true });
      if (row.settings.responseCache === 'off')
        expect({ id: row.id, hits: row.hotRead?.hits }).toEqual({ id: row.id, hits: 0 });
    }
    const cachedRest = measured.rows.find((row) => row.id === 'gateway.rest-projects.cache-on');
    expect(cachedRest?.hotRead?.hits).toBeGreaterThan(0);
    // Cached lookups were warmed first: the measured run barely touches Maia.
    const rest = measured.rows.find((row) => row.id === 'gateway.rest-projects.cache-off');
    expect(rest?.upstreamCalls?.listProjects ?? 0).toBeLessThanOrEqual(1);
    // Logs at info went to a file: every request wrote its line there.
    expect(rest?.logBytesPerRequest).toBeGreaterThan(50);
  });

  it('compares uncached pass-through with calling the emulator directly', () => {
    expect(measured.passThrough.map((p) => [p.id, p.status, p.error])).toEqual([
      ['passthrough.graphql-execution', 'ok', undefined],
      ['passthrough.rest-execution', 'ok', undefined],
    ]);
    for (const pass of measured.passThrough) {
      expect(pass.runtime).toBe(measured.runtime.id);
      expect(pass.direct?.count).toBe(results.budget.pairedSamples);
      expect(pass.gateway?.count).toBe(results.budget.pairedSamples);
      expect(finite(pass.addedP50Ms)).toBe(true);
    }
  });

  it('counts the upstream calls of the cold stampedes, times their answers against the call, and follows every subscriber to the terminal status', () => {
    // The engine's stampedes (judged) run with the whole-answer cache off; the same with it on are kept apart.
    for (const [stampede, process, responseCache] of [
      [measured.stampede, 'fresh', 'off'],
      [measured.stampedeWarm, 'warm', 'off'],
      [measured.stampedeWholeAnswer?.judged, 'fresh', 'on'],
      [measured.stampedeWholeAnswer?.warm, 'warm', 'on'],
    ] as const) {
      expect(stampede).toEqual(
        expect.objectContaining({
          process,
          runtime: measured.runtime.id,
          status: 'ok',
          requests: results.budget.stampedeSize,
          answeredOk: results.budget.stampedeSize,
          settings: expect.objectContaining({ ...settingsShape, responseCache }),
        }),
      );
      expect(stampede?.listProjectsCalls).toEqual(expect.any(Number));
      // Connections were opened beforehand (measured apart), then the queries waited for Maia's answer.
      expect(stampede?.connectionSetup?.connections).toBe(results.budget.stampedeSize);
      expect(stampede?.afterUpstreamEnd?.count).toBe(results.budget.stampedeSize);
      expect(stampede?.upstreamLog?.some((call) => call.call.startsWith('GET /dpc/v1/projects'))).toBe(true);
      // The moments on the profiler's clock, in order (bench/stampede-profile.ts cuts profiles at them).
      const at = stampede?.monotonicUs;
      expect(at && at.firstQuery <= (at.upstreamEnd ?? 0) && (at.upstreamEnd ?? 0) <= at.lastAnswer).toBe(
        true,
      );
    }
    // Every fresh gateway's stampede is kept; the one judged is one of them.
    expect(measured.stampedeFreshRuns).toHaveLength(results.budget.stampedeFreshRuns);
    expect(measured.stampedeFreshRuns).toContainEqual(measured.stampede);
    expect(measured.stampedeWholeAnswer?.fresh).toHaveLength(results.budget.stampedeFreshRuns);
    expect(measured.subscriptions).toHaveLength(1);
    const [round] = measured.subscriptions;
    const n = results.budget.subscriberCounts[0];
    expect(round).toEqual(
      expect.objectContaining({
        subscribers: n,
        runtime: measured.runtime.id,
        status: 'ok',
        connected: n,
        delivered: n,
        late: 0,
        failed: 0,
      }),
    );
    expect(round.fanOut?.count).toBe(n);
    expect(round.settings).toEqual(expect.objectContaining(settingsShape));
    expect(round.statusCalls).toEqual(expect.any(Number));
  });

  it('checks every target of the issue and prints each as PASS, MISS or N/A', () => {
    const ids = measured.targets.map((t) => t.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        'graphql-lookup-read',
        'graphql-nested-read',
        'rest-lookup-read',
        'dashboard-mix-auth-cost',
        'passthrough.graphql-execution-added-p50',
        'passthrough.rest-execution-added-p50',
        'stampede-fresh',
        'stampede-fresh-after-upstream-p99',
        'stampede-warm',
        'stampede-warm-after-upstream-p99',
        'execute-cpu',
        'subscribers-rss',
        'subscribers-fanout-p99',
      ]),
    );
    // Under the name of the runtime they were measured on (the production one says so).
    const heading = `targets on Node ${measured.runtime.version} (${measured.runtime.production ? 'the production runtime' : ''}`;
    expect(run.output).toContain(heading);
    for (const target of measured.targets) {
      expect(target.runtime).toBe(measured.runtime.id);
      expect(typeof target.pass).toBe('boolean');
      expect(run.output).toContain(`${target.pass ? 'PASS' : 'MISS'}  ${target.description}`);
    }
    expect(run.output).toMatch(
      /scenario\s+cache\s+auth\s+callers\s+hits\s+req\/s\s+p50 ms\s+p99 ms\s+RSS MB\s+CPU ms\/req\s+x limit\s+x peer/,
    );
  });

  it('refuses a runtime that is neither a major version nor a path, before starting anything', async () => {
    const refused = await runHarness(['--smoke', '--runtimes=latest'], 30_000);
    expect(refused.code).toBe(64);
    expect(refused.output).toContain('--runtimes: latest is neither a major version nor a path to node');
  });

  it('leaves nothing behind: no process, no Redis key, RESULTS.md untouched', async () => {
    expect(results.processes.map((p) => p.name)).toEqual(
      expect.arrayContaining(['emulator', 'gateway', 'limit', 'peer']),
    );
    expect(results.processes.filter((p) => alive(p.pid))).toEqual([]);
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      for (const prefix of results.redisKeyPrefixes) {
        const [, keys] = await redis.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 10_000);
        expect({ prefix, keys }).toEqual({ prefix, keys: [] });
      }
    } finally {
      redis.disconnect();
    }
    expect(existsSync(RESULTS_MD) ? statSync(RESULTS_MD).mtimeMs : null).toBe(resultsMdBefore);
  });
});
