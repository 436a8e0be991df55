import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  buildClientSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
  type IntrospectionQuery,
} from 'graphql';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { gqlData } from './support/api-client';

const run = promisify(execFile);
const REPO_ROOT = resolve(__dirname, '..', '..');
const PRINT_SCHEMA = join(REPO_ROOT, 'dist', 'schema', 'print-schema.js');
const SCHEMA_FILE = join(REPO_ROOT, 'schema.gql');

/** `schema.gql` is the served schema, and the CI check (`print-schema.js --check`) fails when it drifts. */
describe('schema.gql', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'schema-drift-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the committed file is what the code generates (the CI check passes)', async () => {
    const { stdout } = await run(process.execPath, [PRINT_SCHEMA, '--check'], { cwd: REPO_ROOT });
    expect(stdout).toContain('is up to date');
  });

  it('a drifted file fails the check with a clear message and a non-zero exit', async () => {
    const drifted = join(dir, 'schema.gql');
    writeFileSync(
      drifted,
      readFileSync(SCHEMA_FILE, 'utf8').replace('type PageInfo {', 'type PageInfo {\n  removedField: String'),
    );
    const failure = await run(process.execPath, [PRINT_SCHEMA, '--check', '--file', drifted], {
      cwd: REPO_ROOT,
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toContain('has drifted from the code');
    expect(failure?.stderr).toContain("Run 'npm run schema'");

    // Regenerating repairs it.
    await run(process.execPath, [PRINT_SCHEMA, '--file', drifted], { cwd: REPO_ROOT });
    expect(readFileSync(drifted, 'utf8')).toBe(readFileSync(SCHEMA_FILE, 'utf8'));
  });

  describe('against a running gateway', () => {
    let maia: EmulatorFixture;
    let gateway: InProcessGateway;
    beforeAll(async () => {
      maia = await startEmulatorFixture();
      gateway = await startGateway(gatewayEnv(maia));
    });
    afterAll(async () => {
      await gateway?.close();
      await maia?.close();
    });

    it('the served schema (introspection) is the committed one', async () => {
      const introspection = (await gqlData(gateway.url, getIntrospectionQuery())) as IntrospectionQuery;
      const served = printSchema(lexicographicSortSchema(buildClientSchema(introspection)));
      const committed = readFileSync(SCHEMA_FILE, 'utf8')
        .replace(/^#.*\n\n/, '')
        .trim();
      expect(served.trim()).toBe(committed);
    });
  });
});
