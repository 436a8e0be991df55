import { randomUUID } from 'node:crypto';
import {
  formatTimestamp,
  isTerminal,
  outcomeMessageOf,
  planSteps,
  snapshotOf,
  type ExecutionRecord,
  type ExecutionSnapshot,
  type WireStatus,
} from './execution.model';
import { HttpProblem } from './http.util';
import type { AllowlistEntry, Seed, SeedPipeline, SeedProject } from './seed.loader';

/**
 * The emulator's mutable world: projects, environments, pipelines and agents from the seed, plus every
 * execution. Everything is indexed in Maps at reset so a request costs a few lookups.
 */

export interface EnvironmentState {
  name: string;
  defaultAgentId: string | null;
  /** Pipelines published to this environment, in seed order (disabled ones included: they are published). */
  published: PipelineState[];
  wire: { name: string; defaultAgentId?: string; defaultAgentName?: string };
}

export interface PipelineState {
  seed: SeedPipeline;
  name: string;
  environments: ReadonlySet<string>;
  versions: ReadonlySet<string>;
  latestVersion: string;
  wire: { name: string; publishedTime?: string };
}

export interface ProjectState {
  id: string;
  name: string;
  wire: { id: string; name: string; description?: string };
  environments: Map<string, EnvironmentState>;
  environmentList: EnvironmentState['wire'][];
  pipelines: Map<string, PipelineState>;
  executions: Map<string, ExecutionRecord>;
}

export interface AgentState {
  id: string;
  name: string;
  restricted: boolean;
  allowlist: AllowlistEntry[];
}

/** One published version of an environment (derived from the seed on each request, never stored). */
export interface ArtifactState {
  versionName: string;
  environmentName: string;
  pipelines: PipelineState[];
  wire: { versionName: string; environmentName: string; enabled: boolean };
}

export interface ExecuteCommand {
  project: ProjectState;
  environment: EnvironmentState;
  pipeline: PipelineState;
  versionName: string;
  agent: AgentState | null;
  executionTag: string | null;
  scalarVariables: Record<string, string>;
  gridVariables: Record<string, string[][]>;
  timeScale: number;
  nowMs: number;
}

export interface ExecutionFilter {
  /** Projects the caller may see (null = all); combined with the explicit projectId filter. */
  visible: (rec: ExecutionRecord) => boolean;
  projectId: string | null;
  pipelineNameLower: string | null;
  environmentName: string | null;
  statuses: ReadonlySet<string> | null;
  scheduleId: string | null;
  startedAfterMs: number | null;
  startedBeforeMs: number | null;
}

/** An execution on a restricted runner that does not allow it fails fast, as the real runner refuses it. */
const forbiddenAfterMs = 500;

export class WorldState {
  projects = new Map<string, ProjectState>();
  projectList: ProjectState['wire'][] = [];
  agents = new Map<string, AgentState>();
  executions = new Map<string, ExecutionRecord>();
  /** Every execution by ascending start time; live runs are appended, so an index stays valid for paging. */
  ordered: ExecutionRecord[] = [];
  /** Bumped on reset so pagination tokens of an older world are rejected. */
  generation = 0;
  /** Latest execution per project/environment/tag: the only one that can still be unfinished. */
  private readonly tagIndex = new Map<string, ExecutionRecord>();
  private seq = 0;

  constructor(private readonly seed: Seed) {}

  reset(nowMs: number): void {
    this.generation++;
    this.projects.clear();
    this.projectList = [];
    this.agents.clear();
    this.executions.clear();
    this.ordered = [];
    this.tagIndex.clear();
    for (const agent of this.seed.agents) {
      this.agents.set(agent.id, { ...agent, allowlist: agent.allowlist.map((e) => ({ ...e })) });
    }
    for (const project of this.seed.projects) this.addProject(project);
    const history = [...this.seed.history].sort((a, b) => a.startedAtOffsetMs - b.startedAtOffsetMs);
    for (const entry of history) {
      const project = this.projects.get(entry.projectId);
      if (!project) throw new Error(`seed: history ${entry.pipelineExecutionId} names an unknown project`);
      const pipeline = project.pipelines.get(entry.pipelineName);
      // Whole seconds, as history entries come back without milliseconds.
      const startedAtMs = Math.floor((nowMs + entry.startedAtOffsetMs) / 1000) * 1000;
      const plan = pipeline
        ? planSteps(pipeline.seed, entry.durationMs / Math.max(1, totalDurationMs(pipeline.seed)))
        : null;
      const rec = this.newRecord({
        id: entry.pipelineExecutionId,
        project,
        pipelineName: entry.pipelineName,
        pipelineType: pipeline?.seed.type ?? 'ORCHESTRATION',
        environmentName: entry.environmentName,
        trigger: entry.trigger,
        scheduleId: entry.scheduleId,
        user: entry.user,
        startedAtMs,
        wholeSeconds: true,
      });
      rec.steps = entry.status === 'FORBIDDEN' ? [] : (plan?.steps ?? []);
      rec.runDurationMs = entry.durationMs;
      rec.outcome = entry.status as WireStatus;
      rec.outcomeMessage = entry.message;
      this.insert(rec);
    }
  }

