import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { GatewayEnv } from './gateway-env';

const REPO_ROOT = resolve(__dirname, '..', '..');
const MAIN = resolve(REPO_ROOT, 'dist', 'main.js');
const LISTENING = /listening on (http:\/\/[^\s"']+)/;

export interface GatewayProcess {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr interleaved), for failure messages. */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends a signal (default SIGTERM) and waits for the exit, SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

/**
 * Starts `node dist/main.js` (run `npm run build` first; `npm test` does) with exactly `env` plus PATH and
 * HOME, and resolves once it prints its "listening on" line. Use `PORT=0` for a random port, and
 * `SANDBOX_EMULATOR_PORT=0` when it runs in sandbox mode.
 */
export async function startGatewayProcess(
  env: GatewayEnv,
  options: { timeoutMs?: number } = {},
): Promise<GatewayProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build`);
  // Generous: on a busy 2-core CI machine loading the gateway alone can take tens of seconds.
  const timeoutMs = options.timeoutMs ?? 45_000;
  const child = spawn(process.execPath, [MAIN], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | string>((done) =>
    child.once('exit', (code, signal) => done(code ?? signal ?? 'unknown')),
  );
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = LISTENING.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1].replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${code}) before it listened:\n${output}`));
    });
  });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<number | string> => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return { url, pid: child.pid as number, child, output: () => output, exited, stop };
}
