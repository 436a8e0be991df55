/** The names by which counters and faults address the emulator's Maia routes (see docs/emulator.md). */
export const routeNames = [
  'token',
  'listProjects',
  'listEnvironments',
  'listPublishedPipelines',
  'executePipeline',
  'getExecution',
  'getExecutionStatus',
  'listSteps',
  'cancelExecution',
  'listExecutions',
  'listArtifacts',
  'getArtifactDetails',
  'listAgents',
  'getAllowlist',
  'putAllowlist',
  'patchAllowlist',
] as const;
export type RouteName = (typeof routeNames)[number];

/** Requests that match no route are counted under this name (faults never apply to them). */
export const unmatchedRoute = 'unmatched';
