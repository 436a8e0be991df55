import { readFileSync } from 'node:fs';
// Imported (not read from disk) so that `tsc` copies the seed next to the compiled emulator in dist/.
import defaultSeedJson from './seed.json';

/** The emulator's deterministic world, as read from seed.json. Durations are milliseconds at timeScale 1. */
export interface Seed {
  clients: SeedClient[];
  agents: SeedAgent[];
  projects: SeedProject[];
  history: SeedHistoryEntry[];
}

export interface SeedClient {
  clientId: string;
  clientSecret: string;
  /** Absent: the client may see and run everything. Present: only these projects (and environments). */
  roles: SeedRole[] | null;
}

export interface SeedRole {
  projectId: string;
  /** Absent: every environment of the project. */
  environments: string[] | null;
}

export interface AllowlistEntry {
  projectId: string;
  environmentName: string;
}

export interface SeedAgent {
  id: string;
  name: string;
  restricted: boolean;
  allowlist: AllowlistEntry[];
}

export interface SeedEnvironment {
  name: string;
  defaultAgentId: string | null;
}

export type SeedStepStatus = 'SUCCESS' | 'FAILED' | 'SKIPPED';

export interface SeedStep {
  name: string;
  durationMs: number;
  status: SeedStepStatus;
  message: string | null;
  /** The real API sometimes omits a terminal step's timestamps; this lets tolerant clients be exercised. */
  omitTimestamps: boolean;
  childPipeline: unknown;
}

export interface SeedPipeline {
  name: string;
  type: string;
  environments: string[];
  publishedTime: string | null;
  versions: string[];
  disabled: boolean;
  outcome: 'SUCCESS' | 'FAILED';
  cancelGraceMs: number;
  steps: SeedStep[];
}

export interface SeedProject {
  id: string;
  name: string;
  description: string | null;
  environments: SeedEnvironment[];
  pipelines: SeedPipeline[];
}

export interface SeedHistoryEntry {
  pipelineExecutionId: string;
  projectId: string;
  pipelineName: string;
  environmentName: string;
  status: string;
  trigger: string;
  scheduleId: string | null;
  user: string | null;
  startedAtOffsetMs: number;
  durationMs: number;
  message: string | null;
}

const defaultCancelGraceMs = 1000;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Reads and validates a seed; without a path, the seed.json shipped beside this module. */
export function loadSeed(seedPath?: string): Seed {
  const raw: unknown = seedPath ? JSON.parse(readFileSync(seedPath, 'utf8')) : defaultSeedJson;
  return parseSeed(raw);
}

/** Validates a seed up front so a typo in seed.json fails at start with the path of the bad value. */
export function parseSeed(raw: unknown): Seed {
  const root = obj(raw, 'seed');
  const clients = arr(root.clients, 'clients').map((c, i) => parseClient(c, `clients[${i}]`));
  if (clients.length === 0) throw new Error('seed: at least one client is required');
  const agents = arr(root.agents ?? [], 'agents').map((a, i) => parseAgent(a, `agents[${i}]`));
  const agentIds = new Set(agents.map((a) => a.id));
  const projects = arr(root.projects, 'projects').map((p, i) => parseProject(p, `projects[${i}]`, agentIds));
  const history = arr(root.history ?? [], 'history').map((h, i) => parseHistory(h, `history[${i}]`));
  return { clients, agents, projects, history };
}

function parseClient(raw: unknown, at: string): SeedClient {
  const c = obj(raw, at);
  const roles =
    c.roles === undefined
      ? null
      : arr(c.roles, `${at}.roles`).map((r, i) => {
          const role = obj(r, `${at}.roles[${i}]`);
          return {
            projectId: uuid(role.projectId, `${at}.roles[${i}].projectId`),
            environments:
              role.environments === undefined
                ? null
                : arr(role.environments, `${at}.roles[${i}].environments`).map((e, j) =>
                    str(e, `${at}.roles[${i}].environments[${j}]`),
                  ),
          };
        });
  return {
    clientId: str(c.clientId, `${at}.clientId`),
    clientSecret: str(c.clientSecret, `${at}.clientSecret`),
    roles,
  };
}

function parseAgent(raw: unknown, at: string): SeedAgent {
  const a = obj(raw, at);
  return {
    id: uuid(a.id, `${at}.id`),
    name: str(a.name, `${at}.name`),
    restricted: a.restricted === true,
    allowlist: arr(a.allowlist ?? [], `${at}.allowlist`).map((e, i) => {
      const entry = obj(e, `${at}.allowlist[${i}]`);
      return {
        projectId: uuid(entry.projectId, `${at}.allowlist[${i}].projectId`),
        environmentName: str(entry.environmentName, `${at}.allowlist[${i}].environmentName`),
      };
    }),
  };
}

