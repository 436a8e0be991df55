import { HttpProblem, isPlainObject } from './http.util';
import { routeNames } from './route.names';

/** An injected misbehaviour of the emulator's Maia routes (see docs/emulator.md, "Control API"). */
export interface Fault {
  id: string;
  /** A route name, "*", or a pattern with `*` wildcards (e.g. "list*"). */
  route: string;
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  latencyMs?: number;
  drop?: 'before' | 'after';
  /** Probability (0..1) that a matching request is affected. */
  rate: number;
  /** Requests still to affect; null = unlimited. */
  remaining: number | null;
  /** Narrows the fault to some calls of its routes: all members given must hold. */
  match?: FaultMatch;
}

/**
 * Which calls of the fault's routes it affects, beyond the route name: one execution's calls, one project's,
 * or any call whose path (as received, without the query) fits a pattern with `*` for one path segment or
 * part of one. Ids compare without regard to case (UUIDs).
 */
export interface FaultMatch {
  executionId?: string;
  projectId?: string;
  path?: string;
}

/** What a request offers a fault's `match`: its path and the ids that path names. */
export interface FaultTarget {
  /** The path as received, without the query (e.g. `/dpc/v1/projects/p/pipeline-executions/e/status`). */
  path: string;
}

interface ActiveFault extends Fault {
  matches: (route: string) => boolean;
  /** null = every call of a matching route. */
  matchesTarget: ((target: FaultTarget) => boolean) | null;
}

/** Routes whose path names an execution (`/projects/{projectId}/pipeline-executions/{executionId}...`). */
const executionRoutes: ReadonlySet<string> = new Set([
  'getExecution',
  'getExecutionStatus',
  'listSteps',
  'cancelExecution',
]);
/** Routes whose path names a project. */
const projectRoutes: ReadonlySet<string> = new Set([
  ...executionRoutes,
  'listEnvironments',
  'listPublishedPipelines',
  'executePipeline',
  'listArtifacts',
  'getArtifactDetails',
]);

const knownRoutes: ReadonlySet<string> = new Set(routeNames);

export class FaultRegistry {
  private faults: ActiveFault[] = [];
  private nextId = 1;

  /** Validates a control-API body and adds the fault; a bad body is a 400. */
  add(raw: unknown): Fault {
    if (!isPlainObject(raw)) throw new HttpProblem(400, 'fault must be a JSON object');
    const { route, status, body, headers, latencyMs, drop, rate, count, match } = raw;
    if (typeof route !== 'string' || route.length === 0) throw new HttpProblem(400, 'route is required');
    if (!route.includes('*') && !knownRoutes.has(route)) {
      throw new HttpProblem(400, `unknown route "${route}"; known: ${routeNames.join(', ')}`);
    }
    const narrowed = match === undefined ? undefined : validMatch(match, route);
    if (
      status !== undefined &&
      (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599)
    ) {
      throw new HttpProblem(400, 'status must be an HTTP status code');
    }
    if (
      latencyMs !== undefined &&
      (typeof latencyMs !== 'number' || !Number.isFinite(latencyMs) || latencyMs < 0)
    ) {
      throw new HttpProblem(400, 'latencyMs must be a number >= 0');
    }
    if (drop !== undefined && drop !== 'before' && drop !== 'after') {
      throw new HttpProblem(400, 'drop must be "before" or "after"');
    }
    if (drop !== undefined && status !== undefined)
      throw new HttpProblem(400, 'a fault either drops or answers a status');
    if (status === undefined && drop === undefined && latencyMs === undefined) {
      throw new HttpProblem(400, 'a fault needs status, drop or latencyMs');
    }
    if (rate !== undefined && (typeof rate !== 'number' || !(rate >= 0 && rate <= 1))) {
      throw new HttpProblem(400, 'rate must be a number in 0..1');
    }
    if (count !== undefined && (typeof count !== 'number' || !Number.isInteger(count) || count < 1)) {
      throw new HttpProblem(400, 'count must be an integer >= 1');
    }
    if (
      headers !== undefined &&
      (!isPlainObject(headers) || Object.values(headers).some((v) => typeof v !== 'string'))
    ) {
      throw new HttpProblem(400, 'headers must map names to strings');
    }
    const fault: ActiveFault = {
      id: String(this.nextId++),
      route,
      rate: rate ?? 1,
      remaining: count ?? null,
      matches: matcherFor(route),
      matchesTarget: narrowed === undefined ? null : targetMatcherFor(narrowed),
    };
    if (narrowed !== undefined) fault.match = narrowed;
    if (status !== undefined) fault.status = status;
    if (body !== undefined) fault.body = body;
    if (headers !== undefined) fault.headers = headers as Record<string, string>;
    if (latencyMs !== undefined) fault.latencyMs = latencyMs;
    if (drop !== undefined) fault.drop = drop;
    this.faults.push(fault);
    return toView(fault);
  }

