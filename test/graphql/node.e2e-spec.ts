import { gql, gqlData, seed } from '../api/support/api-client';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';

/**
 * Global object identification: every Node type's `id` read back through `node` and `nodes`, the same
 * object and typename as the list gave; ids the gateway never issued are NOT_FOUND, never a crash.
 */
describe('node(id:) and nodes(ids:)', () => {
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

  const nodeFields = `__typename id
    ... on Project { name }
    ... on Environment { name projectId defaultAgent { id } }
    ... on PublishedPipeline { name projectId environmentName publishedTime }`;

  async function listed(): Promise<Record<string, unknown>[]> {
    const data = await gqlData(
      gateway.url,
      `query ($id: ID!) { project(id: $id) { __typename id name
         environments { results { __typename id name projectId defaultAgent { id }
           publishedPipelines(size: 100) { results { __typename id name projectId environmentName publishedTime } } } } } }`,
      { id: seed.analytics },
    );
    const { environments, ...project } = data.project;
    const objects: Record<string, unknown>[] = [project];
    for (const { publishedPipelines, ...environment } of environments.results) {
      objects.push(environment, ...publishedPipelines.results);
    }
    return objects;
  }

  it('reads every Node type back by its id, as the list gave it', async () => {
    const objects = await listed();
    expect(new Set(objects.map((o) => o.__typename))).toEqual(
      new Set(['Project', 'Environment', 'PublishedPipeline']),
    );
    // Unique ids across every object: Apollo and urql key the cache by them.
    expect(new Set(objects.map((o) => o.id)).size).toBe(objects.length);
    for (const object of objects) {
      const data = await gqlData(gateway.url, `query ($id: ID!) { node(id: $id) { ${nodeFields} } }`, {
        id: object.id,
      });
      expect(data.node).toEqual(object);
    }
    const many = await gqlData(gateway.url, `query ($ids: [ID!]!) { nodes(ids: $ids) { ${nodeFields} } }`, {
      ids: objects.map((o) => o.id),
    });
    expect(many.nodes).toEqual(objects);
  });

  it('keeps Maia ids where they were: Project.id is the project UUID, environments still named', async () => {
    const [project, environment] = await listed();
    expect(project.id).toBe(seed.analytics);
    expect(environment).toMatchObject({ projectId: seed.analytics, name: expect.any(String) });
    // Opaque: base64url, nothing a client should parse.
    expect(environment.id).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('answers NOT_FOUND for ids it never issued and for objects that are gone, per item in nodes', async () => {
    const [, environment] = await listed();
    const forged = Buffer.from(`Environment:${seed.analytics}:NoSuchEnvironment`).toString('base64url');
    const unknownProject = '00000000-0000-4000-8000-000000000000';
    for (const id of ['not-an-id', 'Zm9vOmJhcg', forged, unknownProject, '%%%']) {
      const result = await gql(gateway.url, 'query ($id: ID!) { node(id: $id) { id } }', { id });
      expect({ id, data: result.data, code: result.errors?.[0].extensions.code }).toEqual({
        id,
        data: { node: null },
        code: 'NOT_FOUND',
      });
    }
    const mixed = await gql(gateway.url, 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', {
      ids: [environment.id, forged],
    });
    expect(mixed.data).toEqual({ nodes: [{ id: environment.id }, null] });
    expect(mixed.errors?.map((e) => [e.path, e.extensions.code])).toEqual([[['nodes', 1], 'NOT_FOUND']]);
  });

  describe("executions (PipelineExecution is a Node: its id stays Maia's UUID)", () => {
    const executionFields = `__typename id ... on PipelineExecution { projectId pipelineName status startedAt }`;
    const seedRun = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b'; // a finished run of Analytics Warehouse
    const encoded = (id: string) => Buffer.from(`PipelineExecution:${id}`).toString('base64url');
    const getCalls = async () => (await maia.requests()).filter((r) => r.route === 'getExecution');

    it('reads an execution the gateway never handed out by probing the projects, then one listed by its recorded project', async () => {
      // A fresh gateway: nothing recorded yet, so the bare UUID is looked for in the projects.
      const fresh = await startGateway(gatewayEnv(maia));
      try {
        await maia.clearRequests();
        const probed = await gqlData(fresh.url, `query ($id: ID!) { node(id: $id) { ${executionFields} } }`, {
          id: seedRun,
        });
        expect(probed.node).toMatchObject({
          __typename: 'PipelineExecution',
          id: seedRun,
          projectId: seed.analytics,
        });
        const probes = await getCalls();
        expect(probes.length).toBeGreaterThanOrEqual(1);
        expect(probes.length).toBeLessThanOrEqual(20);
        // Read once, it is recorded: the next lookup reads it in its project only.
        await maia.clearRequests();
        const again = await gqlData(fresh.url, `query ($id: ID!) { node(id: $id) { ${executionFields} } }`, {
          id: encoded(seedRun),
        });
        expect(again.node).toEqual(probed.node);
        expect((await getCalls()).map((r) => r.path)).toEqual([
          `/dpc/v1/projects/${seed.analytics}/pipeline-executions/${seedRun}`,
        ]);
      } finally {
        await fresh.close();
      }
    });

    it('round-trips every listed execution through node and nodes, as the list gave it', async () => {
      const listed = await gqlData(
        gateway.url,
        `query ($p: ID!) { project(id: $p) { executions(first: 5, filter: { startedAfter: "2000-01-01T00:00:00Z" }) { nodes { ${executionFields} } } } }`,
        { p: seed.analytics },
      );
      const runs = listed.project.executions.nodes as { id: string }[];
      expect(runs.length).toBeGreaterThan(0);
      await maia.clearRequests();
      for (const run of runs) {
        const data = await gqlData(gateway.url, `query ($id: ID!) { node(id: $id) { ${executionFields} } }`, {
          id: run.id,
        });
        expect(data.node).toEqual(run);
      }
      // Each found in its recorded project at once: one details call per execution, no probing.
      expect((await getCalls()).length).toBe(runs.length);
      const many = await gqlData(
        gateway.url,
        `query ($ids: [ID!]!) { nodes(ids: $ids) { ${executionFields} } }`,
        {
          ids: [...runs.map((r) => encoded(r.id)), seed.analytics],
        },
      );
      expect(many.nodes.slice(0, runs.length)).toEqual(runs);
      // A bare project UUID is still the project (projects are tried first).
      expect(many.nodes[runs.length]).toEqual({ __typename: 'Project', id: seed.analytics });
    });

    it('answers NOT_FOUND for an execution id that names no run, and for a typed id holding no UUID', async () => {
      for (const id of ['00000000-0000-4000-8000-0000000000ee', encoded('not-a-uuid')]) {
        const result = await gql(gateway.url, 'query ($id: ID!) { node(id: $id) { id } }', { id });
        expect({
          id,
          data: result.data,
          code: result.errors?.[0].extensions.code,
          message: result.errors?.[0].message,
        }).toEqual({
          id,
          data: { node: null },
          code: 'NOT_FOUND',
          message: 'No object has this id',
        });
      }
    });
  });
});
