import { startEmulator, type RunningEmulator } from '../../src/emulator/emulator';
import { EmulatorTestClient, uuidPattern } from './emulator-test.client';

/**
 * Maia's guide to executing pipelines (summed up in docs/maia-api.md), walked end to end against the
 * emulator as one story: token → projects → environments → published pipelines → execute (latest and
 * pinned version) → status → cancel, the executionTag 409, and the FORBIDDEN run on the restricted runner
 * found by status.
 */

let emulator: RunningEmulator;
let maia: EmulatorTestClient;

beforeAll(async () => {
  // Real durations: the runs must still be going when the walk cancels them, even on a busy machine.
  emulator = await startEmulator({ timeScale: 1, quiet: true });
  maia = new EmulatorTestClient(emulator);
});

afterAll(async () => {
  await emulator.close();
});

it('walks the execution guide from token to FORBIDDEN', async () => {
  // Prerequisites: an access token for the API credentials.
  const tokenRes = await maia.tokenRequest({
    grant_type: 'client_credentials',
    client_id: emulator.clientId,
    client_secret: emulator.clientSecret,
    audience: 'https://api.matillion.com',
  });
  expect(tokenRes.status).toBe(200);
  expect(tokenRes.body.token_type).toBe('Bearer');
  const token: string = tokenRes.body.access_token;

  // Step 1: the project id.
  const projects = await maia.api('GET', '/v1/projects', { token });
  expect(projects.status).toBe(200);
  expect(projects.body.total).toBe(projects.body.results.length);
  const project = projects.body.results.find((p: { name: string }) => p.name === 'Test-project');
  expect(project).toEqual({
    id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
    name: 'Test-project',
    description: 'project-1',
  });
  const executions = `/v1/projects/${project.id}/pipeline-executions`;

  // Step 2: the environment and its Maia runner.
  const environments = await maia.api('GET', `/v1/projects/${project.id}/environments`, { token });
  expect(environments.status).toBe(200);
  const devEnvironment = environments.body.results.find(
    (e: { name: string }) => e.name === 'Dev Environment',
  );
  expect(devEnvironment).toEqual({
    name: 'Dev Environment',
    defaultAgentId: '5f0c1a2b-0001-4000-8000-000000000001',
    defaultAgentName: 'Dev Agent',
  });

  // Step 3: the published pipelines of that environment.
  const published = await maia.api(
    'GET',
    `/v1/projects/${project.id}/published-pipelines?environmentName=${encodeURIComponent(devEnvironment.name)}`,
    { token },
  );
  expect(published.status).toBe(200);
  expect(published.body.results.map((p: { name: string }) => p.name)).toEqual([
    'My pipeline',
    'Pipeline 1',
    'Dev Pipeline',
  ]);

  // Step 4: execute, with the latest artifact and with a pinned versionName; an unknown version is 404.
  const executed = await maia.api('POST', executions, {
    token,
    body: { pipelineName: 'Pipeline 1', environmentName: 'Dev Environment' },
  });
  expect(executed.status).toBe(201);
  expect(executed.body.pipelineExecutionId).toMatch(uuidPattern);
  const runId: string = executed.body.pipelineExecutionId;

  const pinned = await maia.api('POST', executions, {
    token,
    body: { pipelineName: 'Dev Pipeline', environmentName: 'Dev Environment', versionName: '1.1.1' },
  });
  expect(pinned.status).toBe(201);
  const unknownVersion = await maia.api('POST', executions, {
    token,
    body: { pipelineName: 'Dev Pipeline', environmentName: 'Dev Environment', versionName: '9.9.9' },
  });
  expect(unknownVersion.status).toBe(404);

  // Step 5: check the status, through the details and the light status.
  const details = await maia.api('GET', `${executions}/${runId}`, { token });
  expect(details.status).toBe(200);
  expect(details.body).toMatchObject({
    pipelineExecutionId: runId,
    pipelineName: 'Pipeline 1',
    projectId: project.id,
    environmentName: 'Dev Environment',
    status: 'RUNNING',
    finishedAt: null,
    trigger: 'API',
  });
  const status = await maia.api('GET', `${executions}/${runId}/status`, { token });
  expect(status.body).toEqual({ status: 'RUNNING' });

  // Step 6: terminate it (the guide's body, with the only accepted status value).
  const cancelled = await maia.api('PATCH', `${executions}/${runId}`, {
    token,
    body: { forceUpdate: true, status: 'CANCELLED' },
  });
  expect(cancelled.status).toBe(200);
  expect(cancelled.body).toEqual({ pipelineExecutionId: runId });
  const afterCancel = await maia.api('GET', `${executions}/${runId}`, { token });
  expect(afterCancel.body.status).toBe('CANCELLED');
  expect(afterCancel.body.finishedAt).not.toBeNull();
  expect(
    await maia.waitForStatus(token, project.id, pinned.body.pipelineExecutionId, (s) => s !== 'RUNNING'),
  ).toBe('SUCCESS');

  // Preventing concurrent executions: the same executionTag while the first run is going is a 409.
  const tagged = {
    pipelineName: 'Pipeline 1',
    environmentName: 'Dev Environment',
    executionTag: 'nightly-run',
  };
  const firstTagged = await maia.api('POST', executions, { token, body: tagged });
  expect(firstTagged.status).toBe(201);
  const duplicate = await maia.api('POST', executions, { token, body: tagged });
  expect(duplicate.status).toBe(409);
  expect(duplicate.body).toEqual({
    error: 'A pipeline execution with this tag is already running.',
    status: 409,
  });
  await maia.api('PATCH', `${executions}/${firstTagged.body.pipelineExecutionId}`, {
    token,
    body: { forceUpdate: true, status: 'CANCELLED' },
  });
  const taggedRuns = (await maia.control('GET', 'executions')).body.results.filter(
    (e: { executionTag: string | null }) => e.executionTag === 'nightly-run',
  );
  expect(taggedRuns).toHaveLength(1);

  // FORBIDDEN: a run on the restricted runner whose allow list does not permit the environment.
  const marketing = projects.body.results.find((p: { name: string }) => p.name === 'Marketing');
  const marketingEnvs = await maia.api('GET', `/v1/projects/${marketing.id}/environments`, { token });
  const restricted = marketingEnvs.body.results.find((e: { name: string }) => e.name === 'Restricted');
  const allowlist = await maia.api('GET', `/v1/agents/${restricted.defaultAgentId}/allowlist`, { token });
  expect(allowlist.body.restricted).toBe(true);
  expect(allowlist.body.allowlist).not.toContainEqual({
    projectId: marketing.id,
    environmentName: 'Restricted',
  });
  const forbiddenRun = await maia.execute(token, marketing.id, {
    pipelineName: 'campaigns/attribution.orch.yaml',
    environmentName: 'Restricted',
  });
  expect(await maia.waitForStatus(token, marketing.id, forbiddenRun, (s) => s !== 'RUNNING')).toBe(
    'FORBIDDEN',
  );
  const forbiddenList = await maia.api('GET', '/v1/pipeline-executions?status=FORBIDDEN', { token });
  expect(forbiddenList.status).toBe(200);
  expect(forbiddenList.body.results[0]).toMatchObject({
    pipelineExecutionId: forbiddenRun,
    projectId: marketing.id,
    environmentName: 'Restricted',
    status: 'FORBIDDEN',
  });
  expect(forbiddenList.body.results.every((e: { status: string }) => e.status === 'FORBIDDEN')).toBe(true);
});