  /**
   * The first fault (in the order added) that matches the route (and the call, for a fault with `match`)
   * and wins its rate roll; consumes one of its remaining count. Cheap when none are set, which is the
   * benchmark case.
   */
  pick(route: string, target: FaultTarget): Fault | undefined {
    if (this.faults.length === 0) return undefined;
    for (const fault of this.faults) {
      if (!fault.matches(route)) continue;
      if (fault.matchesTarget !== null && !fault.matchesTarget(target)) continue;
      if (fault.rate < 1 && Math.random() >= fault.rate) continue;
      if (fault.remaining !== null) {
        fault.remaining--;
        if (fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault);
      }
      return fault;
    }
    return undefined;
  }

  list(): Fault[] {
    return this.faults.map(toView);
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length < before;
  }

  clear(): void {
    this.faults = [];
  }
}

function matcherFor(route: string): (name: string) => boolean {
  if (route === '*') return () => true;
  if (!route.includes('*')) return (name) => name === route;
  const pattern = new RegExp(`^${route.split('*').map(escapeRegExp).join('.*')}$`);
  return (name) => pattern.test(name);
}

const matchKeys: ReadonlySet<string> = new Set(['executionId', 'projectId', 'path']);

function validMatch(raw: unknown, route: string): FaultMatch {
  if (!isPlainObject(raw)) throw new HttpProblem(400, 'match must be a JSON object');
  const keys = Object.keys(raw);
  const unknown = keys.filter((key) => !matchKeys.has(key));
  if (unknown.length > 0) {
    throw new HttpProblem(400, `match knows executionId, projectId and path, not ${unknown.join(', ')}`);
  }
  if (keys.length === 0) throw new HttpProblem(400, 'match needs executionId, projectId or path');
  const result: FaultMatch = {};
  for (const key of ['executionId', 'projectId'] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length === 0 || value.includes('/')) {
      throw new HttpProblem(400, `match.${key} must be a non-empty id`);
    }
    // A named route whose path cannot carry the id would make a fault that never fires: refuse it.
    const routes = key === 'executionId' ? executionRoutes : projectRoutes;
    if (!route.includes('*') && !routes.has(route)) {
      throw new HttpProblem(
        400,
        `route "${route}" names no ${key === 'executionId' ? 'execution' : 'project'}`,
      );
    }
    result[key] = value;
  }
  const path = raw.path;
  if (path !== undefined) {
    if (typeof path !== 'string' || !path.startsWith('/')) {
      throw new HttpProblem(400, 'match.path must be a path starting with "/"');
    }
    result.path = path;
  }
  return result;
}

/** Path segments: `/dpc/v1/projects/{projectId}/pipeline-executions/{executionId}/...`. */
const projectSegment = 4;
const executionSegment = 6;

function targetMatcherFor(match: FaultMatch): (target: FaultTarget) => boolean {
  const executionId = match.executionId?.toLowerCase();
  const projectId = match.projectId?.toLowerCase();
  const pathPattern =
    match.path === undefined
      ? null
      : new RegExp(`^${match.path.split('*').map(escapeRegExp).join('[^/]*')}/?$`);
  return (target) => {
    if (pathPattern !== null && !pathPattern.test(target.path)) return false;
    if (executionId === undefined && projectId === undefined) return true;
    const segs = target.path.split('/');
    if (segs[1] !== 'dpc' || segs[2] !== 'v1' || segs[3] !== 'projects') return false;
    if (projectId !== undefined && decodedLower(segs[projectSegment]) !== projectId) return false;
    if (executionId !== undefined) {
      if (segs[5] !== 'pipeline-executions') return false;
      if (decodedLower(segs[executionSegment]) !== executionId) return false;
    }
    return true;
  };
}

function decodedLower(segment: string | undefined): string | undefined {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment).toLowerCase();
  } catch {
    return segment.toLowerCase();
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function toView(fault: ActiveFault): Fault {
  const { matches: _matches, matchesTarget: _matchesTarget, ...view } = fault;
  return view;
}
