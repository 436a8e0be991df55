/**
 * The name of a Maia endpoint from a request's method and path (relative to the API base), as the
 * emulator names its routes, so upstream metrics and emulator counters line up one to one. Ids in
 * paths never become labels.
 */
const ROUTES: [method: string | null, pattern: RegExp, name: string][] = [
  ['GET', /^\/v1\/projects$/, 'listProjects'],
  ['GET', /^\/v1\/projects\/[^/]+\/environments$/, 'listEnvironments'],
  ['GET', /^\/v1\/projects\/[^/]+\/published-pipelines$/, 'listPublishedPipelines'],
  ['POST', /^\/v1\/projects\/[^/]+\/pipeline-executions$/, 'executePipeline'],
  ['GET', /^\/v1\/projects\/[^/]+\/pipeline-executions\/[^/]+$/, 'getExecution'],
  ['PATCH', /^\/v1\/projects\/[^/]+\/pipeline-executions\/[^/]+$/, 'cancelExecution'],
  ['GET', /^\/v1\/projects\/[^/]+\/pipeline-executions\/[^/]+\/status$/, 'getExecutionStatus'],
  ['GET', /^\/v1\/projects\/[^/]+\/pipeline-executions\/[^/]+\/steps$/, 'listSteps'],
  ['GET', /^\/v1\/pipeline-executions$/, 'listExecutions'],
  ['GET', /^\/v1\/agents\/[^/]+\/allowlist$/, 'getAllowlist'],
  ['PUT', /^\/v1\/agents\/[^/]+\/allowlist$/, 'putAllowlist'],
  ['PATCH', /^\/v1\/agents\/[^/]+\/allowlist$/, 'patchAllowlist'],
];

export function maiaEndpointName(method: string, path: string): string {
  const verb = method.toUpperCase();
  const bare = path.split('?')[0].replace(/\/+$/, '');
  for (const [m, pattern, name] of ROUTES) {
    if ((m === null || m === verb) && pattern.test(bare)) return name;
  }
  return 'other';
}
