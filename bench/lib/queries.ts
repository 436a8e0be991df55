/** The GraphQL documents sent to the gateway and, where the slice exists, to the Apollo peer. */

export const PROJECTS_QUERY =
  'query Projects { projects { page size total results { id name description } } }';

export const NESTED_QUERY =
  'query Nested { projects { total results { id name environments { total results { name defaultAgent { id name } ' +
  'publishedPipelines { total results { name publishedTime } } } } } } }';

export const EXECUTION_QUERY =
  'query Execution($projectId: ID!, $executionId: ID!) { pipelineExecution(projectId: $projectId, executionId: $executionId) ' +
  '{ id projectId pipelineName environmentName status startedAt finishedAt message } }';

export const EXECUTE_MUTATION =
  'mutation Execute($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }';

export const EXECUTION_SUBSCRIPTION =
  'subscription Watch($projectId: ID!, $executionId: ID!) { pipelineExecutionUpdated(projectId: $projectId, executionId: $executionId) ' +
  '{ cursor at execution { id status finishedAt } } }';

export function graphqlBody(query: string, variables?: Record<string, unknown>): string {
  return JSON.stringify(variables ? { query, variables } : { query });
}

export interface GraphqlAnswer {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** Throws with the first error's message (and code) when an answer carries errors or no data. */
export function expectData(status: number, body: string, what: string): Record<string, unknown> {
  let parsed: GraphqlAnswer;
  try {
    parsed = JSON.parse(body) as GraphqlAnswer;
  } catch {
    throw new Error(`${what}: HTTP ${status}, not JSON: ${body.slice(0, 200)}`);
  }
  if (parsed.errors?.length || !parsed.data) {
    const first = parsed.errors?.[0];
    throw new Error(
      `${what}: HTTP ${status}, ${first ? `${first.extensions?.code ?? 'error'}: ${first.message}` : 'no data'}`,
    );
  }
  return parsed.data;
}
