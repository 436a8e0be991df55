import { startEmulator, type EmulatorOptions, type RunningEmulator } from '../../src/emulator/emulator';

/**
 * A Maia emulator for end-to-end suites, with its control API wrapped in typed helpers.
 *
 *   const maia = await startEmulatorFixture({ timeScale: 0.05 });   // always on a random port
 *   const env = { ...maia.gatewayEnv(), REDIS_KEY_PREFIX: `test:${randomUUID()}:` };
 *   await maia.addFault({ route: 'listProjects', status: 503, count: 2 });
 *   expect(await maia.count('token')).toBe(1);
 *   await maia.reset();                                            // seed state, no faults, counters 0
 *   await maia.close();                                            // in afterAll
 *
 * Counters count every request whose answer was decided (faults, 401s and drops included), by route name
 * (`token`, `listProjects`, `executePipeline`, ... see docs/emulator.md) and by status
 * (`"200"`, `"429"`, `"dropped"`).
 */

export type EmulatorRoute =
  | 'token'
  | 'listProjects'
  | 'listEnvironments'
  | 'listPublishedPipelines'
  | 'executePipeline'
  | 'getExecution'
  | 'getExecutionStatus'
  | 'listSteps'
  | 'cancelExecution'
  | 'listExecutions'
  | 'listArtifacts'
  | 'getArtifactDetails'
  | 'listAgents'
  | 'getAllowlist'
  | 'putAllowlist'
  | 'patchAllowlist';

export interface FaultSpec {
  /** A route name, "*", or a pattern such as "list*". */
  route: EmulatorRoute | `${string}*`;
  /** Answer this status (problem+json unless `body` is given) without performing the action. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait first; alone, then handle normally. */
  latencyMs?: number;
  /** `before`: destroy the socket, no action. `after`: perform the action, then destroy the socket. */
  drop?: 'before' | 'after';
  /** 0..1, default 1. */
  rate?: number;
  /** Only the next N matching requests; default unlimited. */
  count?: number;
  /**
   * Only calls of one execution, one project, or whose path (without the query) fits a pattern with `*`
   * for (part of) one segment; all members given must hold.
   */
  match?: { executionId?: string; projectId?: string; path?: string };
}

export interface EmulatorCounters {
  total: number;
  routes: Record<string, { total: number; byStatus: Record<string, number> }>;
}

export interface EmulatorConfigPatch {
  timeScale?: number;
  tokenLifetimeSeconds?: number;
  rateLimitPerMinute?: number;
  detailsWrapped?: boolean;
}

/** An execution as `/__emulator/executions` lists it: wire shape plus `executionTag` and `variables`. */
export interface EmulatorExecution {
  pipelineExecutionId: string;
  projectId: string;
  pipelineName: string;
  environmentName: string;
  status: string;
  startedAt: string;
  executionTag: string | null;
  [field: string]: unknown;
}

/** A Maia request as `/__emulator/requests` records it. */
export interface EmulatorRequest {
  route: EmulatorRoute | 'unmatched';
  method: string;
  /** Without the query, still URL-encoded. */
  path: string;
  query: Record<string, string[]>;
}

export interface EmulatorFixture {
  readonly emulator: RunningEmulator;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `${url}/dpc`: the Maia API base. */
  readonly apiBaseUrl: string;
  /** `${url}/oauth/dpc/token` */
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Environment variables that point a gateway (`loadConfig`) at this emulator. */
  gatewayEnv(): Record<string, string>;
  counters(): Promise<EmulatorCounters>;
  /** Requests of one route, optionally of one status (`200`, `'dropped'`). */
  count(route: EmulatorRoute, status?: number | 'dropped'): Promise<number>;
  /** Requests over all routes except `token`, optionally of one status. */
  apiCount(status?: number | 'dropped'): Promise<number>;
  resetCounters(): Promise<void>;
  addFault(fault: FaultSpec): Promise<string>;
  removeFault(id: string): Promise<void>;
  clearFaults(): Promise<void>;
  /** Every issued token becomes invalid (401 on `/dpc/v1/**`). */
  revokeTokens(): Promise<void>;
  patchConfig(patch: EmulatorConfigPatch): Promise<Record<string, unknown>>;
  /** Every execution, oldest first (to check for duplicates). */
  executions(): Promise<EmulatorExecution[]>;
  /** The Maia requests received (before faults), oldest first: which parameters reached "Maia". */
  requests(): Promise<EmulatorRequest[]>;
  clearRequests(): Promise<void>;
  /** Back to the seed: state, faults, counters, tokens, rate windows, config. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function startEmulatorFixture(options: EmulatorOptions = {}): Promise<EmulatorFixture> {
  const emulator = await startEmulator({ quiet: true, ...options, port: options.port ?? 0 });
  const control = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${emulator.url}/__emulator/${path}`, {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`emulator control ${method} ${path} answered ${response.status}: ${text}`);
    }
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };
  const counters = async () => (await control('GET', 'counters')) as EmulatorCounters;
  const apiBaseUrl = `${emulator.url}/dpc`;
  const tokenUrl = `${emulator.url}/oauth/dpc/token`;

  return {
    emulator,
    url: emulator.url,
    apiBaseUrl,
    tokenUrl,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    gatewayEnv: () => ({
      MAIA_BASE_URL: apiBaseUrl,
      MAIA_TOKEN_URL: tokenUrl,
      MAIA_CLIENT_ID: emulator.clientId,
      MAIA_CLIENT_SECRET: emulator.clientSecret,
    }),
    counters,
    count: async (route, status) => {
      const entry = (await counters()).routes[route];
      if (!entry) return 0;
      return status === undefined ? entry.total : (entry.byStatus[String(status)] ?? 0);
    },
    apiCount: async (status) => {
      let sum = 0;
      for (const [route, entry] of Object.entries((await counters()).routes)) {
        if (route === 'token') continue;
        sum += status === undefined ? entry.total : (entry.byStatus[String(status)] ?? 0);
      }
      return sum;
    },
    resetCounters: async () => {
      await control('DELETE', 'counters');
    },
    addFault: async (fault) => ((await control('POST', 'faults', fault)) as { id: string }).id,
    removeFault: async (id) => {
      await control('DELETE', `faults/${encodeURIComponent(id)}`);
    },
    clearFaults: async () => {
      await control('DELETE', 'faults');
    },
    revokeTokens: async () => {
      await control('POST', 'tokens/revoke');
    },
    patchConfig: async (patch) => (await control('PATCH', 'config', patch)) as Record<string, unknown>,
    executions: async () =>
      ((await control('GET', 'executions')) as { results: EmulatorExecution[] }).results,
    requests: async () => ((await control('GET', 'requests')) as { results: EmulatorRequest[] }).results,
    clearRequests: async () => {
      await control('DELETE', 'requests');
    },
    reset: async () => {
      await control('POST', 'reset');
    },
    close: () => emulator.close(),
  };
}
