import { z } from 'zod';
import {
  executionTriggers,
  toExecutionStatus,
  type ExecutionListPage,
  type ExecutionTrigger,
  type MaiaAgent,
  type MaiaArtifact,
  type MaiaArtifactDetails,
  type MaiaEnvironment,
  type MaiaExecution,
  type MaiaExecutionStatus,
  type MaiaObject,
  type MaiaProject,
  type MaiaPublishedPipeline,
  type MaiaStep,
  type Page,
} from './maia.types';
import { badResponseError } from './maia-errors';

/**
 * Maia's wire shapes and the tolerant parsing that turns them into domain types. This is the only file
 * that knows them. Tolerated: flat or `{result}`-wrapped details, a missing `projectId` (filled from the
 * path), timestamps with or without milliseconds (normalised to ISO with ms; `asSent` keeps each object as
 * Maia wrote it, for the REST face), unknown statuses (kept as
 * UNKNOWN with the raw string), unknown triggers, and the docs' `size: 0, total: 0` page slip.
 * Anything without the fields a caller cannot do without (ids, names) is UPSTREAM_BAD_RESPONSE.
 */

/** Any value → a trimmed-or-not string, or null when absent or not a string. */
export const looseString = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === 'string' ? v : null));
export const requiredString = z.string().min(1);
const looseNumber = z
  .unknown()
  .optional()
  .transform((v) =>
    typeof v === 'number' && Number.isFinite(v)
      ? v
      : typeof v === 'string' && /^\d+$/.test(v)
        ? Number(v)
        : null,
  );

/**
 * Answers of `normaliseTimestamp` by input. The same run's times come back in every details call and
 * every listing the watch makes while it runs (about 25 per launch in the execute bench), and parsing and
 * formatting one costs about a microsecond against a few dozen nanoseconds for a lookup. Emptied when
 * full; only strings of a timestamp's length are kept.
 */
const normalisedTimestamps = new Map<string, string | null>();
const NORMALISED_TIMESTAMPS_KEPT = 4096;
const TIMESTAMP_MAX_KEPT_LENGTH = 64;

/** ISO-8601 with or without milliseconds or offset → UTC ISO with milliseconds; unreadable → null. */
export function normaliseTimestamp(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const known = normalisedTimestamps.get(value);
  if (known !== undefined) return known;
  const normalised = parseTimestamp(value);
  if (value.length <= TIMESTAMP_MAX_KEPT_LENGTH) {
    if (normalisedTimestamps.size >= NORMALISED_TIMESTAMPS_KEPT) normalisedTimestamps.clear();
    normalisedTimestamps.set(value, normalised);
  }
  return normalised;
}

function parseTimestamp(value: string): string | null {
  if (value.trim() === '') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

const timestamp = z.unknown().optional().transform(normaliseTimestamp);

function toTrigger(raw: unknown): ExecutionTrigger | null {
  if (typeof raw !== 'string' || raw === '') return null;
  return (executionTriggers as readonly string[]).includes(raw) ? (raw as ExecutionTrigger) : 'UNKNOWN';
}

const wireProject = z.object({ id: requiredString, name: z.string(), description: looseString });
const wireEnvironment = z.object({
  name: requiredString,
  defaultAgentId: looseString,
  defaultAgentName: looseString,
});
const wirePublishedPipeline = z.object({ name: requiredString, publishedTime: timestamp });

const looseBoolean = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === 'boolean' ? v : null));

// Artifact and agent shapes are chosen (docs/maia-api.md, "Published versions and runners"): the
// alternatives named there (`id`, `agentName`, an unwrapped details object) are read as well.
const wireArtifact = z.object({
  versionName: z.union([requiredString, z.number().transform(String)]),
  environmentName: looseString,
  createdAt: timestamp,
  enabled: looseBoolean,
});
const wireArtifactDetails = z.object({
  artifactDetails: z.unknown().optional(),
  pipelines: z.array(z.unknown()).nullish(),
});
const wireAgent = z.object({
  agentId: looseString,
  id: looseString,
  name: looseString,
  agentName: looseString,
  restricted: looseBoolean,
  status: looseString,
});

/**
 * An execution as Maia sends it (flat; details may come `{result}`-wrapped, see `parseExecutionDetails`):
 * `pipelineExecutionId` required (a non-empty string); `projectId`, names, `message`, `scheduleId`, `user`
 * and `executionTag` (not in the contract; used by reconciliation when an upstream or the emulator echoes
 * it) strings or null; `startedAt`, `finishedAt` normalised timestamps or null; `status` and `trigger` any
 * value. Read by hand, not by a zod schema: executions are what the watch reads most (every details call,
 * every item of the board's listings), and zod's per-field results were a tenth of the gateway's
 * allocations under the execute load (ADR 0046). `maia-wire.executions.spec.ts` checks this reader
 * against the zod schema it replaces, input by input.
 */