  private addProject(seed: SeedProject): void {
    const wire: ProjectState['wire'] = { id: seed.id, name: seed.name };
    if (seed.description !== null) wire.description = seed.description;
    const project: ProjectState = {
      id: seed.id,
      name: seed.name,
      wire,
      environments: new Map(),
      environmentList: [],
      pipelines: new Map(),
      executions: new Map(),
    };
    for (const env of seed.environments) {
      const envWire: EnvironmentState['wire'] = { name: env.name };
      if (env.defaultAgentId) {
        envWire.defaultAgentId = env.defaultAgentId;
        envWire.defaultAgentName = this.agents.get(env.defaultAgentId)?.name;
      }
      const state: EnvironmentState = {
        name: env.name,
        defaultAgentId: env.defaultAgentId,
        published: [],
        wire: envWire,
      };
      project.environments.set(env.name, state);
      project.environmentList.push(envWire);
    }
    for (const pipeline of seed.pipelines) {
      const wirePipeline: PipelineState['wire'] = { name: pipeline.name };
      if (pipeline.publishedTime) wirePipeline.publishedTime = pipeline.publishedTime;
      const state: PipelineState = {
        seed: pipeline,
        name: pipeline.name,
        environments: new Set(pipeline.environments),
        versions: new Set(pipeline.versions),
        latestVersion: pipeline.versions[pipeline.versions.length - 1],
        wire: wirePipeline,
      };
      project.pipelines.set(pipeline.name, state);
      for (const envName of pipeline.environments) project.environments.get(envName)?.published.push(state);
    }
    this.projects.set(project.id, project);
    this.projectList.push(wire);
  }

  /**
   * The artifacts (published versions) of one environment, newest version name first: every version of a
   * pipeline published there is an artifact of that environment holding those of its pipelines that carry
   * that version (the seed records versions per pipeline; Maia builds one artifact per publication).
   */
  artifactsOf(environment: EnvironmentState): ArtifactState[] {
    const byVersion = new Map<string, PipelineState[]>();
    for (const pipeline of environment.published) {
      for (const version of pipeline.versions) {
        const pipelines = byVersion.get(version) ?? [];
        pipelines.push(pipeline);
        byVersion.set(version, pipelines);
      }
    }
    return [...byVersion.entries()]
      .sort(([a], [b]) => b.localeCompare(a, 'en', { numeric: true }))
      .map(([versionName, pipelines]) => ({
        versionName,
        environmentName: environment.name,
        pipelines,
        wire: { versionName, environmentName: environment.name, enabled: true },
      }));
  }

  /** Whether `agent` may run work of this project/environment (unrestricted agents run everything). */
  permits(agent: AgentState | null, projectId: string, environmentName: string): boolean {
    if (!agent || !agent.restricted) return true;
    return agent.allowlist.some((e) => e.projectId === projectId && e.environmentName === environmentName);
  }

  /** The unfinished execution holding this tag in the project/environment, if any. */
  runningWithTag(
    projectId: string,
    environmentName: string,
    tag: string,
    nowMs: number,
  ): ExecutionRecord | undefined {
    const rec = this.tagIndex.get(tagKey(projectId, environmentName, tag));
    return rec && !isTerminal(snapshotOf(rec, nowMs).status) ? rec : undefined;
  }

  execute(cmd: ExecuteCommand): ExecutionRecord {
    const last = this.ordered[this.ordered.length - 1];
    // Never start before the newest run, so `ordered` stays sorted even if the wall clock steps back.
    const startedAtMs = last ? Math.max(cmd.nowMs, last.startedAtMs) : cmd.nowMs;
    const rec = this.newRecord({
      id: randomUUID(),
      project: cmd.project,
      pipelineName: cmd.pipeline.name,
      pipelineType: cmd.pipeline.seed.type,
      environmentName: cmd.environment.name,
      trigger: 'API',
      scheduleId: null,
      user: null,
      startedAtMs,
      wholeSeconds: false,
    });
    rec.executionTag = cmd.executionTag;
    rec.versionName = cmd.versionName;
    rec.agentId = cmd.agent?.id ?? null;
    rec.scalarVariables = cmd.scalarVariables;
    rec.gridVariables = cmd.gridVariables;
    rec.cancelGraceMs = cmd.pipeline.seed.cancelGraceMs * cmd.timeScale;
    if (this.permits(cmd.agent, cmd.project.id, cmd.environment.name)) {
      const plan = planSteps(cmd.pipeline.seed, cmd.timeScale);
      rec.steps = plan.steps;
      rec.runDurationMs = plan.runDurationMs;
      rec.outcome = cmd.pipeline.seed.outcome;
      rec.outcomeMessage = outcomeMessageOf(cmd.pipeline.seed);
    } else {
      rec.steps = [];
      rec.runDurationMs = forbiddenAfterMs * cmd.timeScale;
      rec.outcome = 'FORBIDDEN';
      rec.outcomeMessage =
        `The Maia runner "${cmd.agent?.name ?? ''}" is restricted and its allow list does not permit ` +
        `project ${cmd.project.id} / environment "${cmd.environment.name}"`;
    }
    this.insert(rec);
    if (cmd.executionTag !== null)
      this.tagIndex.set(tagKey(cmd.project.id, cmd.environment.name, cmd.executionTag), rec);
    return rec;
  }

