import { execFileSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { tasksetAvailable } from './child-process';
import { ROOT } from './repo';

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
