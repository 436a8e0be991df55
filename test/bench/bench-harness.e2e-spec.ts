import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import type { BenchResults } from '../../bench/lib/results';

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

describe('npm run bench (smoke mode: the harness, not the figures)', () => {
  let dir: string;
  let results: BenchResults;
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
    run = await runHarness(['--smoke', `--out=${join(dir, 'latest.json')}`], 45_000);
    results = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as BenchResults;
  }, 60_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every scenario to completion and exits 0', () => {
    expect({ code: run.code, warnings: results.warnings }).toEqual({ code: 0, warnings: expect.any(Array) });
    expect(results.warnings.filter((w) => !w.startsWith('load average'))).toEqual([]);
    expect(results.schemaVersion).toBe(1);
    expect(results.mode).toBe('smoke');
    expect(Date.parse(results.finishedAt)).toBeGreaterThanOrEqual(Date.parse(results.startedAt));
    expect(results.machine).toEqual(
      expect.objectContaining({
        nproc: expect.any(Number),
        cpuModel: expect.any(String),
        node: process.version,
      }),
    );
  });

  it('measures the baselines and the gateway side by side, with ratios to both baselines', () => {
    const ids = results.rows.map((row) => row.id);
    expect(ids).toEqual([
      'limit.rest-projects',
      'peer.graphql-projects',
      'peer.graphql-nested',
      'gateway.rest-projects',
      'gateway.graphql-projects',
      'gateway.graphql-nested',
      'gateway.graphql-execute',
    ]);
    for (const row of results.rows) {
      expect({ id: row.id, status: row.status, error: row.error }).toEqual({
        id: row.id,
        status: 'ok',
        error: undefined,
      });
      expect(row.reqPerSec).toBeGreaterThan(0);
      for (const value of [
        row.p50Ms,
        row.p99Ms,
        row.rssMb,
        row.cpuMsPerRequest,
        row.ratioToLimit,
        row.ratioToPeer,
      ]) {
        expect(finite(value)).toBe(true);
      }
    }
    const limit = results.rows[0];
    expect(limit.ratioToLimit).toBe(1);
    // Cached reads were warmed first: the measured run barely touches Maia.
    const rest = results.rows.find((row) => row.id === 'gateway.rest-projects');
    expect(rest?.upstreamCalls?.listProjects ?? 0).toBeLessThanOrEqual(1);
  });

  it('compares uncached pass-through with calling the emulator directly', () => {
    expect(results.passThrough.map((p) => [p.id, p.status, p.error])).toEqual([
      ['passthrough.graphql-execution', 'ok', undefined],
      ['passthrough.rest-execution', 'ok', undefined],
    ]);
    for (const pass of results.passThrough) {
      expect(pass.direct?.count).toBe(results.budget.pairedSamples);
      expect(pass.gateway?.count).toBe(results.budget.pairedSamples);
      expect(finite(pass.addedP50Ms)).toBe(true);
    }
  });

  it('counts the upstream calls of the cold stampede and follows every subscriber to the terminal status', () => {
    expect(results.stampede).toEqual(
      expect.objectContaining({
        status: 'ok',
        requests: results.budget.stampedeSize,
        answeredOk: results.budget.stampedeSize,
      }),
    );
    expect(results.stampede?.listProjectsCalls).toEqual(expect.any(Number));
    expect(results.subscriptions).toHaveLength(1);
    const [round] = results.subscriptions;
    const n = results.budget.subscriberCounts[0];
    expect(round).toEqual(
      expect.objectContaining({
        subscribers: n,
        status: 'ok',
        connected: n,
        delivered: n,
        late: 0,
        failed: 0,
      }),
    );
    expect(round.fanOut?.count).toBe(n);
    expect(round.statusCalls).toEqual(expect.any(Number));
  });

  it('checks every target of the issue and prints each as PASS, MISS or N/A', () => {
    const ids = results.targets.map((t) => t.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        'rest-cached-read',
        'graphql-cached-read',
        'passthrough.graphql-execution-added-p50',
        'passthrough.rest-execution-added-p50',
        'subscribers-rss',
        'subscribers-fanout-p99',
        'stampede',
      ]),
    );
    for (const target of results.targets) {
      expect(typeof target.pass).toBe('boolean');
      expect(run.output).toContain(`${target.pass ? 'PASS' : 'MISS'}  ${target.description}`);
    }
    expect(run.output).toMatch(
      /scenario\s+req\/s\s+p50 ms\s+p99 ms\s+RSS MB\s+CPU ms\/req\s+x limit\s+x peer/,
    );
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
