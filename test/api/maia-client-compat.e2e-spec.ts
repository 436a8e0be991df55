import { isDeepStrictEqual } from 'node:util';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { seed } from './support/api-client';

/**
 * Real Maia clients' call sequences, replayed against the gateway and against the emulator directly, and
 * each answer compared: the same status and, on success, the same body member for member and value for
 * value (timestamps as written, nothing added, nothing left out). On errors the status and Maia's `status`
 * member must match; the gateway adds its problem members (`code`, `type`, `title`, `detail`) and Maia's
 * `error` beside them. Headers may differ.
 *
 * Answers that change while a run progresses are compared with the emulator's answers just before and just
 * after the gateway's: the gateway's must be one of them (no waiting on time).
 */

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests assert the shape themselves
  body: any;
}

type Call = (method: string, path: string, body?: unknown) => Promise<Answer>;

const FINISHED_RUN = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b'; // Analytics Warehouse, SUCCESS, in the seed
const TERMINAL = ['SUCCESS', 'FAILED', 'CANCELLED', 'SKIPPED', 'FORBIDDEN'];

async function send(
  url: string,
  method: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<Answer> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** What a Maia client reads of an answer: the status, and the body on success or Maia's `status` on errors. */
function maiaView(answer: Answer): unknown {
  if (answer.status < 400) return { status: answer.status, body: answer.body };
  return { status: answer.status, bodyStatus: answer.body?.status };
}

describe("Maia clients' call sequences: the gateway answers as Maia does", () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  let token: string;
  /** The emulator itself, as a Maia client calls it: `/dpc/v1/...` with a bearer token. */
  let direct: Call;
  /** The gateway under one of its prefixes, with no Maia credentials at all. */
  const through =
    (prefix: '/api/v1' | '/dpc/v1'): Call =>
    (method, path, body) =>
      send(`${gateway.url}${prefix}${path}`, method, body, {});

  beforeAll(async () => {
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    // The start-grace watch stays on, as in production: the runs this suite launches are observed in the
    // background, so every fault below is aimed at the call under test by its execution id.
    gateway = await startGateway(gatewayEnv(maia));
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: maia.clientId,
      client_secret: maia.clientSecret,
      audience: 'https://api.matillion.com',
    });
    const issued = await fetch(maia.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    token = ((await issued.json()) as { access_token: string }).access_token;
    direct = (method, path, body) =>
      send(`${maia.url}/dpc/v1${path}`, method, body, { authorization: `Bearer ${token}` });
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });

  /** A read through the gateway beside the emulator's own answers just before and just after it. */
  async function readBoth(
    gatewayCall: Call,
    path: string,
  ): Promise<{ answer: Answer; matches: boolean; maiaAnswer: unknown }> {
    const before = await direct('GET', path);
    const answer = await gatewayCall('GET', path);
    const after = await direct('GET', path);
    const view = maiaView(answer);
    const matches = isDeepStrictEqual(view, maiaView(before)) || isDeepStrictEqual(view, maiaView(after));
    return { answer, matches, maiaAnswer: maiaView(after) };
  }

  /** A read through the gateway that must answer what the emulator answers around it. */
  async function expectSameRead(gatewayCall: Call, path: string): Promise<Answer> {
    const { answer, matches, maiaAnswer } = await readBoth(gatewayCall, path);
    // On a mismatch, the diff against Maia's answer (the one just after) says what differs.
    if (!matches) expect({ path, answer: maiaView(answer) }).toEqual({ path, answer: maiaAnswer });
    if (answer.status >= 400) {
      expect(answer.body).toMatchObject({ error: expect.any(String), code: expect.any(String) });
    }
    return answer;
  }

  describe.each([
    ['a client that swaps its base URL', '/api/v1'],
    ['a client that swaps only the host', '/dpc/v1'],
  ] as const)('%s (%s)', (_label, prefix) => {
    it("walks Maia's guide: projects, environments, published pipelines, a finished run, its steps and status", async () => {
      const call = through(prefix);
      const projects = await expectSameRead(call, '/projects');
      expect(projects.body.results.map((p: { id: string }) => p.id)).toContain(seed.testProject);
      await expectSameRead(call, '/projects?page=1&size=2');
      await expectSameRead(call, `/projects/${seed.testProject}/environments`);
      await expectSameRead(
        call,
        `/projects/${seed.testProject}/published-pipelines?environmentName=${encodeURIComponent('Dev Environment')}`,
      );
      const run = `/projects/${seed.analytics}/pipeline-executions/${FINISHED_RUN}`;
      const details = await expectSameRead(call, run);
      expect(details.body).toMatchObject({ pipelineExecutionId: FINISHED_RUN, status: 'SUCCESS' });
      await expectSameRead(call, `${run}/steps`);
      await expectSameRead(call, `${run}/steps?page=0&size=500`);
      await expectSameRead(call, `${run}/status`);
      await expectSameRead(call, `/pipeline-executions?projectId=${seed.analytics}&status=SUCCESS`);
      // Errors: the same statuses, Maia's status member, the gateway's code and Maia's error beside it.
      await expectSameRead(call, `/projects/00000000-0000-4000-8000-000000000000/environments`);
      await expectSameRead(call, `/projects/${seed.analytics}/pipeline-executions/${seed.testProject}`);
      await expectSameRead(call, `/projects/${seed.analytics}/published-pipelines?environmentName=QA`);
    });

    it('executes the way the guide does: 201 with exactly {pipelineExecutionId}, then reads the run back', async () => {
      const call = through(prefix);
      const body = { pipelineName: 'Pipeline 1', environmentName: 'Dev Environment' };
      const viaGateway = await call('POST', `/projects/${seed.testProject}/pipeline-executions`, body);
      const viaMaia = await direct('POST', `/projects/${seed.testProject}/pipeline-executions`, body);
      expect(viaGateway.status).toBe(viaMaia.status);
      expect(Object.keys(viaGateway.body)).toEqual(Object.keys(viaMaia.body));
      await expectSameRead(
        call,
        `/projects/${seed.testProject}/pipeline-executions/${viaGateway.body.pipelineExecutionId}`,
      );
    });
  });

  it('a poller on the light status call sees what Maia says at every poll, until the run ends', async () => {
    const call = through('/dpc/v1');
    const started = await call('POST', `/projects/${seed.analytics}/pipeline-executions`, {
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      environmentName: 'Dev',
    });
    expect(started.status).toBe(201);
    const path = `/projects/${seed.analytics}/pipeline-executions/${started.body.pipelineExecutionId}/status`;
    const seen: string[] = [];
    const mismatches: string[] = [];
    await eventually(
      async () => {
        const { answer, matches } = await readBoth(call, path);
        if (!matches) mismatches.push(JSON.stringify(answer));
        if (seen.at(-1) !== answer.body?.status) seen.push(answer.body?.status);
        expect(TERMINAL).toContain(answer.body?.status);
        expect(Object.keys(answer.body)).toEqual(['status']);
      },
      { timeoutMs: 20_000 },
    );
    expect(mismatches).toEqual([]);
    expect(seen[0]).toBe('RUNNING');
    expect(seen.at(-1)).toBe('SUCCESS');
  });

  it.each([
    ['with no window', '/pipeline-executions'],
    ['with limit=500 (clamped to 100 by both)', '/pipeline-executions?limit=500'],
    ['with limit=2, page after page', '/pipeline-executions?limit=2'],
  ])(
    'a history scan %s walks the same pages, newest first, and sends no window upstream',
    async (_l, first) => {
      await maia.clearRequests();
      const call = through('/api/v1');
      let path = first;
      let pages = 0;
      for (; pages < 50; pages++) {
        const page = await expectSameRead(call, path);
        expect(page.status).toBe(200);
        if (path.includes('limit=500')) expect(page.body.results.length).toBeLessThanOrEqual(100);
        if (page.body.more === undefined) break;
        const separator = first.includes('?') ? '&' : '?';
        path = `${first}${separator}paginationToken=${encodeURIComponent(page.body.more)}`;
      }
      expect(pages).toBeLessThan(50);
      // The same scan through the gateway alone: what it sent Maia, counted from the emulator's records.
      await maia.clearRequests();
      let next: string | undefined = first;
      while (next !== undefined) {
        const page = await call('GET', next);
        const separator = first.includes('?') ? '&' : '?';
        next =
          page.body.more === undefined
            ? undefined
            : `${first}${separator}paginationToken=${encodeURIComponent(page.body.more)}`;
      }
      const upstream = (await maia.requests()).filter((r) => r.route === 'listExecutions');
      expect(upstream).toHaveLength(pages + 1);
      for (const request of upstream) {
        expect(request.query.startedAfter).toBeUndefined();
        expect(request.query.startedBefore).toBeUndefined();
        if (first.includes('limit=500')) expect(request.query.limit).toEqual(['100']);
        // Nothing added on the caller's behalf: no limit when it gave none (Maia's default applies).
        if (!first.includes('limit=')) expect(request.query.limit).toBeUndefined();
      }
    },
  );

  it('a catalog walk of published pipelines without environmentName, page by page, in every project', async () => {
    const call = through('/dpc/v1');
    const projects = await expectSameRead(call, '/projects?size=100');
    for (const { id } of projects.body.results as { id: string }[]) {
      for (let page = 0; page < 20; page++) {
        const answer = await expectSameRead(call, `/projects/${id}/published-pipelines?page=${page}&size=2`);
        expect(answer.status).toBe(200);
        if ((page + 1) * answer.body.size >= answer.body.total) break;
      }
    }
    // Timestamps as Maia wrote them, with and without milliseconds.
    const testProject = await call('GET', `/projects/${seed.testProject}/published-pipelines?size=100`);
    expect(testProject.body.results).toEqual(
      expect.arrayContaining([
        { name: 'My pipeline', publishedTime: '2023-11-24T10:39:02.182Z' },
        { name: 'Pipeline 1', publishedTime: '2023-11-24T10:40:00Z' },
      ]),
    );
  });

  it.each([
    ['with forceUpdate: false (graceful)', { status: 'CANCELLED', forceUpdate: false }, 'CANCELLING'],
    ['with forceUpdate: true (at once)', { status: 'CANCELLED', forceUpdate: true }, 'CANCELLED'],
    ['without forceUpdate', { status: 'CANCELLED' }, 'CANCELLING'],
  ])(
    'a cancel %s answers as Maia does, and so does a second cancel of the finished run',
    async (_l, body, next) => {
      const call = through('/api/v1');
      const run = { pipelineName: 'FOLDER/long_backfill.orch.yaml', environmentName: 'Dev' };
      const executions = `/projects/${seed.analytics}/pipeline-executions`;
      const ours = (await call('POST', executions, run)).body.pipelineExecutionId as string;
      const theirs = (await direct('POST', executions, run)).body.pipelineExecutionId as string;

      const viaGateway = await call('PATCH', `${executions}/${ours}`, body);
      const viaMaia = await direct('PATCH', `${executions}/${theirs}`, body);
      expect(viaGateway).toEqual({ status: viaMaia.status, body: { pipelineExecutionId: ours } });
      expect(viaMaia.body).toEqual({ pipelineExecutionId: theirs });

      const status = await expectSameRead(call, `${executions}/${ours}/status`);
      expect([next, 'CANCELLED']).toContain(status.body.status);
      await eventually(async () => {
        expect((await call('GET', `${executions}/${ours}/status`)).body.status).toBe('CANCELLED');
        expect((await direct('GET', `${executions}/${theirs}/status`)).body.status).toBe('CANCELLED');
      });
      await expectSameRead(call, `${executions}/${ours}`);

      const again = await call('PATCH', `${executions}/${ours}`, body);
      const againMaia = await direct('PATCH', `${executions}/${theirs}`, body);
      expect(maiaView(again)).toEqual(maiaView(againMaia));
      expect(again.body).toMatchObject({ status: 409, error: expect.any(String), code: 'ALREADY_FINISHED' });
    },
  );

  it("an execute with a busy executionTag: 409 with Maia's own error and status, and the gateway's code", async () => {
    const call = through('/dpc/v1');
    const executions = `/projects/${seed.analytics}/pipeline-executions`;
    const tagged = {
      pipelineName: 'FOLDER/long_backfill.orch.yaml',
      environmentName: 'Dev',
      executionTag: 'compat-nightly',
    };
    expect((await call('POST', executions, tagged)).status).toBe(201);
    const viaGateway = await call('POST', executions, tagged);
    const viaMaia = await direct('POST', executions, tagged);
    expect(viaMaia).toEqual({
      status: 409,
      body: { error: 'A pipeline execution with this tag is already running.', status: 409 },
    });
    expect(viaGateway.status).toBe(409);
    expect(viaGateway.body).toMatchObject({ ...viaMaia.body, code: 'CONFLICT' });
  });

  it('answers an object exactly as Maia wrote it: whole-second timestamps, members the gateway does not know', async () => {
    const sent = {
      pipelineExecutionId: FINISHED_RUN,
      pipelineName: 'FOLDER/load_orders.orch.yaml',
      projectId: seed.analytics,
      environmentName: 'Prod',
      status: 'SUCCESS',
      startedAt: '2023-11-07T05:31:56Z',
      finishedAt: '2023-11-07T05:32:01.5Z',
      trigger: 'WEBHOOK',
      costCredits: 3,
      labels: { team: 'data' },
    };
    await maia.addFault({
      route: 'getExecution',
      status: 200,
      body: sent,
      count: 2,
      match: { executionId: FINISHED_RUN },
    });
    for (const prefix of ['/api/v1', '/dpc/v1'] as const) {
      const answer = await through(prefix)(
        'GET',
        `/projects/${seed.analytics}/pipeline-executions/${FINISHED_RUN}`,
      );
      expect(answer).toEqual({ status: 200, body: sent });
    }
  });

  it('unknown query parameters are ignored and never sent to Maia; documented ones are', async () => {
    await maia.clearRequests();
    const call = through('/dpc/v1');
    const unknown = 'color=red&debug=true&sort=asc';
    expect((await call('GET', `/projects?size=500&${unknown}`)).status).toBe(200);
    expect((await call('GET', `/projects/${seed.analytics}/environments?${unknown}`)).status).toBe(200);
    expect(
      (await call('GET', `/projects/${seed.analytics}/published-pipelines?environmentName=Dev&${unknown}`))
        .status,
    ).toBe(200);
    const run = `/projects/${seed.analytics}/pipeline-executions/${FINISHED_RUN}`;
    expect((await call('GET', `${run}?${unknown}`)).status).toBe(200);
    expect((await call('GET', `${run}/steps?${unknown}`)).status).toBe(200);
    expect((await call('GET', `${run}/status?${unknown}`)).status).toBe(200);
    const list = await call('GET', `/pipeline-executions?limit=500&timeFrame=LAST_WEEK&${unknown}`);
    expect(list.status).toBe(200);

    const requests = await maia.requests();
    const sentNames = new Set(requests.flatMap((r) => Object.keys(r.query)));
    expect(requests.filter((r) => r.route !== 'token').length).toBeGreaterThanOrEqual(4);
    expect([...sentNames].filter((name) => ['color', 'debug', 'sort'].includes(name))).toEqual([]);
    const listed = requests.filter((r) => r.route === 'listExecutions').at(-1);
    expect(listed?.query).toMatchObject({ limit: ['100'], timeFrame: ['LAST_WEEK'] });
  });
});
