import { gql, gqlData, rest, seed } from '../api/support/api-client';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';

/**
 * The run console's pickers: the versions a run may name (`versionName`) and the runners it may use
 * (`agentId`). Each answer of the gateway is compared with the emulator's own answer to the same Maia call.
 */
describe('version and runner pickers', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  let token: string;

  beforeAll(async () => {
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    gateway = await startGateway(gatewayEnv(maia));
    const response = await fetch(maia.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: maia.clientId,
        client_secret: maia.clientSecret,
        audience: 'https://api.matillion.com',
      }),
    });
    token = ((await response.json()) as { access_token: string }).access_token;
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });

  /** The emulator's answer to a Maia call, made directly with the gateway's own credentials. */
  const fromMaia = async (path: string) => {
    const response = await fetch(`${maia.apiBaseUrl}${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown> & { results: Record<string, unknown>[] };
  };

  const environmentQuery = `query ($p: ID!, $e: String!) { project(id: $p) { environment(name: $e) {
      defaultAgent { id name restricted }
      versions(size: 100) { total results { versionName environmentName createdAt enabled } }
      runners(size: 100) { total results { id name restricted status } }
      publishedPipelines(size: 100) { results { name versions(size: 100) { total results { versionName } } } }
    } } }`;

  it.each([
    [seed.analytics, 'Dev'],
    [seed.analytics, 'Prod'],
    [seed.marketing, 'Staging'],
  ])('answers the versions and runners of %s / %s as Maia lists them', async (projectId, environmentName) => {
    const data = await gqlData(gateway.url, environmentQuery, { p: projectId, e: environmentName });
    const environment = data.project.environment;

    const artifacts = await fromMaia(
      `/v1/projects/${projectId}/artifacts?environmentName=${encodeURIComponent(environmentName)}&size=100`,
    );
    expect(artifacts.results.length).toBeGreaterThan(0);
    expect(environment.versions).toEqual({
      total: artifacts.total,
      results: artifacts.results.map((a) => ({
        versionName: a.versionName,
        environmentName: a.environmentName,
        createdAt: null,
        enabled: a.enabled,
      })),
    });

    for (const pipeline of environment.publishedPipelines.results as {
      name: string;
      versions: { total: number; results: { versionName: string }[] };
    }[]) {
      const holding: string[] = [];
      for (const artifact of artifacts.results) {
        const details = await fromMaia(
          `/v1/projects/${projectId}/artifacts/details?environmentName=${encodeURIComponent(environmentName)}&versionName=${encodeURIComponent(String(artifact.versionName))}`,
        );
        const names = (details.pipelines as { name: string }[]).map((p) => p.name);
        if (names.includes(pipeline.name)) holding.push(String(artifact.versionName));
      }
      expect(holding.length).toBeGreaterThan(0);
      expect({ name: pipeline.name, versions: pipeline.versions.results.map((v) => v.versionName) }).toEqual({
        name: pipeline.name,
        versions: holding,
      });
    }

    const agents = await fromMaia('/v1/agents?size=100');
    const defaultId = environment.defaultAgent.id as string;
    const expectedRunners = [
      ...agents.results.filter((a) => a.agentId === defaultId),
      ...agents.results.filter((a) => a.agentId !== defaultId),
    ].map((a) => ({ id: a.agentId, name: a.name, restricted: a.restricted, status: null }));
    expect(environment.runners).toEqual({ total: agents.total, results: expectedRunners });
    expect(environment.runners.results[0].id).toBe(defaultId);
    expect(environment.defaultAgent.restricted).toBe(expectedRunners[0].restricted);
  });

  it('serves REST under /api/v1 and /dpc/v1 exactly as Maia answers the same paths', async () => {
    const paths = [
      `/v1/projects/${seed.analytics}/artifacts?environmentName=Prod`,
      `/v1/projects/${seed.analytics}/artifacts?page=1&size=2`,
      `/v1/projects/${seed.analytics}/artifacts/details?environmentName=Prod&versionName=1.0.0`,
      '/v1/agents',
      '/v1/agents?page=1&size=2',
    ];
    for (const path of paths) {
      const expected = await fromMaia(path);
      for (const prefix of ['/api', '/dpc']) {
        const answer = await rest(gateway.url, 'GET', `${prefix}${path}`);
        expect({ path: `${prefix}${path}`, status: answer.status, body: answer.body }).toEqual({
          path: `${prefix}${path}`,
          status: 200,
          body: expected,
        });
      }
    }
  });

  it('caches the lists like other lookups: a second read of every picker calls Maia no more', async () => {
    const variables = { p: seed.analytics, e: 'Dev' };
    await gqlData(gateway.url, environmentQuery, variables);
    await maia.resetCounters();
    await gqlData(gateway.url, environmentQuery, variables);
    expect(await maia.count('listArtifacts')).toBe(0);
    expect(await maia.count('getArtifactDetails')).toBe(0);
    expect(await maia.count('listAgents')).toBe(0);
  });

  it('runs what the pickers offer: the chosen version and runner reach Maia', async () => {
    const data = await gqlData(
      gateway.url,
      `query ($p: ID!) { project(id: $p) { environment(name: "Prod") {
         runners { results { id restricted } }
         publishedPipelines { results { name versions { results { versionName } } } } } } }`,
      { p: seed.analytics },
    );
    const environment = data.project.environment;
    const pipeline = environment.publishedPipelines.results.find(
      (p: { name: string }) => p.name === 'FOLDER/load_orders.orch.yaml',
    );
    const versionName = pipeline.versions.results.at(-1).versionName as string;
    const agentId = environment.runners.results.find((r: { restricted: boolean }) => !r.restricted)
      .id as string;
    const run = await gqlData(
      gateway.url,
      'mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }',
      {
        input: {
          projectId: seed.analytics,
          pipelineName: pipeline.name,
          environmentName: 'Prod',
          versionName,
          agentId,
        },
      },
    );
    const executed = (await maia.executions()).find(
      (e) => e.pipelineExecutionId === run.executePipeline.pipelineExecutionId,
    );
    expect(executed).toMatchObject({ versionName, agentId });
  });

  it("refuses bad input with a code before calling Maia, and passes Maia's 404 on", async () => {
    await maia.resetCounters();
    const noVersion = await rest(
      gateway.url,
      'GET',
      `/api/v1/projects/${seed.analytics}/artifacts/details?environmentName=Prod`,
    );
    expect(noVersion.status).toBe(400);
    expect(noVersion.body.code).toBe('BAD_USER_INPUT');
    const badSize = await gql(
      gateway.url,
      '{ projects { results { environments { results { versions(size: 0) { total } } } } } }',
    );
    expect(badSize.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(await maia.count('getArtifactDetails')).toBe(0);
    expect(await maia.count('listArtifacts')).toBe(0);

    const unknown = await rest(
      gateway.url,
      'GET',
      `/dpc/v1/projects/${seed.analytics}/artifacts/details?environmentName=Prod&versionName=2.0.0`,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NOT_FOUND');
  });
});
