import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, errorCodeMeanings } from '../../src/common/errors';
import { executionStatuses } from '../../src/maia/maia.types';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { describeDriftCheck, REPO_ROOT } from '../support/drift-check';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';

const OPENAPI_FILE = join(REPO_ROOT, 'openapi.json');

type Schema = Record<string, unknown>;
interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; schema?: Schema; example?: unknown }[];
  requestBody?: { content: Record<string, BodyContent> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  'x-gateway-extension'?: boolean;
  'x-same-operation-as'?: string;
}
interface BodyContent {
  schema: { $ref?: string };
  examples?: Record<string, { value: unknown }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, Schema> };
}

const committed = (): Document => JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Document;
const operations = (document: Document) =>
  Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
  );
const PUBLIC_PATHS = ['/health/live', '/health/ready', '/metrics'];

/** `openapi.json` is the served document, checked for drift like `schema.gql`, and says what clients need. */
describe('openapi.json', () => {
  describeDriftCheck({
    file: 'openapi.json',
    printer: 'print-openapi.js',
    script: 'openapi',
    drift: (text) => text.replace('"listProjects"', '"ProjectsController_list"'),
  });

  it('is OpenAPI 3.1 with Maia operation ids, unique, on /api/v1 and again on /dpc/v1', () => {
    const document = committed();
    expect(document.openapi).toBe('3.1.0');
    const ids = operations(document).map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const byPath = (path: string, method: string) => document.paths[path]?.[method]?.operationId;
    const maia = {
      '/v1/projects get': 'listProjects',
      '/v1/projects/{projectId}/environments get': 'listEnvironments',
      '/v1/projects/{projectId}/published-pipelines get': 'listPublishedPipelines',
      '/v1/projects/{projectId}/pipeline-executions post': 'executePipeline',
      '/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId} get': 'getPipelineExecution',
      '/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}/status get':
        'getExecutionStatusOnly',
      '/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}/steps get':
        'getPipelineExecutionSteps',
      '/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId} patch': 'cancelPipelineExecution',
      '/v1/pipeline-executions get': 'listPipelineExecutions',
    };
    for (const [route, id] of Object.entries(maia)) {
      const [path, method] = route.split(' ');
      expect(byPath(`/api${path}`, method)).toBe(id);
      expect(byPath(`/dpc${path}`, method)).toBe(`${id}ViaDpcPath`);
      expect(document.paths[`/dpc${path}`][method]['x-same-operation-as']).toBe(id);
    }
    expect(ids.filter((id) => id?.includes('_'))).toEqual([]); // no framework defaults
  });

  it('every operation but the probes needs an API key or a bearer JWT; the probes need nothing', () => {
    const document = committed();
    expect(document.components.securitySchemes).toMatchObject({
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    });
    for (const { path, operation } of operations(document)) {
      expect([path, operation.security]).toEqual([
        path,
        PUBLIC_PATHS.includes(path) ? [] : [{ apiKey: [] }, { bearer: [] }],
      ]);
    }
  });

  it('every error response is the one problem schema, whose code is the enum of the gateway codes', () => {
    const document = committed();
    expect(document.components.schemas.ErrorCode).toMatchObject({
      type: 'string',
      enum: Object.values(ErrorCode),
      'x-enum-descriptions': Object.values(ErrorCode).map((code) => errorCodeMeanings[code]),
    });
    expect(document.components.schemas.ProblemDto).toMatchObject({
      required: expect.arrayContaining(['code', 'status', 'error', 'type', 'title', 'detail']),
      properties: { status: { type: 'integer' }, error: { type: 'string' } },
    });
    for (const { path, operation } of operations(document)) {
      if (PUBLIC_PATHS.includes(path)) continue;
      const errors = Object.keys(operation.responses).filter((status) => Number(status) >= 400);
      expect(errors).toEqual(expect.arrayContaining(['401', '403', '429', '500', '503']));
      for (const status of errors) {
        expect([path, status, operation.responses[status].content]).toEqual([
          path,
          status,
          { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDto' } } },
        ]);
      }
    }
    const execute = document.paths['/api/v1/projects/{projectId}/pipeline-executions'].post;
    expect(Object.keys(execute.responses)).toEqual(
      expect.arrayContaining(['201', '400', '404', '409', '410', '415']),
    );
  });

  it('numbers are integers, statuses are enums, nullable members are 3.1 type unions', () => {
    const text = readFileSync(OPENAPI_FILE, 'utf8');
    expect(text).not.toMatch(/"type": "number"/);
    expect(text).not.toMatch(/"nullable"/);
    const document = committed();
    expect(document.components.schemas.ExecutionStatus).toEqual({
      type: 'string',
      enum: [...executionStatuses],
    });
    const execution = document.components.schemas.ExecutionDto as { properties: Record<string, Schema> };
    const status = { allOf: [{ $ref: '#/components/schemas/ExecutionStatus' }] };
    expect(execution.properties.status).toMatchObject(status);
    const step = document.components.schemas.StepResultDto as { properties: Record<string, Schema> };
    expect(step.properties.status).toMatchObject(status);
    expect(execution.properties.trigger).toEqual({
      anyOf: [{ $ref: '#/components/schemas/ExecutionTrigger' }, { type: 'null' }],
    });
    expect(execution.properties.finishedAt).toMatchObject({ type: ['string', 'null'] });
  });

  it('gateway extensions are marked: their operations, and the parameters Maia does not take', () => {
    const document = committed();
    const extensions = operations(document)
      .filter(({ operation }) => operation['x-gateway-extension'])
      .map(({ operation }) => operation.operationId);
    expect(extensions).toEqual(
      expect.arrayContaining(['invalidateCache', 'watchPipelineExecution', 'getLiveness', 'getMetrics']),
    );
    expect(extensions).not.toContain('executePipeline');
    const read = document.paths['/api/v1/projects/{projectId}/pipeline-executions/{pipelineExecutionId}'].get;
    expect(read.parameters?.find((p) => p.name === 'waitSeconds')).toMatchObject({
      'x-gateway-extension': true,
    });
  });
});

/** The served document is the committed one: what Swagger UI shows is what the SDK was generated from. */
describe('/api/docs-json', () => {
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

  it('serves exactly openapi.json', async () => {
    const served = (await (await fetch(`${gateway.url}/api/docs-json`)).json()) as Document;
    expect(served).toEqual(committed());
  });

  /**
   * Swagger UI's "Try it out" as printed: every operation called with the document's own examples (path and
   * query parameters that have one, the body's example or its members' examples) against a sandbox gateway.
   */
  it('runs every operation with its examples as printed', async () => {
    const document = committed();
    const outcomes: string[] = [];
    for (const { path, method, operation } of operations(document)) {
      const example = (p: NonNullable<Operation['parameters']>[number]) => p.example ?? p.schema?.example;
      let url = path;
      const query = new URLSearchParams();
      const headers: Record<string, string> = {};
      for (const parameter of operation.parameters ?? []) {
        const value = example(parameter) as string | number | boolean | undefined;
        if (value === undefined) {
          expect([operation.operationId, parameter.name, parameter.required ?? false]).toEqual([
            operation.operationId,
            parameter.name,
            false,
          ]);
          continue;
        }
        if (parameter.in === 'path')
          url = url.replace(`{${parameter.name}}`, encodeURIComponent(String(value)));
        if (parameter.in === 'query') query.append(parameter.name, String(value));
        if (parameter.in === 'header') headers[parameter.name] = String(value);
      }
      let body: string | undefined;
      const content = operation.requestBody?.content['application/json'];
      if (content) {
        const explicit = content.examples ? Object.values(content.examples)[0]?.value : undefined;
        const ref = (content.schema.$ref ?? '').replace('#/components/schemas/', '');
        const properties = (document.components.schemas[ref]?.properties ?? {}) as Record<string, Schema>;
        const fromMembers = Object.fromEntries(
          Object.entries(properties)
            .filter(([, schema]) => schema.example !== undefined)
            .map(([name, schema]) => [name, schema.example]),
        );
        body = JSON.stringify(explicit ?? fromMembers);
        headers['content-type'] = 'application/json';
      }
      const search = query.size ? `?${query.toString()}` : '';
      const response = await fetch(`${gateway.url}${url}${search}`, {
        method: method.toUpperCase(),
        headers,
        body,
      });
      const type = response.headers.get('content-type') ?? '';
      // The live stream stays open while the run goes on: its headers are the answer.
      const answer = type.startsWith('text/event-stream') ? undefined : await response.text();
      if (answer === undefined) await response.body?.cancel();
      const code =
        answer && type.includes('json') ? (JSON.parse(answer) as { code?: string }).code : undefined;
      outcomes.push(`${operation.operationId} ${response.status}${code ? ` ${code}` : ''}`);
    }
    const cancels = outcomes.filter((o) => o.startsWith('cancelPipelineExecution'));
    // The example run has finished: cancelling it is refused as the document says, nothing else fails.
    expect(cancels).toEqual([
      'cancelPipelineExecution 409 ALREADY_FINISHED',
      'cancelPipelineExecutionViaDpcPath 409 ALREADY_FINISHED',
    ]);
    // The example run is from the seeded history, not launched through the gateway: the launch extensions
    // answer LAUNCH_UNKNOWN, as their descriptions say (a run started with executePipeline works).
    const launches = outcomes.filter((o) => /^(getPipelineExecutionLaunch|rerunPipelineExecution) /.test(o));
    expect(launches).toEqual([
      'getPipelineExecutionLaunch 404 LAUNCH_UNKNOWN',
      'rerunPipelineExecution 404 LAUNCH_UNKNOWN',
    ]);
    expect(
      outcomes.filter((o) => !cancels.includes(o) && !launches.includes(o) && !/ 20[01]$/.test(o)),
    ).toEqual([]);
    expect(outcomes.length).toBe(operations(document).length);
  });
});
