import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { gql, rest, seed } from './support/api-client';

/**
 * Bad input answers with a stable code and a 4xx, never reaches Maia, and nothing of Maia's (URLs,
 * bodies, secrets) reaches the client when Maia itself misbehaves.
 */
describe('bad input and upstream failures have stable codes', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  let url: string;

  beforeAll(async () => {
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    gateway = await startGateway(
      gatewayEnv(maia, { MAIA_BREAKER_FAILURE_THRESHOLD: '1000', MAIA_MAX_ATTEMPTS: '1' }),
    );
    url = gateway.url;
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });
  beforeEach(() => maia.resetCounters());
  afterEach(() => maia.clearFaults());

  const longName = 'x'.repeat(256);
  type GraphqlErrors = { errors: { extensions: { code: string } }[] };

  it.each([
    ['a malformed id', `{ project(id: "not-a-uuid") { id } }`],
    ['a page size over 100', '{ projects(size: 1000) { total } }'],
    ['a negative page', '{ projects(page: -1) { total } }'],
    ['first: 0', '{ pipelineExecutions(first: 0) { nodes { id } } }'],
    ['first: 101', '{ pipelineExecutions(first: 101) { nodes { id } } }'],
    ['a name with a control character', `{ project(name: "Test\\u0000project") { id } }`],
    ['a name over 255 characters', `{ project(name: "${longName}") { id } }`],
    [
      'a window that ends before it starts',
      '{ pipelineExecutions(filter: { startedAfter: "2026-02-01T00:00:00Z", startedBefore: "2026-01-01T00:00:00Z" }) { nodes { id } } }',
    ],
  ])('GraphQL: %s → BAD_USER_INPUT, no upstream call', async (_label, query) => {
    const result = await gql(url, query);
    expect(result.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(result.status).toBeLessThan(500);
    expect(await maia.apiCount()).toBe(0);
  });

  it.each([
    ['a syntax error', '{ projects { total }', 'GRAPHQL_PARSE_FAILED'],
    ['an unknown field', '{ projects { nope } }', 'GRAPHQL_VALIDATION_FAILED'],
    [
      'a date literal that is not ISO-8601',
      '{ pipelineExecutions(filter: { startedAfter: "yesterday" }) { nodes { id } } }',
      'GRAPHQL_VALIDATION_FAILED',
    ],
  ])('GraphQL: %s → %s (the document itself), no upstream call', async (_label, query, code) => {
    const result = await gql(url, query);
    expect(result.errors?.[0].extensions.code).toBe(code);
    expect(result.status).toBe(400);
    expect(await maia.apiCount()).toBe(0);
  });

  it('GraphQL: a bad argument of a nested field fails that field before it calls Maia', async () => {
    const result = await gql(
      url,
      `{ project(id: "${seed.testProject}") { name publishedPipelines(environmentName: "${longName}") { total } } }`,
    );
    expect(result.errors?.[0]).toMatchObject({
      path: ['project', 'publishedPipelines'],
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(await maia.count('listPublishedPipelines')).toBe(0);
  });

  it('GraphQL: variables of the wrong type and a variable named twice → BAD_USER_INPUT, nothing executed', async () => {
    const wrongType = await gql(url, 'query ($s: Int!) { projects(size: $s) { total } }', { s: 'ten' });
    expect(wrongType.status).toBe(400);
    expect(wrongType.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');

    const twice = await gql(
      url,
      'mutation ($i: ExecutePipelineInput!) { executePipeline(input: $i) { pipelineExecutionId } }',
      {
        i: {
          projectId: seed.testProject,
          pipelineName: 'Pipeline 1',
          environmentName: 'Dev Environment',
          scalarVariables: [
            { name: 'a', value: '1' },
            { name: 'a', value: '2' },
          ],
        },
      },
    );
    expect(twice.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(twice.errors?.[0].message).toContain('"a" is given twice');
    expect(await maia.count('executePipeline')).toBe(0);
  });

  it('GraphQL over HTTP: malformed JSON and an oversized body answer in GraphQL shape with stable codes', async () => {
    const malformed = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": "{ projects { total } }"',
    });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as GraphqlErrors).errors[0].extensions.code).toBe('BAD_USER_INPUT');

    const huge = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ projects { total } } # ${'x'.repeat(200 * 1024)}` }),
    });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as GraphqlErrors).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await maia.apiCount()).toBe(0);
  });

  it.each([
    ['a malformed project id', 'GET', '/api/v1/projects/nope/environments', undefined, 400, 'BAD_USER_INPUT'],
    ['the same under /dpc/v1', 'GET', '/dpc/v1/projects/nope/environments', undefined, 400, 'BAD_USER_INPUT'],
    // Sizes and limits out of range are clamped as Maia clamps them; only non-numbers are refused.
    [
      'a page size that is not a number',
      'GET',
      '/api/v1/projects?size=ten',
      undefined,
      400,
      'BAD_USER_INPUT',
    ],
    ['a page that is not a number', 'GET', '/api/v1/projects?page=abc', undefined, 400, 'BAD_USER_INPUT'],
    [
      'a limit that is not an integer',
      'GET',
      '/api/v1/pipeline-executions?limit=1.5',
      undefined,
      400,
      'BAD_USER_INPUT',
    ],
    [
      'a malformed execution id on the light status call',
      'GET',
      `/dpc/v1/projects/${seed.testProject}/pipeline-executions/nope/status`,
      undefined,
      400,
      'BAD_USER_INPUT',
    ],
    [
      'a step page size that is not a number',
      'GET',
      `/api/v1/projects/${seed.testProject}/pipeline-executions/${seed.testProject}/steps?size=x`,
      undefined,
      400,
      'BAD_USER_INPUT',
    ],
    [
      'an environment name over 255 characters on published pipelines',
      'GET',
      `/api/v1/projects/${seed.testProject}/published-pipelines?environmentName=${'x'.repeat(256)}`,
      undefined,
      400,
      'BAD_USER_INPUT',
    ],
    [
      'a timeFrame with a control character',
      'GET',
      '/api/v1/pipeline-executions?timeFrame=%00',
      undefined,
      400,
      'BAD_USER_INPUT',
    ],
    ['an unknown status', 'GET', '/api/v1/pipeline-executions?status=DONE', undefined, 400, 'BAD_USER_INPUT'],
    [
      'a date that is not ISO-8601',
      'GET',
      '/api/v1/pipeline-executions?startedAfter=monday',
      undefined,
      400,
      'BAD_USER_INPUT',
    ],
    ['an unknown route', 'GET', '/api/v1/nowhere', undefined, 404, 'NOT_FOUND'],
    [
      'an unknown body member',
      'POST',
      `/api/v1/projects/${seed.testProject}/pipeline-executions`,
      { pipelineName: 'Pipeline 1', environmentName: 'Dev Environment', color: 'red' },
      400,
      'BAD_USER_INPUT',
    ],
    [
      'a missing pipelineName',
      'POST',
      `/api/v1/projects/${seed.testProject}/pipeline-executions`,
      { environmentName: 'Dev Environment' },
      400,
      'BAD_USER_INPUT',
    ],
    [
      'variables that are not strings',
      'POST',
      `/api/v1/projects/${seed.testProject}/pipeline-executions`,
      { pipelineName: 'Pipeline 1', environmentName: 'Dev Environment', scalarVariables: { a: 1 } },
      400,
      'BAD_USER_INPUT',
    ],
    [
      'a control character in a name',
      'POST',
      `/api/v1/projects/${seed.testProject}/pipeline-executions`,
      { pipelineName: 'Pipeline\n1', environmentName: 'Dev Environment' },
      400,
      'BAD_USER_INPUT',
    ],
    [
      'a cancel status other than CANCELLED',
      'PATCH',
      `/api/v1/projects/${seed.testProject}/pipeline-executions/${seed.testProject}`,
      { status: 'RUNNING' },
      400,
      'BAD_USER_INPUT',
    ],
  ])(
    'REST: %s → a problem with a stable code, no upstream call',
    async (_label, method, path, body, status, code) => {
      const result = await rest(url, method, path, { body });
      expect(result.status).toBe(status);
      expect(result.contentType).toMatch(/^application\/problem\+json/);
      expect(result.body).toMatchObject({ status, code });
      expect(await maia.apiCount()).toBe(0);
    },
  );

  it.each([
    ['no content-type', undefined],
    ['text/plain (what fetch sends for a string)', 'text/plain;charset=UTF-8'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['XML', 'application/xml'],
  ])(
    'REST: a body sent as %s → 415 saying the body must be JSON, at both prefixes, no upstream call',
    async (_label, contentType) => {
      const body = JSON.stringify({ pipelineName: 'Pipeline 1', environmentName: 'Dev Environment' });
      for (const prefix of ['/api/v1', '/dpc/v1']) {
        for (const [method, path] of [
          ['POST', `${prefix}/projects/${seed.testProject}/pipeline-executions`],
          ['PATCH', `${prefix}/projects/${seed.testProject}/pipeline-executions/${seed.testProject}`],
        ]) {
          // A Buffer body: fetch adds no content-type of its own.
          const response = await fetch(`${url}${path}`, {
            method,
            headers: contentType === undefined ? {} : { 'content-type': contentType },
            body: Buffer.from(body),
          });
          expect(response.status).toBe(415);
          expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
          const problem = (await response.json()) as Record<string, unknown>;
          expect(problem).toMatchObject({
            status: 415,
            code: 'UNSUPPORTED_MEDIA_TYPE',
            error: 'The request body must be JSON, sent with content-type: application/json',
            detail: 'The request body must be JSON, sent with content-type: application/json',
          });
        }
      }
      expect(await maia.apiCount()).toBe(0);
    },
  );

  it("REST: every problem carries Maia's own error and status members beside the problem's", async () => {
    const result = await rest(
      url,
      'GET',
      '/dpc/v1/projects/00000000-0000-4000-8000-000000000000/environments',
    );
    expect(result.status).toBe(404);
    expect(result.body).toMatchObject({ status: 404, code: 'NOT_FOUND', error: result.body.detail });
    expect(typeof result.body.error).toBe('string');
  });

  it('REST: malformed JSON, an oversized body and a bad Idempotency-Key are stable problems', async () => {
    const path = `/api/v1/projects/${seed.testProject}/pipeline-executions`;
    const malformed = await rest(url, 'POST', path, {
      rawBody: '{"pipelineName": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ code: 'BAD_USER_INPUT' });

    const huge = await rest(url, 'POST', path, {
      body: {
        pipelineName: 'Pipeline 1',
        environmentName: 'Dev Environment',
        scalarVariables: { a: 'x'.repeat(200_000) },
      },
    });
    expect(huge.status).toBe(413);
    expect(huge.contentType).toMatch(/^application\/problem\+json/);
    expect(huge.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });

    const badKey = await rest(url, 'POST', path, {
      body: { pipelineName: 'Pipeline 1', environmentName: 'Dev Environment' },
      headers: { 'idempotency-key': 'has space' },
    });
    expect(badKey.status).toBe(400);
    expect(badKey.body).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await maia.apiCount()).toBe(0);
  });

  it('a disabled pipeline is PIPELINE_DISABLED on both surfaces', async () => {
    const body = { pipelineName: 'legacy/old_export.orch.yaml', environmentName: 'Dev' };
    const viaRest = await rest(url, 'POST', `/api/v1/projects/${seed.analytics}/pipeline-executions`, {
      body,
    });
    expect(viaRest.status).toBe(410);
    expect(viaRest.body).toMatchObject({ code: 'PIPELINE_DISABLED' });
    const viaGraphql = await gql(
      url,
      'mutation ($i: ExecutePipelineInput!) { executePipeline(input: $i) { pipelineExecutionId } }',
      { i: { projectId: seed.analytics, ...body } },
    );
    expect(viaGraphql.errors?.[0].extensions.code).toBe('PIPELINE_DISABLED');
  });

  it('Maia failing with a chatty body: a stable upstream code, and no upstream URL, body or secret in the answer', async () => {
    const leak = `see ${maia.apiBaseUrl}/v1/internal?client_secret=${maia.clientSecret} stack at db.internal:5432`;
    await maia.addFault({
      route: 'getExecution',
      status: 500,
      body: { detail: leak, secret: maia.clientSecret },
    });
    const id = '11111111-2222-4333-8444-555555555555';
    const viaRest = await rest(url, 'GET', `/api/v1/projects/${seed.testProject}/pipeline-executions/${id}`);
    expect(viaRest.status).toBe(502);
    expect(viaRest.body).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    const viaGraphql = await gql(
      url,
      `{ pipelineExecution(projectId: "${seed.testProject}", executionId: "${id}") { id } }`,
    );
    expect(viaGraphql.errors?.[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    for (const text of [JSON.stringify(viaRest.body), JSON.stringify(viaGraphql)]) {
      expect(text).not.toContain(maia.url);
      expect(text).not.toContain(maia.clientSecret);
      expect(text).not.toContain('/v1/internal');
    }
  });

  it('an execution that does not exist is NOT_FOUND on both surfaces', async () => {
    const id = '11111111-2222-4333-8444-555555555555';
    const viaRest = await rest(url, 'GET', `/api/v1/projects/${seed.testProject}/pipeline-executions/${id}`);
    expect(viaRest.status).toBe(404);
    expect(viaRest.body).toMatchObject({ code: 'NOT_FOUND' });
    const viaGraphql = await gql(
      url,
      `{ pipelineExecution(projectId: "${seed.testProject}", executionId: "${id}") { id } }`,
    );
    expect(viaGraphql.errors?.[0].extensions.code).toBe('NOT_FOUND');
  });
});
