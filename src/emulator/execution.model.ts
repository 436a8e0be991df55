import { randomUUID } from 'node:crypto';
import type { SeedPipeline, SeedStepStatus } from './seed.loader';

/**
 * An execution is a script fixed at creation (start time, scaled step offsets, outcome) plus an optional
 * cancel request. Its status is derived from the clock at read time, so no timer drives it: nothing to
 * clean up, and the same clock reading always gives the same answer.
 */

export const wireStatuses = [
  'RUNNING',
  'CANCELLING',
  'SUCCESS',
  'FAILED',
  'CANCELLED',
  'SKIPPED',
  'FORBIDDEN',
  'UNKNOWN',
] as const;
export type WireStatus = (typeof wireStatuses)[number];
const terminalStatuses: ReadonlySet<string> = new Set([
  'SUCCESS',
  'FAILED',
  'CANCELLED',
  'SKIPPED',
  'FORBIDDEN',
]);

export function isTerminal(status: string): boolean {
  return terminalStatuses.has(status);
}

export interface PlannedStep {
  id: string;
  name: string;
  startOffsetMs: number;
  endOffsetMs: number;
  status: SeedStepStatus;
  message: string | null;
  omitTimestamps: boolean;
  childPipeline: unknown;
}

export interface CancelRequest {
  atMs: number;
  force: boolean;
}

export interface ExecutionRecord {
  id: string;
  /** Creation order; ties on startedAtMs are broken by it. */
  seq: number;
  projectId: string;
  pipelineName: string;
  pipelineType: string;
  environmentName: string;
  trigger: string;
  scheduleId: string | null;
  user: string | null;
  executionTag: string | null;
  versionName: string | null;
  agentId: string | null;
  scalarVariables: Record<string, string>;
  gridVariables: Record<string, string[][]>;
  startedAtMs: number;
  startedAtIso: string;
  /** History entries are written without milliseconds, as some live responses are. */
  wholeSeconds: boolean;
  steps: PlannedStep[];
  /** Scaled time from start to the natural end (outcome reached). */
  runDurationMs: number;
  outcome: WireStatus;
  outcomeMessage: string | null;
  cancelGraceMs: number;
  cancel: CancelRequest | null;
  /** Set once the derived status is terminal: it can no longer change. */
  final: ExecutionSnapshot | null;
}

export interface ExecutionSnapshot {
  status: WireStatus;
  finishedAtMs: number | null;
  finishedAtIso: string | null;
  message: string | null;
}

export interface WireExecution {
  pipelineExecutionId: string;
  pipelineName: string;
  pipelineType: string;
  projectId?: string;
  environmentName: string;
  status: WireStatus;
  startedAt: string;
  finishedAt: string | null;
  message: string | null;
  trigger: string;
  scheduleId: string | null;
  user: string | null;
}

export interface WireStep {
  id: string;
  name: string;
  result: { status: WireStatus; startedAt?: string; finishedAt?: string; message?: string };
  childPipeline?: unknown;
}

export function formatTimestamp(ms: number, wholeSeconds: boolean): string {
  const iso = new Date(ms).toISOString();
  return wholeSeconds ? `${iso.slice(0, 19)}Z` : iso;
}

/** Lays the pipeline's steps out on a timeline, every duration multiplied by `scale`. */
export function planSteps(
  pipeline: SeedPipeline,
  scale: number,
): { steps: PlannedStep[]; runDurationMs: number } {
  let offsetMs = 0;
  const steps = pipeline.steps.map((step) => {
    const startOffsetMs = offsetMs;
    offsetMs += step.durationMs * scale;
    return {
      id: randomUUID(),
      name: step.name,
      startOffsetMs,
      endOffsetMs: offsetMs,
      status: step.status,
      message: step.message,
      omitTimestamps: step.omitTimestamps,
      childPipeline: step.childPipeline,
    };
  });
  return { steps, runDurationMs: offsetMs };
}

/** The message an execution ends with: the failing step's, or the last step message on success. */
export function outcomeMessageOf(pipeline: SeedPipeline): string | null {
  if (pipeline.outcome === 'FAILED') {
    const failed = pipeline.steps.find((s) => s.status === 'FAILED');
    return failed?.message ?? `"${failed?.name ?? 'Unknown'}": Failed`;
  }
  for (let i = pipeline.steps.length - 1; i >= 0; i--) {
    const message = pipeline.steps[i].message;
    if (message) return message;
  }
  return null;
}