function readExecution(raw: unknown, projectIdFromPath?: string): ParsedExecution {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw badResponseError('Maia sent an unreadable execution');
  }
  const wire = raw as Record<string, unknown>;
  const pipelineExecutionId = wire.pipelineExecutionId;
  if (typeof pipelineExecutionId !== 'string' || pipelineExecutionId.length === 0) {
    throw badResponseError('Maia sent an unreadable execution');
  }
  const projectId = stringOrNull(wire.projectId) ?? projectIdFromPath;
  if (!projectId) throw badResponseError('Maia sent an execution without its project');
  const rawStatus = rawStatusOf(wire.status);
  return {
    pipelineExecutionId,
    projectId,
    pipelineName: stringOrNull(wire.pipelineName),
    pipelineType: stringOrNull(wire.pipelineType),
    environmentName: stringOrNull(wire.environmentName),
    status: toExecutionStatus(rawStatus),
    rawStatus,
    startedAt: normaliseTimestamp(wire.startedAt),
    finishedAt: normaliseTimestamp(wire.finishedAt),
    message: stringOrNull(wire.message),
    trigger: toTrigger(wire.trigger),
    scheduleId: stringOrNull(wire.scheduleId),
    user: stringOrNull(wire.user),
    executionTag: stringOrNull(wire.executionTag),
    asSent: raw as MaiaObject,
  };
}

/** `looseString` without zod: a string as is, anything else null. */
function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

const wireStep = z.object({
  id: z.union([requiredString, z.number().transform(String)]),
  name: z.string(),
  result: z
    .object({
      status: z.unknown().optional(),
      startedAt: timestamp,
      finishedAt: timestamp,
      message: looseString,
    })
    .nullish(),
  // Some shapes put the step's status at the top level; accepted when `result` is missing.
  status: z.unknown().optional(),
  startedAt: timestamp,
  finishedAt: timestamp,
  message: looseString,
  childPipeline: z.unknown().optional(),
});

/** The object as Maia sent it, when it is one. */
function asSentOf(raw: unknown): MaiaObject | undefined {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as MaiaObject) : undefined;
}

function parseOrThrow<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw badResponseError(`Maia sent an unreadable ${what}`);
  return parsed.data;
}

function rawStatusOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** An execution as the domain sees it. Exported with the raw `executionTag` for reconciliation. */
export interface ParsedExecution extends MaiaExecution {
  /** Only when the upstream echoes it (the contract does not promise it). */
  executionTag: string | null;
}

/** Strips the reconciliation-only field so callers get exactly `MaiaExecution`. */
export function toPublicExecution(execution: ParsedExecution): MaiaExecution {
  // Field by field, in `readExecution`'s order: a rest spread that leaves one key out is V8's slow copy.
  return {
    pipelineExecutionId: execution.pipelineExecutionId,
    projectId: execution.projectId,
    pipelineName: execution.pipelineName,
    pipelineType: execution.pipelineType,
    environmentName: execution.environmentName,
    status: execution.status,
    rawStatus: execution.rawStatus,
    startedAt: execution.startedAt,
    finishedAt: execution.finishedAt,
    message: execution.message,
    trigger: execution.trigger,
    scheduleId: execution.scheduleId,
    user: execution.user,
    asSent: execution.asSent,
  };
}

/** The execution in a details answer: the body itself (flat), or its `result` when wrapped. */
export function executionInDetails(body: unknown): unknown {
  return typeof body === 'object' &&
    body !== null &&
    !('pipelineExecutionId' in body) &&
    'result' in body &&
    typeof body.result === 'object'
    ? body.result
    : body;
}

/** Details of one execution: flat, or wrapped as `{ result: {...} }` without `projectId`. */
export function parseExecutionDetails(body: unknown, projectIdFromPath: string): MaiaExecution {
  return toPublicExecution(readExecution(executionInDetails(body), projectIdFromPath));
}

/**
 * The light status answer. Returns null when the shape is not understood, so the caller can fall back to
 * the details call. An unknown status string is understood: it is UNKNOWN with its raw value.
 */
export function parseExecutionStatus(body: unknown): MaiaExecutionStatus | null {
  if (typeof body !== 'object' || body === null) return null;
  const record = body as Record<string, unknown>;
  const inner =
    typeof record.result === 'object' && record.result !== null && !('status' in record)
      ? (record.result as Record<string, unknown>)
      : record;
  if (typeof inner.status !== 'string' || inner.status === '') return null;
  return { status: toExecutionStatus(inner.status), rawStatus: inner.status };
}

const wireExecutionList = z.object({
  results: z.array(z.unknown()),
  more: z
    .unknown()
    .optional()
    .transform((v) => (typeof v === 'string' && v !== '' ? v : null)),
});

export interface ParsedExecutionListPage extends ExecutionListPage {
  parsed: ParsedExecution[];
}

/** `GET /v1/pipeline-executions`: token paging, `more` absent on the last page. */
export function parseExecutionList(body: unknown): ParsedExecutionListPage {
  const page = parseOrThrow(wireExecutionList, body, 'execution list');
  const parsed = page.results.map((item) => readExecution(item));
  return { results: parsed.map(toPublicExecution), more: page.more, parsed };
}

const wirePage = z.object({
  page: looseNumber,
  size: looseNumber,
  total: looseNumber,
  results: z.array(z.unknown()),
});

