import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient, type Client } from 'graphql-ws';
import { Kind, OperationTypeNode } from 'graphql';
import WebSocket from 'ws';
import { seed } from '../api/support/api-client';
import { eventually } from '../support/eventually';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';

/**
 * What a frontend gets from Apollo Client 4 with an InMemoryCache and NO typePolicies: every object the
 * schema lets it cache is normalized once by `__typename` and `id`, and a run updated by the
 * `pipelineExecutionUpdated` subscription changes the earlier query's result in place, without a refetch.
 */
describe('Apollo Client InMemoryCache without typePolicies', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;
  let ws: Client;
  let client: ApolloClient;
  const httpOperations: string[] = [];

  beforeAll(async () => {
    // "Pipeline 1" runs 3 s: long enough to be seen RUNNING, short enough to watch it finish.
    maia = await startEmulatorFixture({ timeScale: 1 });
    gateway = await startGateway(gatewayEnv(maia));
    const counting: typeof fetch = (input, init) => {
      const body = JSON.parse(typeof init?.body === 'string' ? init.body : '{}') as {
        operationName?: string;
      };
      httpOperations.push(body.operationName ?? '(anonymous)');
      return fetch(input, init);
    };
    ws = createClient({ url: `${gateway.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket });
    const link = ApolloLink.split(
      ({ query }) => {
        const definition = getMainDefinition(query);
        return (
          definition.kind === Kind.OPERATION_DEFINITION &&
          definition.operation === OperationTypeNode.SUBSCRIPTION
        );
      },
      new GraphQLWsLink(ws),
      new HttpLink({ uri: `${gateway.url}/graphql`, fetch: counting }),
    );
    client = new ApolloClient({ link, cache: new InMemoryCache() });
  });
  afterAll(async () => {
    client?.stop();
    await ws?.dispose();
    await gateway?.close();
    await maia?.close();
  });

  const EXECUTE = gql`
    mutation Execute($input: ExecutePipelineInput!) {
      executePipeline(input: $input) {
        pipelineExecutionId
      }
    }
  `;
  const CATALOG = gql`
    query Catalog {
      projects(size: 100) {
        results {
          id
          name
          environments {
            results {
              id
              name
              defaultAgent {
                id
                name
              }
              publishedPipelines(size: 100) {
                results {
                  id
                  name
                  lastExecution {
                    id
                    status
                    isTerminal
                  }
                }
              }
            }
          }
        }
      }
    }
  `;
  const UPDATED = gql`
    subscription Updated($projectId: ID!, $executionId: ID!) {
      pipelineExecutionUpdated(projectId: $projectId, executionId: $executionId) {
        kind
        execution {
          id
          status
          isTerminal
        }
      }
    }
  `;

  interface CatalogData {
    projects: {
      results: {
        id: string;
        environments: {
          results: {
            id: string;
            name: string;
            publishedPipelines: {
              results: { id: string; name: string; lastExecution: { id: string; status: string } | null }[];
            };
          }[];
        };
      }[];
    };
  }

  const lastRunOf = (data: CatalogData | undefined, pipelineName: string) =>
    data?.projects.results
      .find((p) => p.id === seed.testProject)
      ?.environments.results.find((e) => e.name === 'Dev Environment')
      ?.publishedPipelines.results.find((p) => p.name === pipelineName)?.lastExecution ?? null;

  it('normalizes every type once, and the subscription updates the watched query in place', async () => {
    const launched = await client.mutate<{ executePipeline: { pipelineExecutionId: string } }>({
      mutation: EXECUTE,
      variables: {
        input: {
          projectId: seed.testProject,
          pipelineName: 'Pipeline 1',
          environmentName: 'Dev Environment',
        },
      },
    });
    const executionId = launched.data!.executePipeline.pipelineExecutionId;

    const results: (CatalogData | undefined)[] = [];
    const watched = client.watchQuery<CatalogData>({ query: CATALOG }).subscribe((result) => {
      results.push(result.data as CatalogData | undefined);
    });
    const first = await eventually(() => {
      const run = lastRunOf(results.at(-1), 'Pipeline 1');
      expect(run).toMatchObject({ id: executionId, status: 'RUNNING' });
      return results.at(-1);
    });
    expect(first).toBeDefined();

    // One entry per object, keyed by __typename:id; nested objects of these types are references only.
    const extracted = client.cache.extract() as Record<string, Record<string, unknown>>;
    const keysOf = (type: string) => Object.keys(extracted).filter((key) => key.startsWith(`${type}:`));
    const environments = first!.projects.results.flatMap((p) => p.environments.results);
    const pipelines = environments.flatMap((e) => e.publishedPipelines.results);
    expect(keysOf('Project').length).toBe(first!.projects.results.length);
    expect(keysOf('Environment').length).toBe(environments.length);
    expect(keysOf('PublishedPipeline').length).toBe(pipelines.length);
    expect(keysOf('PipelineExecution')).toContain(`PipelineExecution:${executionId}`);
    expect(keysOf('Agent')).toContain(`Agent:${seed.devAgent}`);
    expect(pipelines.length).toBeGreaterThan(3);
    const normalizedTypes = new Set([
      'Project',
      'Environment',
      'PublishedPipeline',
      'PipelineExecution',
      'Agent',
    ]);
    const embedded: string[] = [];
    const walk = (value: unknown, path: string, top: boolean): void => {
      if (Array.isArray(value)) return value.forEach((item, index) => walk(item, `${path}[${index}]`, false));
      if (value === null || typeof value !== 'object') return;
      const object = value as Record<string, unknown>;
      if (!top && typeof object.__typename === 'string' && normalizedTypes.has(object.__typename)) {
        embedded.push(path);
      }
      for (const [key, child] of Object.entries(object)) walk(child, `${path}.${key}`, false);
    };
    for (const [key, entry] of Object.entries(extracted)) walk(entry, key, true);
    expect(embedded).toEqual([]);

    const operationsBefore = httpOperations.length;
    const events: string[] = [];
    const subscription = client
      .subscribe({ query: UPDATED, variables: { projectId: seed.testProject, executionId } })
      .subscribe((event) => {
        const data = event.data as { pipelineExecutionUpdated: { kind: string } } | undefined;
        if (data) events.push(data.pipelineExecutionUpdated.kind);
      });
    try {
      // The earlier query's watched result changes by itself: no refetch, no new HTTP operation.
      await eventually(
        () =>
          expect(lastRunOf(results.at(-1), 'Pipeline 1')).toMatchObject({
            id: executionId,
            status: 'SUCCESS',
          }),
        { timeoutMs: 15_000 },
      );
      expect(events).toContain('FINISHED');
      expect(httpOperations.slice(operationsBefore)).toEqual([]);
      expect(httpOperations.filter((name) => name === 'Catalog')).toEqual(['Catalog']);
      expect(
        (client.cache.extract() as Record<string, unknown>)[`PipelineExecution:${executionId}`],
      ).toMatchObject({
        status: 'SUCCESS',
        isTerminal: true,
      });
    } finally {
      subscription.unsubscribe();
      watched.unsubscribe();
    }
  });
});