/** The status of `rec` at `nowMs`. Terminal snapshots are memoised on the record. */
export function snapshotOf(rec: ExecutionRecord, nowMs: number): ExecutionSnapshot {
  if (rec.final) return rec.final;
  const cancel = rec.cancel;
  if (cancel) {
    const endMs = cancel.force ? cancel.atMs : cancel.atMs + rec.cancelGraceMs;
    if (nowMs >= endMs) {
      return finalize(
        rec,
        'CANCELLED',
        endMs,
        cancel.force ? 'Execution was force-cancelled' : 'Execution was cancelled',
      );
    }
    return {
      status: 'CANCELLING',
      finishedAtMs: null,
      finishedAtIso: null,
      message: progressMessage(rec, cancel.atMs - rec.startedAtMs),
    };
  }
  const elapsedMs = nowMs - rec.startedAtMs;
  if (elapsedMs >= rec.runDurationMs) {
    return finalize(rec, rec.outcome, rec.startedAtMs + rec.runDurationMs, rec.outcomeMessage);
  }
  return {
    status: 'RUNNING',
    finishedAtMs: null,
    finishedAtIso: null,
    message: progressMessage(rec, elapsedMs),
  };
}

function finalize(
  rec: ExecutionRecord,
  status: WireStatus,
  finishedAtMs: number,
  message: string | null,
): ExecutionSnapshot {
  const snapshot = {
    status,
    finishedAtMs,
    finishedAtIso: formatTimestamp(finishedAtMs, rec.wholeSeconds),
    message,
  };
  if (isTerminal(status)) rec.final = snapshot;
  return snapshot;
}

/** While running, the message of the last finished step that has one (as Maia shows `"X": Success`). */
function progressMessage(rec: ExecutionRecord, progressMs: number): string | null {
  let message: string | null = null;
  for (const step of rec.steps) {
    if (step.endOffsetMs > progressMs) break;
    if (step.message) message = step.message;
  }
  return message;
}

export function toWireExecution(
  rec: ExecutionRecord,
  snap: ExecutionSnapshot,
  withProjectId: boolean,
): WireExecution {
  // Field order follows the documented example; the wrapped variant omits projectId as live responses do.
  return {
    pipelineExecutionId: rec.id,
    pipelineName: rec.pipelineName,
    pipelineType: rec.pipelineType,
    ...(withProjectId ? { projectId: rec.projectId } : {}),
    environmentName: rec.environmentName,
    status: snap.status,
    startedAt: rec.startedAtIso,
    finishedAt: snap.finishedAtIso,
    message: snap.message,
    trigger: rec.trigger,
    scheduleId: rec.scheduleId,
    user: rec.user,
  };
}

/**
 * The steps that have started by `nowMs`, in order. Once a cancel is requested no further step starts;
 * the step that was running stays RUNNING while CANCELLING and ends CANCELLED.
 */
export function stepsOf(rec: ExecutionRecord, snap: ExecutionSnapshot, nowMs: number): WireStep[] {
  const elapsedMs = nowMs - rec.startedAtMs;
  const progressMs = rec.cancel ? Math.min(elapsedMs, rec.cancel.atMs - rec.startedAtMs) : elapsedMs;
  const out: WireStep[] = [];
  for (const step of rec.steps) {
    if (step.startOffsetMs > progressMs) break;
    const startedAt = formatTimestamp(rec.startedAtMs + step.startOffsetMs, rec.wholeSeconds);
    let result: WireStep['result'];
    if (step.endOffsetMs <= progressMs) {
      result = step.omitTimestamps
        ? { status: step.status }
        : {
            status: step.status,
            startedAt,
            finishedAt: formatTimestamp(rec.startedAtMs + step.endOffsetMs, rec.wholeSeconds),
          };
      if (step.message) result.message = step.message;
    } else if (snap.status === 'CANCELLED') {
      result = {
        status: 'CANCELLED',
        startedAt,
        finishedAt: snap.finishedAtIso ?? startedAt,
        message: 'Cancelled',
      };
    } else {
      result = { status: 'RUNNING', startedAt };
    }
    const wire: WireStep = { id: step.id, name: step.name, result };
    if (step.childPipeline !== null) wire.childPipeline = step.childPipeline;
    out.push(wire);
  }
  return out;
}
