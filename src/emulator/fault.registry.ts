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
}

interface ActiveFault extends Fault {
  matches: (route: string) => boolean;
}

const knownRoutes: ReadonlySet<string> = new Set(routeNames);

export class FaultRegistry {
  private faults: ActiveFault[] = [];
  private nextId = 1;

  /** Validates a control-API body and adds the fault; a bad body is a 400. */
  add(raw: unknown): Fault {
    if (!isPlainObject(raw)) throw new HttpProblem(400, 'fault must be a JSON object');
    const { route, status, body, headers, latencyMs, drop, rate, count } = raw;
    if (typeof route !== 'string' || route.length === 0) throw new HttpProblem(400, 'route is required');
    if (!route.includes('*') && !knownRoutes.has(route)) {
      throw new HttpProblem(400, `unknown route "${route}"; known: ${routeNames.join(', ')}`);
    }
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
    };
    if (status !== undefined) fault.status = status;
    if (body !== undefined) fault.body = body;
    if (headers !== undefined) fault.headers = headers as Record<string, string>;
    if (latencyMs !== undefined) fault.latencyMs = latencyMs;
    if (drop !== undefined) fault.drop = drop;
    this.faults.push(fault);
    return toView(fault);
  }

  /**
   * The first fault (in the order added) that matches the route and wins its rate roll; consumes one of
   * its remaining count. Cheap when none are set, which is the benchmark case.
   */
  pick(route: string): Fault | undefined {
    if (this.faults.length === 0) return undefined;
    for (const fault of this.faults) {
      if (!fault.matches(route)) continue;
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function toView(fault: ActiveFault): Fault {
  const { matches: _matches, ...view } = fault;
  return view;
}
