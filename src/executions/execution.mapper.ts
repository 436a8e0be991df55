import type { ExecutionDto, LaunchDto, StepDto, StepResultDto } from './dto/execution-rest.dto';
import type { ExecutionLaunch } from './execution-launch.store';
import { isTerminalStatus, type MaiaExecution, type MaiaStep } from '../maia/maia.types';
import {
  type PipelineExecution,
  type PipelineLaunch,
  type PipelineExecutionStatus,
  type PipelineExecutionStep,
  type PipelineExecutionTrigger,
} from './models/pipeline-execution.model';

function elapsedMs(startedAt: string | null, finishedAt: string | null, nowMs: number | null): number | null {
  if (!startedAt) return null;
  const start = Date.parse(startedAt);
  const end = finishedAt ? Date.parse(finishedAt) : nowMs;
  if (end === null || Number.isNaN(start) || Number.isNaN(end)) return null;
  return Math.max(0, end - start);
}

/** The GraphQL model of an execution (also what the live-status events carry). */
export function toPipelineExecution(execution: MaiaExecution, nowMs: number = Date.now()): PipelineExecution {
  const terminal = isTerminalStatus(execution.status);
  return {
    id: execution.pipelineExecutionId,
    projectId: execution.projectId,
    pipelineName: execution.pipelineName,
    pipelineType: execution.pipelineType,
    environmentName: execution.environmentName,
    status: execution.status as PipelineExecutionStatus,
    rawStatus: execution.rawStatus,
    isTerminal: terminal,
    startedAt: execution.startedAt,
    finishedAt: execution.finishedAt,
    durationMs: elapsedMs(execution.startedAt, execution.finishedAt, terminal ? null : nowMs),
    message: execution.message,
    trigger: execution.trigger as PipelineExecutionTrigger | null,
    scheduleId: execution.scheduleId,
    user: execution.user,
    canCancel: !terminal,
  };
}

export function toPipelineExecutionStep(step: MaiaStep): PipelineExecutionStep {
  return {
    id: step.id,
    name: step.name,
    status: step.status as PipelineExecutionStatus,
    rawStatus: step.rawStatus,
    startedAt: step.startedAt,
    finishedAt: step.finishedAt,
    durationMs: step.finishedAt ? elapsedMs(step.startedAt, step.finishedAt, null) : null,
    message: step.message,
    childPipeline: step.childPipeline ?? null,
  };
}

/**
 * Maia's wire shape of an execution (REST): the object as Maia sent it when there is one (its members,
 * values and timestamps unchanged; the project filled in when Maia's answer left it out), otherwise built
 * from the domain with Maia's own status string.
 */
export function toExecutionDto(execution: MaiaExecution): ExecutionDto {
  if (execution.asSent) {
    const projectId = execution.asSent.projectId ?? execution.projectId;
    return { ...execution.asSent, projectId } as unknown as ExecutionDto;
  }
  return {
    pipelineExecutionId: execution.pipelineExecutionId,
    pipelineName: execution.pipelineName,
    pipelineType: execution.pipelineType,
    projectId: execution.projectId,
    environmentName: execution.environmentName,
    status: execution.rawStatus || execution.status,
    startedAt: execution.startedAt,
    finishedAt: execution.finishedAt,
    message: execution.message,
    trigger: execution.trigger,
    scheduleId: execution.scheduleId,
    user: execution.user,
  };
}

/**
 * Maia's wire shape of a step (REST): as Maia sent it, or else status and times under `result`, optional
 * members left out.
 */
export function toStepDto(step: MaiaStep): StepDto {
  if (step.asSent) return step.asSent as unknown as StepDto;
  const result: StepResultDto = { status: step.rawStatus || step.status };
  if (step.startedAt) result.startedAt = step.startedAt;
  if (step.finishedAt) result.finishedAt = step.finishedAt;
  if (step.message) result.message = step.message;
  return {
    id: step.id,
    name: step.name,
    result,
    ...(step.childPipeline !== undefined && step.childPipeline !== null
      ? { childPipeline: step.childPipeline }
      : {}),
  };
}

/** The GraphQL model of a recorded launch: variables as name/value lists, as executePipeline takes them. */
export function toPipelineLaunch(launch: ExecutionLaunch): PipelineLaunch {
  return {
    pipelineName: launch.pipelineName,
    environmentName: launch.environmentName,
    versionName: launch.versionName ?? null,
    agentId: launch.agentId ?? null,
    executionTag: launch.executionTag ?? null,
    scalarVariables: Object.entries(launch.scalarVariables ?? {}).map(([name, value]) => ({ name, value })),
    gridVariables: Object.entries(launch.gridVariables ?? {}).map(([name, rows]) => ({ name, rows })),
    launchedAt: launch.launchedAt,
    rerunOf: launch.rerunOf ?? null,
  };
}

/** The REST body of a recorded launch: Maia's execute body (variables as objects) and when it was sent. */
export function toLaunchDto(executionId: string, launch: ExecutionLaunch): LaunchDto {
  return {
    pipelineExecutionId: executionId,
    projectId: launch.projectId,
    pipelineName: launch.pipelineName,
    environmentName: launch.environmentName,
    ...(launch.versionName !== undefined ? { versionName: launch.versionName } : {}),
    ...(launch.agentId !== undefined ? { agentId: launch.agentId } : {}),
    ...(launch.executionTag !== undefined ? { executionTag: launch.executionTag } : {}),
    scalarVariables: launch.scalarVariables ?? {},
    gridVariables: launch.gridVariables ?? {},
    launchedAt: launch.launchedAt,
    ...(launch.rerunOf !== undefined ? { rerunOf: launch.rerunOf } : {}),
  };
}