function parseProject(raw: unknown, at: string, agentIds: Set<string>): SeedProject {
  const p = obj(raw, at);
  const environments = arr(p.environments, `${at}.environments`).map((e, i) => {
    const env = obj(e, `${at}.environments[${i}]`);
    const defaultAgentId =
      env.defaultAgentId === undefined
        ? null
        : uuid(env.defaultAgentId, `${at}.environments[${i}].defaultAgentId`);
    if (defaultAgentId && !agentIds.has(defaultAgentId)) {
      throw new Error(`seed: ${at}.environments[${i}].defaultAgentId names no agent`);
    }
    return { name: str(env.name, `${at}.environments[${i}].name`), defaultAgentId };
  });
  const envNames = new Set(environments.map((e) => e.name));
  const pipelines = arr(p.pipelines ?? [], `${at}.pipelines`).map((pl, i) =>
    parsePipeline(pl, `${at}.pipelines[${i}]`, envNames),
  );
  return {
    id: uuid(p.id, `${at}.id`),
    name: str(p.name, `${at}.name`),
    description: p.description === undefined ? null : str(p.description, `${at}.description`),
    environments,
    pipelines,
  };
}

function parsePipeline(raw: unknown, at: string, envNames: Set<string>): SeedPipeline {
  const p = obj(raw, at);
  const environments = arr(p.environments, `${at}.environments`).map((e, i) =>
    str(e, `${at}.environments[${i}]`),
  );
  for (const env of environments) {
    if (!envNames.has(env)) throw new Error(`seed: ${at}.environments names an unknown environment "${env}"`);
  }
  const versions = arr(p.versions, `${at}.versions`).map((v, i) => str(v, `${at}.versions[${i}]`));
  if (versions.length === 0) throw new Error(`seed: ${at}.versions needs at least one version`);
  const outcome = p.outcome ?? 'SUCCESS';
  if (outcome !== 'SUCCESS' && outcome !== 'FAILED')
    throw new Error(`seed: ${at}.outcome must be SUCCESS or FAILED`);
  const steps = arr(p.steps, `${at}.steps`).map((s, i) => parseStep(s, `${at}.steps[${i}]`));
  if (steps.length === 0) throw new Error(`seed: ${at}.steps needs at least one step`);
  if (outcome === 'FAILED' && !steps.some((s) => s.status === 'FAILED')) {
    throw new Error(`seed: ${at} fails but none of its steps has status FAILED`);
  }
  return {
    name: str(p.name, `${at}.name`),
    type: p.type === undefined ? 'ORCHESTRATION' : str(p.type, `${at}.type`),
    environments,
    publishedTime: p.publishedTime === undefined ? null : str(p.publishedTime, `${at}.publishedTime`),
    versions,
    disabled: p.disabled === true,
    outcome,
    cancelGraceMs:
      p.cancelGraceMs === undefined ? defaultCancelGraceMs : num(p.cancelGraceMs, `${at}.cancelGraceMs`),
    steps,
  };
}

function parseStep(raw: unknown, at: string): SeedStep {
  const s = obj(raw, at);
  const status = s.status ?? 'SUCCESS';
  if (status !== 'SUCCESS' && status !== 'FAILED' && status !== 'SKIPPED') {
    throw new Error(`seed: ${at}.status must be SUCCESS, FAILED or SKIPPED`);
  }
  return {
    name: str(s.name, `${at}.name`),
    durationMs: num(s.durationMs, `${at}.durationMs`),
    status,
    message: s.message === undefined ? null : str(s.message, `${at}.message`),
    omitTimestamps: s.omitTimestamps === true,
    childPipeline: s.childPipeline ?? null,
  };
}

function parseHistory(raw: unknown, at: string): SeedHistoryEntry {
  const h = obj(raw, at);
  const startedAtOffsetMs = num(h.startedAtOffsetMs, `${at}.startedAtOffsetMs`, -Number.MAX_SAFE_INTEGER);
  // Live runs are appended in start order; a history run in the future would break that ordering.
  if (startedAtOffsetMs > 0) throw new Error(`seed: ${at}.startedAtOffsetMs must be <= 0`);
  return {
    pipelineExecutionId: uuid(h.pipelineExecutionId, `${at}.pipelineExecutionId`),
    projectId: uuid(h.projectId, `${at}.projectId`),
    pipelineName: str(h.pipelineName, `${at}.pipelineName`),
    environmentName: str(h.environmentName, `${at}.environmentName`),
    status: str(h.status, `${at}.status`),
    trigger: h.trigger === undefined ? 'UNKNOWN' : str(h.trigger, `${at}.trigger`),
    scheduleId:
      h.scheduleId === undefined || h.scheduleId === null ? null : str(h.scheduleId, `${at}.scheduleId`),
    user: h.user === undefined || h.user === null ? null : str(h.user, `${at}.user`),
    startedAtOffsetMs,
    durationMs: num(h.durationMs, `${at}.durationMs`),
    message: h.message === undefined || h.message === null ? null : str(h.message, `${at}.message`),
  };
}

function obj(v: unknown, at: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new Error(`seed: ${at} must be an object`);
  return v as Record<string, unknown>;
}

function arr(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`seed: ${at} must be an array`);
  return v as unknown[];
}

function str(v: unknown, at: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new Error(`seed: ${at} must be a non-empty string`);
  return v;
}

function num(v: unknown, at: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
    throw new Error(`seed: ${at} must be a number >= ${min}`);
  return v;
}

function uuid(v: unknown, at: string): string {
  const s = str(v, at);
  if (!uuidPattern.test(s)) throw new Error(`seed: ${at} must be a UUID`);
  return s.toLowerCase();
}