/** A page plus whether its `total` can be trusted to stop an iteration. */
export interface ParsedPage<T> extends Page<T> {
  totalKnown: boolean;
}

/**
 * Page-based lists. The docs' example shows `size: 0, total: 0` beside non-empty results: then the
 * requested page/size are used and `total` is only a lower bound (`totalKnown: false`).
 */
export function parsePage<T>(
  body: unknown,
  requested: { page: number; size: number },
  item: (raw: unknown) => T,
  what: string,
): ParsedPage<T> {
  const wire = parseOrThrow(wirePage, body, what);
  const results = wire.results.map(item);
  const page = wire.page ?? requested.page;
  const sizeOk = wire.size !== null && wire.size > 0;
  const size = sizeOk ? (wire.size as number) : requested.size;
  const totalOk = wire.total !== null && !(wire.total === 0 && results.length > 0) && sizeOk;
  const lowerBound = page * size + results.length;
  return {
    page,
    size,
    total: totalOk ? Math.max(wire.total as number, lowerBound) : lowerBound,
    results,
    totalKnown: totalOk,
  };
}

export const parseProject = (raw: unknown): MaiaProject => {
  const p = parseOrThrow(wireProject, raw, 'project');
  return { id: p.id, name: p.name, description: p.description, asSent: asSentOf(raw) };
};

export const parseEnvironment = (raw: unknown): MaiaEnvironment => {
  const e = parseOrThrow(wireEnvironment, raw, 'environment');
  return {
    name: e.name,
    defaultAgentId: e.defaultAgentId,
    defaultAgentName: e.defaultAgentName,
    asSent: asSentOf(raw),
  };
};

export const parseArtifact = (raw: unknown): MaiaArtifact => {
  const a = parseOrThrow(wireArtifact, raw, 'artifact');
  return {
    versionName: a.versionName,
    environmentName: a.environmentName,
    createdAt: a.createdAt,
    enabled: a.enabled,
    asSent: asSentOf(raw),
  };
};

/** `{ artifactDetails, pipelines: [{ name }] }`; pipelines given as bare strings are read too. */
export function parseArtifactDetails(raw: unknown): MaiaArtifactDetails {
  const d = parseOrThrow(wireArtifactDetails, raw, 'artifact');
  const artifact = parseArtifact(d.artifactDetails ?? raw);
  const pipelineNames = (d.pipelines ?? []).map((p) => {
    const name = typeof p === 'string' ? p : (p as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || name === '') throw badResponseError('Maia sent an unreadable artifact');
    return name;
  });
  return { artifact, pipelineNames, asSent: asSentOf(raw) };
}

export const parseAgent = (raw: unknown): MaiaAgent => {
  const a = parseOrThrow(wireAgent, raw, 'agent');
  const agentId = a.agentId ?? a.id;
  if (agentId === null || agentId === '') throw badResponseError('Maia sent an agent without an id');
  return {
    agentId,
    name: a.name ?? a.agentName,
    restricted: a.restricted,
    status: a.status,
    asSent: asSentOf(raw),
  };
};

export const parsePublishedPipeline = (raw: unknown): MaiaPublishedPipeline => {
  const p = parseOrThrow(wirePublishedPipeline, raw, 'published pipeline');
  return { name: p.name, publishedTime: p.publishedTime, asSent: asSentOf(raw) };
};

export const parseStep = (raw: unknown): MaiaStep => {
  const s = parseOrThrow(wireStep, raw, 'step');
  const source = s.result ?? s;
  const rawStatus = rawStatusOf(source.status);
  return {
    id: s.id,
    name: s.name,
    status: toExecutionStatus(rawStatus),
    rawStatus,
    startedAt: source.startedAt,
    finishedAt: source.finishedAt,
    message: source.message,
    childPipeline: s.childPipeline ?? null,
    asSent: asSentOf(raw),
  };
};

/** `{ pipelineExecutionId }` of execute (201, any 2xx) and cancel (200); null when absent. */
export function parseExecutionIdAnswer(body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  const record = body as Record<string, unknown>;
  const inner =
    typeof record.result === 'object' && record.result !== null
      ? (record.result as Record<string, unknown>)
      : record;
  const id = inner.pipelineExecutionId ?? inner.id;
  return typeof id === 'string' && id !== '' ? id : null;
}

/** The execute request body as Maia expects it (only the fields that are set). */
export function toWireExecuteBody(request: {
  pipelineName: string;
  environmentName: string;
  versionName?: string;
  agentId?: string;
  executionTag?: string;
  scalarVariables?: Record<string, string>;
  gridVariables?: Record<string, string[][]>;
}): Record<string, unknown> {
  const body: Record<string, unknown> = {
    pipelineName: request.pipelineName,
    environmentName: request.environmentName,
  };
  if (request.versionName !== undefined) body.versionName = request.versionName;
  if (request.agentId !== undefined) body.agentId = request.agentId;
  if (request.executionTag !== undefined) body.executionTag = request.executionTag;
  if (request.scalarVariables !== undefined) body.scalarVariables = request.scalarVariables;
  if (request.gridVariables !== undefined) body.gridVariables = request.gridVariables;
  return body;
}
