import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { gql, uuid } from './support/api-client';

const run = promisify(execFile);
const README = resolve(__dirname, '..', '..', 'README.md');
const PRINTED_BASE = 'http://localhost:3000';

/** The bash blocks of the README's "GraphQL and REST examples" section, in order. */
function readmeExamples(): string[] {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf('## GraphQL and REST examples');
  if (start < 0) throw new Error('README.md has no "## GraphQL and REST examples" section');
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** curl -s prints documents back to back: split them by brace depth (strings respected). */
function jsonDocuments(output: string): unknown[] {
  const docs: unknown[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < output.length; i++) {
    const c = output[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) docs.push(JSON.parse(output.slice(start, i + 1)));
    }
  }
  return docs;
}

/**
 * `npm start` on a fresh clone: `node dist/main.js` with no Maia settings runs in sandbox mode against its
 * own emulator, prints where everything is, and the README's examples work against it as printed.
 */
describe('sandbox mode and the README examples', () => {
  let gateway: GatewayProcess;

  beforeAll(async () => {
    // Only what a newcomer has: no Maia credentials, no Redis. Random ports instead of 3000/4010.
    gateway = await startGatewayProcess({
      HOST: '127.0.0.1',
      PORT: '0',
      SANDBOX_EMULATOR_PORT: '0',
      SANDBOX_TIME_SCALE: '0.05',
      LOG_LEVEL: 'silent',
    });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  const sh = async (script: string) => {
    const { stdout } = await run(
      'bash',
      ['-euo', 'pipefail', '-c', script.split(PRINTED_BASE).join(gateway.url)],
      {
        timeout: 20_000,
      },
    );
    return jsonDocuments(stdout);
  };

  it('starts in sandbox mode and prints the GraphQL, explorer, OpenAPI and REST URLs with an example', () => {
    const banner = gateway.output();
    expect(banner).toContain('(sandbox mode) listening on');
    expect(banner).toContain(`${gateway.url}/graphql`);
    expect(banner).toMatch(/open it in a browser: GraphiQL/);
    expect(banner).toContain('/api/docs');
    expect(banner).toContain('/api/v1/projects');
    expect(banner).toMatch(/curl -s http:\/\/[^ ]+\/graphql/);
  });

  it('the explorer and Swagger UI are served', async () => {
    const explorer = await fetch(`${gateway.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(explorer.status).toBe(200);
    expect(await explorer.text()).toContain('<title>maia-gateway GraphQL explorer</title>');
    const swagger = await fetch(`${gateway.url}/api/docs`);
    expect(swagger.status).toBe(200);
  });

  it('the README has five shell examples, and each works as printed', async () => {
    const examples = readmeExamples();
    expect(examples).toHaveLength(5);

    const [lookup] = (await sh(examples[0])) as { data: any; errors?: unknown }[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(lookup.errors).toBeUndefined();
    expect(lookup.data.project).toMatchObject({
      id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
      name: 'Test-project',
    });
    expect(lookup.data.project.environments.results).toContainEqual(
      expect.objectContaining({ name: 'Dev Environment', defaultAgent: { name: 'Dev Agent' } }),
    );

    const [executed] = (await sh(examples[1])) as { data: any; errors?: unknown }[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(executed.errors).toBeUndefined();
    expect(executed.data.executePipeline.pipelineExecutionId).toMatch(uuid);
    expect(executed.data.executePipeline.execution).toMatchObject({
      pipelineName: 'Pipeline 1',
      environmentName: 'Dev Environment',
    });

    // The live-status example reuses the $ID of the REST example, as a reader following along would.
    const documents = (await sh(`${examples[2]}\n${examples[3]}`)) as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const [projects, execution] = documents;
    expect(projects).toMatchObject({ page: 0, size: 10, total: 5 });
    expect(execution).toMatchObject({ pipelineName: 'Pipeline 1', environmentName: 'Dev Environment' });
    expect(execution.pipelineExecutionId).toMatch(uuid);
    const streamed = documents.slice(2, -1);
    const waited = documents[documents.length - 1];
    expect(streamed.length).toBeGreaterThan(0);
    expect(streamed[streamed.length - 1].execution).toMatchObject({
      pipelineExecutionId: execution.pipelineExecutionId,
      status: 'SUCCESS',
    });
    expect(waited).toMatchObject({ pipelineExecutionId: execution.pipelineExecutionId, status: 'SUCCESS' });

    // Running it again reuses the same $ID (the REST run, finished by now), as a reader following along would.
    const again = (await sh(`${examples[2]}\n${examples[4]}`)) as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const [, first, rerun, launch, rerunRest] = again;
    expect(rerun.errors).toBeUndefined();
    expect(rerun.data.rerunPipelineExecution).toMatchObject({
      replayed: false,
      execution: {
        launch: {
          pipelineName: 'Pipeline 1',
          environmentName: 'Dev Environment',
          versionName: null,
          rerunOf: first.pipelineExecutionId,
        },
      },
    });
    expect(rerun.data.rerunPipelineExecution.pipelineExecutionId).toMatch(uuid);
    expect(launch).toMatchObject({
      pipelineExecutionId: first.pipelineExecutionId,
      pipelineName: 'Pipeline 1',
      environmentName: 'Dev Environment',
    });
    expect(rerunRest.pipelineExecutionId).toMatch(uuid);
    expect(
      new Set([
        first.pipelineExecutionId,
        rerun.data.rerunPipelineExecution.pipelineExecutionId,
        rerunRest.pipelineExecutionId,
      ]).size,
    ).toBe(3);
  });

  it("the README's subscription script prints the run's events until it finishes", async () => {
    const text = readFileSync(README, 'utf8');
    const script = /### Live status[\s\S]*?```js\n([\s\S]*?)```/.exec(text)?.[1];
    expect(script).toBeDefined();
    const [started] = (await sh(
      `curl -s -X POST ${PRINTED_BASE}/api/v1/projects/3fa85f64-5717-4562-b3fc-2c963f66afa6/pipeline-executions -H 'content-type: application/json' -d '{"pipelineName": "Pipeline 1", "environmentName": "Dev Environment"}'`,
    )) as { pipelineExecutionId: string }[];
    // Saved in the repository folder, as the README says, so graphql-ws and ws resolve.
    const file = resolve(__dirname, '..', '..', `.readme-watch-${process.pid}.mjs`);
    writeFileSync(
      file,
      (script ?? '').replace('ws://localhost:3000', gateway.url.replace('http://', 'ws://')),
    );
    try {
      const { stdout } = await run('node', [file, started.pipelineExecutionId], { timeout: 20_000 });
      const events = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).pipelineExecutionUpdated);
      // The current state comes first; the stream ends (the script exits) after the terminal state.
      expect(events[0].kind).toBe('SNAPSHOT');
      expect(events[events.length - 1].execution.status).toBe('SUCCESS');
    } finally {
      rmSync(file, { force: true });
    }
  });

  it("the banner's own curl example works, and the README's AMBIGUOUS_NAME claim holds", async () => {
    const line = gateway
      .output()
      .split('\n')
      .find((l) => l.includes('curl -s') && l.includes('/graphql'));
    const [answer] = (await sh((line ?? '').trim())) as { data: { projects: { total: number } } }[];
    expect(answer.data.projects.total).toBe(5);

    const ambiguous = await gql(gateway.url, '{ project(name: "Shared Sandbox") { id } }');
    expect(ambiguous.errors?.[0].extensions.code).toBe('AMBIGUOUS_NAME');
  });
});
