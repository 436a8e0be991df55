/**
 * The explorer's first tabs: the README's operations against the sandbox's seeded project, so a new user
 * can press Run at once. Their ids are the seed's; against a real Maia they are edited like any text.
 */
export const SANDBOX_PROJECT_ID = '3fa85f64-5717-4562-b3fc-2c963f66afa6';

export interface DefaultOperation {
  query: string;
  variables: string;
}

const json = (value: unknown): string => JSON.stringify(value, null, 2);

export const defaultOperations: DefaultOperation[] = [
  {
    // No variables in the first tab: GraphiQL 4 loads only the first tab's query into the editors at first.
    query: `# A project by name, its environments with their default runner, and what is published to each.
query Project {
  project(name: "Test-project") {
    id
    name
    environments {
      results {
        name
        defaultAgent { name }
        publishedPipelines { results { name publishedTime } }
      }
    }
  }
}
`,
    variables: '',
  },
  {
    query: `# Execute a published pipeline (idempotent with idempotencyKey); copy pipelineExecutionId to the next tab.
mutation ExecutePipeline($input: ExecutePipelineInput!) {
  executePipeline(input: $input) {
    pipelineExecutionId
    replayed
    execution { status pipelineName environmentName startedAt }
  }
}
`,
    variables: json({
      input: {
        projectId: SANDBOX_PROJECT_ID,
        pipelineName: 'Pipeline 1',
        environmentName: 'Dev Environment',
        scalarVariables: [{ name: 'region', value: 'eu' }],
      },
    }),
  },
  {
    query: `# Watch one run live (graphql-ws on the same /graphql): the current state, then each change.
subscription PipelineExecutionUpdated($projectId: ID!, $executionId: ID!) {
  pipelineExecutionUpdated(projectId: $projectId, executionId: $executionId) {
    cursor
    kind
    execution { status message finishedAt }
  }
}
`,
    variables: json({ projectId: SANDBOX_PROJECT_ID, executionId: 'paste pipelineExecutionId here' }),
  },
];

/**
 * The headers editor's first text: where a key or token goes. Empty values are not sent (see the fetcher),
 * so the hint costs nothing while authentication is off.
 */
export const DEFAULT_HEADERS = json({ 'X-API-Key': '', Authorization: '' });
