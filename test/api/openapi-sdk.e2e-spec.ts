import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';

const run = promisify(execFile);
const REPO_ROOT = resolve(__dirname, '..', '..');
const OPENAPI_FILE = join(REPO_ROOT, 'openapi.json');
const OPENAPI_TYPESCRIPT = join(REPO_ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');
/** Inside node_modules, so the generated client resolves `openapi-fetch` as any project would. */
const WORK_ROOT = join(REPO_ROOT, 'node_modules', '.cache', 'openapi-sdk-test');

const API_KEY = 'openapi-sdk-test-key';
const ANALYTICS = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';

/**
 * A client written the way a user of the generated SDK writes it: `openapi-typescript` types from the committed
 * `openapi.json`, `openapi-fetch` for the calls. The test type-checks it (strict) before it runs it, so a
 * document that types errors as `undefined`, statuses as `string` or ids wrongly fails here.
 */
const CLIENT_SOURCE = `
import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

export type ErrorCode = components['schemas']['ErrorCode'];
export type ExecutionStatus = components['schemas']['ExecutionStatus'];
export type Problem = components['schemas']['ProblemDto'];

// A code the gateway does not have, or a status Maia does not have, does not compile.
// @ts-expect-error NOT_A_CODE is not one of the gateway's error codes
export const wrongCode: ErrorCode = 'NOT_A_CODE';
// @ts-expect-error DONE is not an execution status
export const wrongStatus: ExecutionStatus = 'DONE';

const FINISHED: readonly ExecutionStatus[] = ['SUCCESS', 'FAILED', 'CANCELLED', 'SKIPPED', 'FORBIDDEN'];

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

/** Maia's guide, step by step, through the generated SDK. */
export function seedClient(baseUrl: string, apiKey?: string) {
  const client = createClient<paths>({ baseUrl, headers: apiKey ? { 'X-API-Key': apiKey } : {} });
  return {
    async projects() {
      const { data, error } = await client.GET('/api/v1/projects', { params: { query: { page: 0, size: 25 } } });
      if (error) throw new ProblemError(error);
      const total: number = data.total;
      return { total, projects: data.results.map((project) => ({ id: project.id, name: project.name })) };
    },
    /** A client that swaps only the host: Maia's own /dpc/v1 paths, with the same types. */
    async projectCountOnMaiaPaths(): Promise<number> {
      const { data, error } = await client.GET('/dpc/v1/projects', { params: { query: { size: 100 } } });
      if (error) throw new ProblemError(error);
      return data.total;
    },
    async environments(projectId: string) {
      const { data, error } = await client.GET('/api/v1/projects/{projectId}/environments', {
        params: { path: { projectId } },
      });
      if (error) throw new ProblemError(error);
      return data.results.map((environment) => ({ name: environment.name, runner: environment.defaultAgentName }));
    },
    async publishedPipelines(projectId: string, environmentName: string) {
      const { data, error } = await client.GET('/api/v1/projects/{projectId}/published-pipelines', {
        params: { path: { projectId }, query: { environmentName } },
      });
      if (error) throw new ProblemError(error);
      return data.results.map((pipeline) => pipeline.name);
    },
    async execute(projectId: string, pipelineName: string, environmentName: string): Promise<string> {
      const { data, error, response } = await client.POST('/api/v1/projects/{projectId}/pipeline-executions', {
        params: { path: { projectId } },
        body: { pipelineName, environmentName },
      });
      if (error) throw new ProblemError(error);
      if (response.status !== 201) throw new Error('execute answers 201');
      return data.pipelineExecutionId;
    },
    /** The light poll Maia recommends: the status as the union of Maia's statuses. */
    async status(projectId: string, pipelineExecutionId: string): Promise<{ status: ExecutionStatus; finished: boolean }> {
      const { data, error } = await client.GET(
        '/api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}/status',
        { params: { path: { projectId, pipelineExecutionId } } },
      );
      if (error) throw new ProblemError(error);
      const status: ExecutionStatus = data.status;
      return { status, finished: FINISHED.includes(status) };
    },
    async read(projectId: string, pipelineExecutionId: string) {
      const { data, error } = await client.GET('/api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}', {
        params: { path: { projectId, pipelineExecutionId } },
      });
      if (error) throw new ProblemError(error);
      const finishedAt: string | null = data.finishedAt;
      const status: ExecutionStatus = data.status;
      return { pipelineName: data.pipelineName, status, finishedAt };
    },
    async steps(projectId: string, pipelineExecutionId: string) {
      const { data, error } = await client.GET(
        '/api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}/steps',
        { params: { path: { projectId, pipelineExecutionId }, query: { page: 0, size: 100 } } },
      );
      if (error) throw new ProblemError(error);
      return data.results.map((step) => {
        const status: ExecutionStatus = step.result.status;
        return { name: step.name, status };
      });
    },
    /** Cancel; a run that has finished answers a typed 409 whose code narrows to the union's members. */
    async cancel(projectId: string, pipelineExecutionId: string, forceUpdate: boolean) {
      const { data, error } = await client.PATCH('/api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}', {
        params: { path: { projectId, pipelineExecutionId } },
        body: { status: 'CANCELLED', forceUpdate },
      });
      if (!error) return { cancelled: data.pipelineExecutionId };
      if (error.code === 'ALREADY_FINISHED' || error.code === 'CONFLICT') {
        const code: 'ALREADY_FINISHED' | 'CONFLICT' = error.code;
        return { refused: code, status: error.status, error: error.error };
      }
      throw new ProblemError(error);
    },
    async executions(projectId: string) {
      const { data, error } = await client.GET('/api/v1/pipeline-executions', {
        params: { query: { projectId, limit: 100 } },
      });
      if (error) throw new ProblemError(error);
      return data.results.map((execution) => ({ id: execution.pipelineExecutionId, status: execution.status }));
    },
    /** An error as the SDK types it: the code is the enum, and narrows. */
    async environmentsOfUnknownProject(): Promise<ErrorCode> {
      const { data, error } = await client.GET('/api/v1/projects/{projectId}/environments', {
        params: { path: { projectId: '00000000-0000-4000-8000-000000000000' } },
      });
      if (data) throw new Error('an unknown project has no environments');
      if (error.code === 'NOT_FOUND') {
        const notFound: 'NOT_FOUND' = error.code;
        return notFound;
      }
      return error.code;
    },
  };
}
`;

/** The generated module as this test calls it (the module itself is type-checked on its own, below). */
interface SeedClient {
  projects(): Promise<{ total: number; projects: { id: string; name: string }[] }>;
  projectCountOnMaiaPaths(): Promise<number>;
  environments(projectId: string): Promise<{ name: string; runner?: string | null }[]>;
  publishedPipelines(projectId: string, environmentName: string): Promise<string[]>;
  execute(projectId: string, pipelineName: string, environmentName: string): Promise<string>;
  status(projectId: string, id: string): Promise<{ status: string; finished: boolean }>;
  read(projectId: string, id: string): Promise<{ pipelineName: string | null; status: string }>;
  steps(projectId: string, id: string): Promise<{ name: string; status: string }[]>;
  cancel(projectId: string, id: string, forceUpdate: boolean): Promise<Record<string, unknown>>;
  executions(projectId: string): Promise<{ id: string; status: string }[]>;
  environmentsOfUnknownProject(): Promise<string>;
}
interface SdkModule {
  seedClient(baseUrl: string, apiKey?: string): SeedClient;
}

describe('a client generated from the committed openapi.json (openapi-typescript + openapi-fetch)', () => {
  let dir: string;
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  let sdk: SdkModule;

  beforeAll(async () => {
    mkdirSync(WORK_ROOT, { recursive: true });
    dir = mkdtempSync(join(WORK_ROOT, 'client-'));
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    const keys = [
      {
        name: 'sdk',
        sha256: createHash('sha256').update(API_KEY, 'utf8').digest('hex'),
        scopes: ['read', 'execute', 'cancel'],
        projects: ['*'],
      },
    ];
    gateway = await startGateway(gatewayEnv(maia, { AUTH_API_KEYS: JSON.stringify(keys) }));
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('generates, type-checks (errors typed with the code enum, statuses a union) and walks the seed guide', async () => {
    // 1. Types from the committed document, as a user runs the generator.
    await run(process.execPath, [OPENAPI_TYPESCRIPT, OPENAPI_FILE, '--output', join(dir, 'schema.d.ts')], {
      cwd: REPO_ROOT,
    });
    const clientFile = join(dir, 'client.ts');
    writeFileSync(clientFile, CLIENT_SOURCE);

    // 2. Strict type-check; the two @ts-expect-error lines fail it if a wrong code or status compiled.
    const program = ts.createProgram([clientFile], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
      types: [],
      skipLibCheck: true,
    });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);

    // 3. Run it: transpiled to CommonJS beside the types, required like any module.
    const { outputText } = ts.transpileModule(CLIENT_SOURCE, {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    writeFileSync(join(dir, 'client.js'), outputText);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a module this test just wrote
    sdk = require(join(dir, 'client.js')) as SdkModule;
    const client = sdk.seedClient(gateway.url, API_KEY);

    // Step 1: projects.
    const { total, projects } = await client.projects();
    expect(total).toBe(5);
    expect(projects).toContainEqual({ id: ANALYTICS, name: 'Analytics Warehouse' });
    expect(await client.projectCountOnMaiaPaths()).toBe(5);
    // Step 2: environments and their runners.
    expect(await client.environments(ANALYTICS)).toEqual(
      expect.arrayContaining([
        { name: 'Dev', runner: 'Dev Agent' },
        { name: 'Prod', runner: 'Prod Agent' },
      ]),
    );
    // Step 3: published pipelines of Dev.
    expect(await client.publishedPipelines(ANALYTICS, 'Dev')).toContain('FOLDER/load_orders.orch.yaml');
    // Step 4: execute.
    const id = await client.execute(ANALYTICS, 'FOLDER/load_orders.orch.yaml', 'Dev');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // Step 5: poll the light status call until the run is over, then read it and its steps.
    const finished = await eventually(
      async () => {
        const polled = await client.status(ANALYTICS, id);
        expect(polled.finished).toBe(true);
        return polled;
      },
      { timeoutMs: 15_000 },
    );
    expect(finished.status).toBe('SUCCESS');
    expect(await client.read(ANALYTICS, id)).toMatchObject({
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      status: 'SUCCESS',
      finishedAt: expect.any(String),
    });
    expect(await client.steps(ANALYTICS, id)).toEqual([
      { name: 'Start', status: 'SUCCESS' },
      { name: 'Extract Orders', status: 'SUCCESS' },
      { name: 'Rewrite Table', status: 'SUCCESS' },
    ]);
    // Step 6: cancel a long run; cancelling it again is refused with a typed 409.
    const long = await client.execute(ANALYTICS, 'FOLDER/long_backfill.orch.yaml', 'Dev');
    expect(await client.cancel(ANALYTICS, long, true)).toEqual({ cancelled: long });
    await eventually(
      async () =>
        expect(await client.status(ANALYTICS, long)).toEqual({ status: 'CANCELLED', finished: true }),
      { timeoutMs: 15_000 },
    );
    expect(await client.cancel(ANALYTICS, long, false)).toMatchObject({
      refused: expect.stringMatching(/^(ALREADY_FINISHED|CONFLICT)$/),
      status: 409,
      error: expect.any(String), // Maia's own member, beside the code
    });
    // And the history lists both runs.
    const history = await client.executions(ANALYTICS);
    expect(history).toEqual(
      expect.arrayContaining([
        { id, status: 'SUCCESS' },
        { id: long, status: 'CANCELLED' },
      ]),
    );
    // Errors are typed: an unknown project is NOT_FOUND; no credentials is UNAUTHENTICATED.
    expect(await client.environmentsOfUnknownProject()).toBe('NOT_FOUND');
    await expect(sdk.seedClient(gateway.url).projects()).rejects.toMatchObject({
      problem: { status: 401, code: 'UNAUTHENTICATED', error: expect.any(String) },
    });
  });
});
