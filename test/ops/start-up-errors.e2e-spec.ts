import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';

/**
 * Newcomer mistakes at start (`node dist/main.js`, or the standalone emulator's `dist/emulator/main.js`;
 * run `npm run build` first): each ends in one line that names the setting to change and exit status 78,
 * with no stack trace, no "successfully started" and no companion complaint about a setting that is fine.
 */

const MAIN = resolve(__dirname, '..', '..', 'dist', 'main.js');
const EMULATOR_MAIN = resolve(__dirname, '..', '..', 'dist', 'emulator', 'main.js');

interface Ended {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the gateway to its end (it must end by itself: a start refused), with exactly `env` plus PATH. */
function runGateway(env: Record<string, string>, main = MAIN): Promise<Ended> {
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build`);
  return new Promise((done) => {
    execFile(
      process.execPath,
      [main],
      // Generous: loading the gateway on a busy 2-core machine can take tens of seconds.
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? (error.code as number | null) : 0, stdout, stderr }),
    );
  });
}

/** A port held by another listener on 127.0.0.1 for the duration of a test. */
async function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { port: address.port, server };
}

function expectOneClearLine(ended: Ended, setting: string): void {
  expect(ended.code).toBe(78);
  const lines = ended.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^${setting}=\\d+: port \\d+ on 127\\.0\\.0\\.1 is already in use`));
  expect(lines[0]).toContain(`set ${setting} to a free port`);
  const all = ended.stdout + ended.stderr;
  expect(all).not.toContain('successfully started');
  expect(all).not.toContain('listening on');
  expect(all).not.toMatch(/\n\s+at /); // no stack trace
}

describe('start-up errors name the setting to change', () => {
  let held: { port: number; server: Server };
  beforeEach(async () => {
    held = await holdPort();
  });
  afterEach(async () => {
    await new Promise((closed) => held.server.close(closed));
  });

  it('a busy gateway port: one line naming PORT, before anything says it started', async () => {
    const ended = await runGateway({
      HOST: '127.0.0.1',
      PORT: String(held.port),
      SANDBOX_EMULATOR_PORT: '0',
    });
    expectOneClearLine(ended, 'PORT');
    expect(ended.stderr).toContain(`PORT=${held.port}`);
  });

  it('a busy emulator port in sandbox mode: one line naming SANDBOX_EMULATOR_PORT', async () => {
    const ended = await runGateway({
      HOST: '127.0.0.1',
      PORT: '0',
      SANDBOX_EMULATOR_PORT: String(held.port),
    });
    expectOneClearLine(ended, 'SANDBOX_EMULATOR_PORT');
    expect(ended.stderr).toContain(`SANDBOX_EMULATOR_PORT=${held.port}`);
  });

  it('a busy port for the standalone emulator (npm run emulator): one line naming EMULATOR_PORT', async () => {
    const ended = await runGateway(
      { EMULATOR_HOST: '127.0.0.1', EMULATOR_PORT: String(held.port) },
      EMULATOR_MAIN,
    );
    expectOneClearLine(ended, 'EMULATOR_PORT');
    expect(ended.stderr).toContain(`EMULATOR_PORT=${held.port}`);
  });
});

describe('an invalid setting is reported alone', () => {
  it.each([
    ['PORT', { PORT: 'eighty' }],
    ['PORT', { PORT: '70000' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
  ])('%s: only that problem, no "production mode needs AUTH_API_KEYS"', async (setting, env) => {
    const ended = await runGateway({ HOST: '127.0.0.1', SANDBOX_EMULATOR_PORT: '0', ...env });
    expect(ended.code).toBe(78);
    const problems = ended.stderr
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('  - '));
    expect(ended.stderr).toMatch(/^Invalid configuration:\n/);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^  - ${setting}: `));
    expect(ended.stderr).not.toContain('AUTH_API_KEYS');
    expect(ended.stdout).not.toContain('listening on');
  });
});
