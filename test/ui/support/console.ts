import type { Page } from 'playwright-core';
import type { GatewayProcess } from '../../support/gateway-process';

/** Seed projects the console suites use (src/emulator/seed.json). */
export const SEED = {
  test: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  analytics: '4a8a6162-702b-4efc-b2ec-c986e0bc95e4',
  marketing: '9b6a1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
  devAgent: '5f0c1a2b-0001-4000-8000-000000000001',
} as const;

export interface GraphqlAnswer<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

/** A GraphQL call as a service would make it, beside the browser. */
export async function graphql<T>(
  gateway: GatewayProcess,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphqlAnswer<T>> {
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphqlAnswer<T>;
}

/** Starts a run through the API and answers its id. */
export async function executeThroughApi(
  gateway: GatewayProcess,
  input: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<string> {
  const answer = await graphql<{ executePipeline: { pipelineExecutionId: string } }>(
    gateway,
    'mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }',
    { input },
    headers,
  );
  if (!answer.data) throw new Error(`executePipeline failed: ${JSON.stringify(answer.errors)}`);
  return answer.data.executePipeline.pipelineExecutionId;
}

/** The sandbox emulator's base URL, from the gateway's start banner. */
export function emulatorOf(gateway: GatewayProcess): string {
  const match = /Maia emulator \(sandbox\): (http:\/\/[^/\s]+)/.exec(gateway.output());
  if (!match) throw new Error(`no emulator in the banner:\n${gateway.output()}`);
  return match[1];
}

export interface EmulatorExecution {
  pipelineExecutionId: string;
  pipelineName: string;
  environmentName?: string;
  versionName: string | null;
  agentId: string | null;
  executionTag: string | null;
  scalarVariables: Record<string, string>;
  gridVariables: unknown;
}

/** What the emulator recorded of each launch (its control API). */
export async function emulatorExecutions(gateway: GatewayProcess): Promise<EmulatorExecution[]> {
  const response = await fetch(`${emulatorOf(gateway)}/__emulator/executions`);
  return ((await response.json()) as { results: EmulatorExecution[] }).results;
}

/** The row of the runs list that links to this run's page. */
export const runLink = (page: Page, projectId: string, executionId: string) =>
  page.locator(`a[href="/console/runs/${projectId}/${executionId}"]`);

/**
 * The browser globals the suites read inside `page.evaluate` (the test tsconfig has no DOM library):
 * cast `globalThis` to this inside the callback, which runs in the page.
 */
export interface BrowserGlobals {
  sessionStorage: { getItem(key: string): string | null };
  localStorage: { readonly length: number };
  consoleMark?: string;
  document: { activeElement: { id: string } | null };
}
