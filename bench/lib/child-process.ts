import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, fstatSync } from 'node:fs';

/**
 * Servers under test run as child processes, each pinned to its own core where the machine allows, so a
 * server never competes with the load generator for CPU and figures stay comparable between servers.
 */

export interface SpawnedServer {
  name: string;
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  pid: number;
  child: ChildProcess;
  /** The last 64 KiB the process wrote (stdout and stderr), for failure messages. */
  output(): string;
  /** Resident set size now, in bytes (0 once the process is gone). */
  rssBytes(): number;
  /** Peak resident set size so far (VmHWM), in bytes. */
  peakRssBytes(): number;
  /** CPU time used so far (user + system), in milliseconds. */
  cpuTimeMs(): number;
  /** null while running; the exit code or signal once it has exited. */
  exitStatus(): number | string | null;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  /** Arguments after `node` (node flags first, then the script). */
  args: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  /** Core to pin the process to with taskset, or null for no pinning. */
  core: number | null;
  /** The line that announces the URL; its first group is the URL. */
  listening: RegExp;
  startTimeoutMs?: number;
  /**
   * Send the process's stdout and stderr to this file instead of a pipe to the harness, as a deployment
   * sends its logs to a file or a collector: the load generator then never reads a log line.
   */
  logFile?: string;
}

/** The Node.js the next servers start on (`useServerNode`); null: BENCH_NODE, else the harness's own. */
let chosenServerNode: string | null = null;

/**
 * Makes every server started from now on (gateway, emulator, baselines) run on `node`: the harness
 * measures one runtime at a time (`--runtimes`), and the code that starts servers stays the same for each.
 */
export function useServerNode(node: string | null): void {
  chosenServerNode = node;
}

/**
 * The Node.js that runs every server: the one `useServerNode` chose, else BENCH_NODE when set (e.g. a
 * Node 24 fetched to a cache folder), else the one running the harness.
 */
export function serverNode(): string {
  return chosenServerNode ?? (process.env.BENCH_NODE || process.execPath);
}

/** `node --version` of a Node.js binary (the harness's own without starting it). */
export function nodeVersionOf(node: string): string {
  if (node === process.execPath) return process.version;
  const result = spawnSync(node, ['--version'], { encoding: 'utf8' });
  if (result.status !== 0 || !/^v\d+\.\d+\.\d+/.test(result.stdout ?? ''))
    throw new Error(`${node} does not run as node: ${result.stderr || result.error || result.stdout}`);
  return result.stdout.trim();
}

/** The last `limit` characters of a file (empty when it cannot be read). */
function tailOf(path: string, limit: number): string {
  let fd: number | null = null;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, limit);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

const OUTPUT_LIMIT_CHARS = 64 * 1024;

/** Every process this run started (the harness check proves none outlives the run). */
export const spawnedProcesses: { name: string; pid: number }[] = [];

export function tasksetAvailable(): boolean {
  return spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Pins every thread of an existing process (e.g. the load generator itself) to one core. */
export function pinProcess(pid: number, core: number): boolean {
  return (
    spawnSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' }).status === 0
  );
}

function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

// Clock ticks per second of /proc/<pid>/stat times (USER_HZ): 100 on every Linux that matters here.
const USER_HZ = 100;

/** CPU time (user + system) the process has used so far, in milliseconds (10 ms resolution). */
export function cpuTimeMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ": utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return 0;
  }
}

export function rssOf(pid: number): number {
  return procStatusBytes(pid, 'VmRSS');
}

export async function spawnServer(options: SpawnOptions): Promise<SpawnedServer> {
  const node = serverNode();
  const command = options.core === null ? node : 'taskset';
  const args = options.core === null ? options.args : ['-c', String(options.core), node, ...options.args];
  const logFd = options.logFile ? openSync(options.logFile, 'a') : null;
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
  });
  if (logFd !== null) closeSync(logFd); // the child holds its own copy
  let piped = '';
  const output = () => (options.logFile ? tailOf(options.logFile, OUTPUT_LIMIT_CHARS) : piped);
  const append = (chunk: Buffer) => {
    piped += chunk.toString('utf8');
    if (piped.length > OUTPUT_LIMIT_CHARS) piped = piped.slice(-OUTPUT_LIMIT_CHARS);
  };
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const url = await new Promise<string>((resolveUrl, reject) => {
    let seen = '';
    let watch: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      clearInterval(watch);
      child.kill('SIGKILL');
      reject(new Error(`${options.name} did not start within ${timeoutMs} ms:\n${output()}`));
    }, timeoutMs);
    if (options.logFile) {
      // The log file is looked at until the listening line shows (a condition, not a fixed wait).
      watch = setInterval(() => {
        const match = options.listening.exec(tailOf(options.logFile as string, OUTPUT_LIMIT_CHARS));
        if (match) {
          clearTimeout(timer);
          clearInterval(watch);
          resolveUrl(match[1].replace('localhost', '127.0.0.1'));
        }
      }, 50);
    }
    const onData = (chunk: Buffer) => {
      append(chunk);
      seen += chunk.toString('utf8');
      const match = options.listening.exec(seen);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        resolveUrl(match[1].replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      clearInterval(watch);
      reject(new Error(`${options.name} exited before it listened:\n${output()}`));
    });
  });
  // Keep draining the pipes: a full pipe would block the child's writes (and its event loop).
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const pid = child.pid as number;
  spawnedProcesses.push({ name: options.name, pid });
  return {
    name: options.name,
    url,
    pid,
    child,
    output,
    rssBytes: () => rssOf(pid),
    peakRssBytes: () => procStatusBytes(pid, 'VmHWM'),
    cpuTimeMs: () => cpuTimeMsOf(pid),
    exitStatus: () => child.exitCode ?? child.signalCode ?? null,
    stop: async (graceMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
