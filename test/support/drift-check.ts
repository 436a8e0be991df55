import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO_ROOT = resolve(__dirname, '..', '..');

export interface DriftCheck {
  /** The committed file at the repository root, e.g. `schema.gql`. */
  file: string;
  /** The built printer under `dist/schema/`, e.g. `print-schema.js`. */
  printer: string;
  /** The npm script that rewrites the file, named in the failure message. */
  script: string;
  /** A change to the committed text that the check must notice. */
  drift(text: string): string;
}

/**
 * The tests every generated-and-committed document shares with CI's drift step: the committed file is what
 * the code generates, a drifted one fails with a clear message and exit 1, and regenerating repairs it.
 */
export function describeDriftCheck({ file, printer, script, drift }: DriftCheck): void {
  const committedFile = join(REPO_ROOT, file);
  const printerFile = join(REPO_ROOT, 'dist', 'schema', printer);
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'drift-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the committed file is what the code generates (the CI check passes)', async () => {
    const { stdout } = await run(process.execPath, [printerFile, '--check'], { cwd: REPO_ROOT });
    expect(stdout).toContain('is up to date');
  });

  it('a drifted file fails the check with a clear message and a non-zero exit; regenerating repairs it', async () => {
    const drifted = join(dir, file);
    const text = readFileSync(committedFile, 'utf8');
    expect(drift(text)).not.toBe(text);
    writeFileSync(drifted, drift(text));
    const failure = await run(process.execPath, [printerFile, '--check', '--file', drifted], {
      cwd: REPO_ROOT,
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('has drifted from the code');
    expect(failure?.stderr).toContain(`Run 'npm run ${script}'`);

    await run(process.execPath, [printerFile, '--file', drifted], { cwd: REPO_ROOT });
    expect(readFileSync(drifted, 'utf8')).toBe(text);
  });
}
