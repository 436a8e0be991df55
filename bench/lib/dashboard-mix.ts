import type { RequestSpec } from './http-load';
import type { Caller } from './principals';
import type { RoundRatios, ScenarioRow } from './results';
import { graphqlBody } from './queries';
import type { SeedFacts } from './repo';
import { median, round } from './stats';

/**
 * What many dashboards ask at once: each caller reads what its rights show it (the project list, one
 * project with its environments and pipelines, a project's recent executions, one execution), on both
 * faces, with its own credential. Lookups (projects, environments, pipelines) are cached by the gateway;
 * executions are always read from Maia.
 */

export const DASHBOARD_PROJECTS_QUERY =
  'query DashboardProjects($size: Int!) { projects(size: $size) { total results { id name description } } }';

export const DASHBOARD_PROJECT_QUERY =
  'query DashboardProject($id: ID!) { project(id: $id) { id name environments { total results { name ' +
  'defaultAgent { id name } publishedPipelines { total results { name publishedTime } } } } } }';

export const DASHBOARD_EXECUTIONS_QUERY =
  'query DashboardExecutions($projectId: ID!, $first: Int!) { pipelineExecutions(first: $first, ' +
  'filter: { projectId: $projectId }) { nodes { id pipelineName environmentName status startedAt finishedAt } ' +
  'pageInfo { hasNextPage endCursor } } }';

export const DASHBOARD_EXECUTION_QUERY =
  'query DashboardExecution($projectId: ID!, $executionId: ID!) { pipelineExecution(projectId: $projectId, ' +
  'executionId: $executionId) { id pipelineName environmentName status startedAt finishedAt message } }';

export type MixKind =
  'projects' | 'project' | 'executions' | 'execution' | 'rest-projects' | 'rest-environments';

export interface MixRequest extends RequestSpec {
  kind: MixKind;
  caller: string;
}

/** How often each kind appears in the mix (a dashboard page loads several of them). */
const WEIGHTS: Record<MixKind, number> = {
  projects: 4,
  project: 6,
  executions: 5,
  execution: 3,
  'rest-projects': 1,
  'rest-environments': 1,
};

function visible(caller: Caller, facts: SeedFacts): string[] {
  return caller.projects === '*' ? facts.projectIds : caller.projects;
}

/**
 * Every caller's requests, each kind repeated by its weight; the load generator draws from the list at
 * random. `baseUrl` is the gateway's.
 */
