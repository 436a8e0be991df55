import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { gqlData } from './support/api-client';

/**
 * Nested GraphQL fields share upstream work within one request (per-request DataLoaders): with the cache
 * switched off, so nothing is remembered between requests, every distinct upstream call is made once per
 * request however many fields, aliases and paths ask for it, including paths resolved later in the request.
 */
describe('per-request DataLoaders', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;

  beforeAll(async () => {
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    gateway = await startGateway(
      gatewayEnv(maia, {
        CACHE_TTL_PROJECTS_SECONDS: '0',
        CACHE_TTL_ENVIRONMENTS_SECONDS: '0',
        CACHE_TTL_PIPELINES_SECONDS: '0',
        CACHE_L1_TTL_SECONDS: '0',
      }),
    );
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });

  const query = `{
    projects(size: 5) {
      results {
        id
        environments { results { name publishedPipelines { total } } }
        sameEnvironments: environments { total }
      }
    }
    pipelineExecutions(first: 10) {
      nodes { project { name environments { total results { publishedPipelines { total } } } } }
    }
  }`;

  // The seed's 5 projects have 2+2+2+1+1 environments: 8 distinct (project, environment) pairs.
  const expected = { listEnvironments: 5, listPublishedPipelines: 8, listExecutions: 1 };

  it('a query over 5 projects, their environments and pipelines makes each distinct upstream call once', async () => {
    await maia.resetCounters();
    const data = await gqlData(gateway.url, query);
    expect(data.projects.results).toHaveLength(5);
    const environmentCount = data.projects.results.reduce(
      (sum: number, p: { environments: { results: unknown[] } }) => sum + p.environments.results.length,
      0,
    );
    expect(environmentCount).toBe(8);
    expect(data.pipelineExecutions.nodes.length).toBeGreaterThan(0);

    const counters = (await maia.counters()).routes;
    expect(counters.listEnvironments.total).toBe(expected.listEnvironments);
    expect(counters.listPublishedPipelines.total).toBe(expected.listPublishedPipelines);
    expect(counters.listExecutions.total).toBe(expected.listExecutions);
    // One page of projects, plus the project directory behind `PipelineExecution.project` (one walk).
    expect(counters.listProjects.total).toBe(2);
  });

  it('the same query again makes the same calls again: the sharing is per request, not a cache', async () => {
    await maia.resetCounters();
    await gqlData(gateway.url, query);
    const counters = (await maia.counters()).routes;
    expect(counters.listEnvironments.total).toBe(expected.listEnvironments);
    expect(counters.listPublishedPipelines.total).toBe(expected.listPublishedPipelines);
  });

  it("reads each environment's versions, each version's details and the runners once per request", async () => {
    await maia.resetCounters();
    const data = await gqlData(
      gateway.url,
      `{ projects(size: 5) { results { environments { results {
           versions { total } runners { total } again: runners(size: 1) { total } defaultAgent { restricted }
           publishedPipelines { results { versions { total } again: versions(size: 1) { total } } } } } } } }`,
    );
    expect(data.projects.results).toHaveLength(5);
    const counters = (await maia.counters()).routes;
    // 8 environments; their distinct (environment, version) pairs: Analytics Dev 4 and Prod 3, Marketing
    // 1 and 1, Test-project 2 and 2 (the Shared Sandboxes publish nothing).
    expect(counters.listArtifacts.total).toBe(8);
    expect(counters.getArtifactDetails.total).toBe(13);
    expect(counters.listAgents.total).toBe(1);
  });
});