  /** Graceful or forced cancel; a finished run is a 409. Returns the snapshot after the request. */
  cancel(rec: ExecutionRecord, force: boolean, nowMs: number): ExecutionSnapshot {
    const snap = snapshotOf(rec, nowMs);
    if (isTerminal(snap.status)) {
      throw new HttpProblem(
        409,
        `Pipeline execution ${rec.id} has already finished with status ${snap.status}`,
      );
    }
    if (!rec.cancel) {
      rec.cancel = { atMs: nowMs, force };
    } else if (force && !rec.cancel.force) {
      // A forced cancel during a graceful one cuts the grace short: the run ends now, its step progress
      // frozen where the first cancel stopped it.
      rec.cancelGraceMs = nowMs - rec.cancel.atMs;
    }
    return snapshotOf(rec, nowMs);
  }

  /**
   * Newest first, starting at `fromIndex` (an index into `ordered`, counting down). Returns the page and
   * the index of the next match, or null when this was the last page.
   */
  list(
    filter: ExecutionFilter,
    fromIndex: number,
    limit: number,
    nowMs: number,
  ): { results: Array<{ rec: ExecutionRecord; snap: ExecutionSnapshot }>; nextIndex: number | null } {
    const results: Array<{ rec: ExecutionRecord; snap: ExecutionSnapshot }> = [];
    for (let i = Math.min(fromIndex, this.ordered.length - 1); i >= 0; i--) {
      const rec = this.ordered[i];
      if (filter.projectId !== null && rec.projectId !== filter.projectId) continue;
      if (filter.environmentName !== null && rec.environmentName !== filter.environmentName) continue;
      if (filter.scheduleId !== null && rec.scheduleId !== filter.scheduleId) continue;
      if (filter.startedAfterMs !== null && rec.startedAtMs < filter.startedAfterMs) continue;
      if (filter.startedBeforeMs !== null && rec.startedAtMs > filter.startedBeforeMs) continue;
      if (
        filter.pipelineNameLower !== null &&
        !rec.pipelineName.toLowerCase().includes(filter.pipelineNameLower)
      )
        continue;
      if (!filter.visible(rec)) continue;
      const snap = snapshotOf(rec, nowMs);
      if (filter.statuses !== null && !filter.statuses.has(snap.status)) continue;
      if (results.length === limit) return { results, nextIndex: i };
      results.push({ rec, snap });
    }
    return { results, nextIndex: null };
  }

  private newRecord(init: {
    id: string;
    project: ProjectState;
    pipelineName: string;
    pipelineType: string;
    environmentName: string;
    trigger: string;
    scheduleId: string | null;
    user: string | null;
    startedAtMs: number;
    wholeSeconds: boolean;
  }): ExecutionRecord {
    return {
      id: init.id,
      seq: this.seq++,
      projectId: init.project.id,
      pipelineName: init.pipelineName,
      pipelineType: init.pipelineType,
      environmentName: init.environmentName,
      trigger: init.trigger,
      scheduleId: init.scheduleId,
      user: init.user,
      executionTag: null,
      versionName: null,
      agentId: null,
      scalarVariables: {},
      gridVariables: {},
      startedAtMs: init.startedAtMs,
      startedAtIso: formatTimestamp(init.startedAtMs, init.wholeSeconds),
      wholeSeconds: init.wholeSeconds,
      steps: [],
      runDurationMs: 0,
      outcome: 'SUCCESS',
      outcomeMessage: null,
      cancelGraceMs: 0,
      cancel: null,
      final: null,
    };
  }

  private insert(rec: ExecutionRecord): void {
    this.executions.set(rec.id, rec);
    this.projects.get(rec.projectId)?.executions.set(rec.id, rec);
    this.ordered.push(rec);
  }
}

function tagKey(projectId: string, environmentName: string, tag: string): string {
  return `${projectId}\u0000${environmentName}\u0000${tag}`;
}

function totalDurationMs(pipeline: SeedPipeline): number {
  return pipeline.steps.reduce((sum, s) => sum + s.durationMs, 0);
}