export function dashboardMix(baseUrl: string, callers: Caller[], facts: SeedFacts): MixRequest[] {
  const mix: MixRequest[] = [];
  const add = (caller: Caller, kind: MixKind, spec: RequestSpec) => {
    for (let i = 0; i < WEIGHTS[kind]; i++) mix.push({ ...spec, kind, caller: caller.name });
  };
  const gql = (caller: Caller, query: string, variables: Record<string, unknown>): RequestSpec => ({
    url: `${baseUrl}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...caller.headers },
    body: graphqlBody(query, variables),
  });
  for (const caller of callers) {
    const projects = visible(caller, facts);
    // Two page sizes: two dashboards that list projects differently.
    add(
      caller,
      'projects',
      gql(caller, DASHBOARD_PROJECTS_QUERY, { size: caller.name.length % 2 ? 25 : 10 }),
    );
    add(caller, 'rest-projects', { url: `${baseUrl}/api/v1/projects`, headers: { ...caller.headers } });
    for (const id of projects) {
      add(caller, 'project', gql(caller, DASHBOARD_PROJECT_QUERY, { id }));
      add(caller, 'executions', gql(caller, DASHBOARD_EXECUTIONS_QUERY, { projectId: id, first: 10 }));
      add(caller, 'rest-environments', {
        url: `${baseUrl}/api/v1/projects/${id}/environments`,
        headers: { ...caller.headers },
      });
    }
    for (const run of facts.history.filter((h) => projects.includes(h.projectId))) {
      add(caller, 'execution', gql(caller, DASHBOARD_EXECUTION_QUERY, run));
    }
  }
  return mix;
}

/** One request of each kind and credential type, for the check before the load (2xx, data, no errors). */
export function mixSample(mix: MixRequest[], callers: Caller[]): MixRequest[] {
  const kindOf = new Map(callers.map((c) => [c.name, c.kind]));
  const seen = new Set<string>();
  return mix.filter((request) => {
    const key = `${request.kind}:${kindOf.get(request.caller)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The auth-cost verdict over interleaved rounds: round i's ratio is the production-shaped gateway's CPU
 * per request over the plain one's in the same round (measured back to back, the order alternating from
 * round to round, so drift on a shared machine falls on both sides alike). The median of those ratios is
 * the verdict; their lowest and highest are its spread.
 */
export function roundRatios(
  on: readonly (number | null)[],
  off: readonly (number | null)[],
): { ratios: number[]; median: number; min: number; max: number } | null {
  if (on.length === 0 || on.length !== off.length) return null;
  const ratios: number[] = [];
  for (let i = 0; i < on.length; i++) {
    const a = on[i];
    const b = off[i];
    if (a === null || b === null || !(b > 0)) return null;
    ratios.push(a / b);
  }
  return { ratios, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

/**
 * `row`'s figure over `against`'s, round by round (the two measured in the same interleaved rounds), as
 * the row records it. A round in which the baseline has no figure (it served nothing in its window) gives
 * no ratio and is counted in `rounds` only; a round in which the row served nothing while its baseline
 * served gives a throughput ratio of 0 (a CPU ratio has no figure then, and the round gives none); null when no round gives one. `starved` counts the rounds in
 * which either side served under half its own best round's requests a second (`starvedRounds`).
 */
export function roundRatiosOf(
  row: ScenarioRow,
  against: ScenarioRow,
  of: RoundRatios['of'],
): RoundRatios | null {
  if (!row.rounds || !against.rounds) return null;
  const a = row.rounds[of];
  const b = against.rounds[of];
  const rounds = Math.min(a.length, b.length);
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const x = a[i];
    const y = b[i];
    if (y === null || !(y > 0)) continue;
    // The row serving nothing while its baseline served is a ratio of 0 for throughput, not a round left
    // out: leaving it out would let one good round PASS a gateway that failed in the others.
    if (x !== null && x > 0) ratios.push(round(x / y, 3));
    else if (of === 'reqPerSec') ratios.push(0);
  }
  if (ratios.length === 0) return null;
  return {
    against: against.id,
    of,
    ratios,
    median: round(median(ratios), 3),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    rounds,
    starved: starvedRounds(row.rounds.reqPerSec, against.rounds.reqPerSec),
  };
}

/**
 * Rounds in which either side served under half the requests a second of its own best round: two
 * different servers (the gateway and its baseline) are not comparable to each other, but each is steady
 * from one 3-second window to the next on a machine that leaves them their core. A round far below its
 * side's best was starved by other work, and the ratio of that round says more about the machine.
 */
export function starvedRounds(a: readonly number[], b: readonly number[]): number {
  const bestA = Math.max(0, ...a);
  const bestB = Math.max(0, ...b);
  let count = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] < bestA / 2 || b[i] < bestB / 2) count += 1;
  }
  return count;
}

/**
 * Rounds in which one side served less than half the other's requests a second: on a saturated machine
 * one gateway can be starved for a whole window (CPU idle, answers late), and its CPU per request then
 * says more about the machine than about the gateway. The verdict reports how many there were.
 */
export function lopsidedRounds(on: readonly number[], off: readonly number[]): number {
  let count = 0;
  for (let i = 0; i < Math.min(on.length, off.length); i++) {
    if (on[i] < off[i] / 2 || off[i] < on[i] / 2) count += 1;
  }
  return count;
}
