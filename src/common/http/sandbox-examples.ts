/**
 * The OpenAPI document's examples: ids and names of the sandbox's seeded Maia world (the emulator's seed),
 * so that Swagger UI's "Try it out" runs every operation as printed in sandbox mode. Copied, not imported
 * (the gateway imports nothing of the emulator); `test/api/openapi-document.e2e-spec.ts` runs them.
 */
export const SANDBOX_EXAMPLE = {
  projectId: '4a8a6162-702b-4efc-b2ec-c986e0bc95e4',
  environmentName: 'Dev',
  pipelineName: 'FOLDER/load_orders.orch.yaml',
  versionName: '1.1.0',
  /** The default runner of Dev ("Dev Agent"). */
  agentId: '5f0c1a2b-0001-4000-8000-000000000001',
  /** A run in the seeded history (finished: cancelling it answers 409 ALREADY_FINISHED). */
  pipelineExecutionId: '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b',
} as const;

/** The execute body that runs as printed (no `executionTag`: a second click while it runs would be a 409). */
export const EXECUTE_BODY_EXAMPLE = {
  pipelineName: SANDBOX_EXAMPLE.pipelineName,
  environmentName: SANDBOX_EXAMPLE.environmentName,
  versionName: SANDBOX_EXAMPLE.versionName,
  agentId: SANDBOX_EXAMPLE.agentId,
  scalarVariables: { region: 'eu' },
};

export const CANCEL_BODY_EXAMPLE = { status: 'CANCELLED', forceUpdate: false };
