import { z } from 'zod';
import { GatewayError } from '../common/errors';
import { executionTriggers, toExecutionStatus, type MaiaExecution, type MaiaObject } from './maia.types';
import { badResponseError } from './maia-errors';
import {
  executionInDetails,
  looseString,
  normaliseTimestamp,
  parseExecutionDetails,
  parseExecutionList,
  requiredString,
} from './maia-wire';

/**
 * Executions were read with a zod schema until ADR 0046; `maia-wire.ts` now reads them by hand. This
 * spec keeps that schema and the code around it, verbatim (its field types are the ones `maia-wire.ts`
 * still reads projects and pipelines with), as the reference, and checks that both give
 * the same answer (or the same error) for each input: details (flat, wrapped, project from the path) and
 * list items.
 */
const timestamp = z.unknown().optional().transform(normaliseTimestamp);
const wireExecution = z.object({
  pipelineExecutionId: requiredString,
  projectId: looseString,
  pipelineName: looseString,
  pipelineType: looseString,
  environmentName: looseString,
  status: z.unknown().optional(),
  startedAt: timestamp,
  finishedAt: timestamp,
  message: looseString,
  trigger: z.unknown().optional(),
  scheduleId: looseString,
  user: looseString,
  executionTag: looseString,
});
const wireExecutionList = z.object({
  results: z.array(z.unknown()),
  more: z
    .unknown()
    .optional()
    .transform((v) => (typeof v === 'string' && v !== '' ? v : null)),
});

function parseOrThrow<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw badResponseError(`Maia sent an unreadable ${what}`);
  return parsed.data;
}

function toTrigger(raw: unknown): MaiaExecution['trigger'] {
  if (typeof raw !== 'string' || raw === '') return null;
  return (executionTriggers as readonly string[]).includes(raw)
    ? (raw as MaiaExecution['trigger'])
    : 'UNKNOWN';
}

type Parsed = MaiaExecution & { executionTag: string | null };

function toExecution(wire: z.infer<typeof wireExecution>, raw: unknown, projectIdFromPath?: string): Parsed {
  const rawStatus = typeof wire.status === 'string' ? wire.status : '';
  const projectId = wire.projectId ?? projectIdFromPath;
  if (!projectId) throw badResponseError('Maia sent an execution without its project');
  return {
    pipelineExecutionId: wire.pipelineExecutionId,
    projectId,
    pipelineName: wire.pipelineName,
    pipelineType: wire.pipelineType,
    environmentName: wire.environmentName,
    status: toExecutionStatus(rawStatus),
    rawStatus,
    startedAt: wire.startedAt,
    finishedAt: wire.finishedAt,
    message: wire.message,
    trigger: toTrigger(wire.trigger),
    scheduleId: wire.scheduleId,
    user: wire.user,
    executionTag: wire.executionTag,
    asSent: typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as MaiaObject) : undefined,
  };
}

function toPublic(execution: Parsed): MaiaExecution {
  const { executionTag: _executionTag, ...rest } = execution;
  return rest;
}

function referenceDetails(body: unknown, projectIdFromPath: string): MaiaExecution {
  // The unwrapping is shared (`executionInDetails`): what is compared is the reading of the execution.
  const candidate = executionInDetails(body);
  return toPublic(
    toExecution(parseOrThrow(wireExecution, candidate, 'execution'), candidate, projectIdFromPath),
  );
}

function referenceList(body: unknown) {
  const page = parseOrThrow(wireExecutionList, body, 'execution list');
  const parsed = page.results.map((item) =>
    toExecution(parseOrThrow(wireExecution, item, 'execution'), item),
  );
  return { results: parsed.map(toPublic), more: page.more, parsed };
}

/** The answer, or the error's code and message: what a caller can observe. */
function outcome(fn: () => unknown): unknown {
  try {
    return { value: fn() };
  } catch (error) {
    if (error instanceof GatewayError) return { code: error.code, message: error.message };
    throw error;
  }
}

const projectId = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const executionId = 'fd05a6c4-b3e1-4441-86a2-044d5092731d';
const full = {
  pipelineExecutionId: executionId,
  pipelineName: 'FOLDER/load_orders.orch.yaml',
  pipelineType: 'ORCHESTRATION',
  projectId,
  environmentName: 'Dev',
  status: 'RUNNING',
  startedAt: '2023-11-07T05:31:56Z',
  finishedAt: '2023-11-07T05:32:56.5+02:00',
  message: '"Rewrite Table": Success',
  trigger: 'API',
  scheduleId: 's-1',
  user: 'ada',
  executionTag: 'nightly',
  costCredits: 3,
};

const inputs: unknown[] = [
  full,
  { pipelineExecutionId: executionId },
  { pipelineExecutionId: executionId, projectId },
  { ...full, projectId: undefined },
  { ...full, projectId: '' },
  { ...full, projectId: 42 },
  { ...full, pipelineExecutionId: '' },
  { ...full, pipelineExecutionId: 7 },
  { ...full, pipelineExecutionId: undefined },
  { ...full, status: 'QUEUED' },
  { ...full, status: 'SOMETHING_NEW' },
  { ...full, status: 3 },
  { ...full, status: null },
  { ...full, trigger: 'WEBHOOK' },
  { ...full, trigger: 'SOMETHING_NEW' },
  { ...full, trigger: '' },
  { ...full, trigger: { kind: 'API' } },
  { ...full, startedAt: 'not a time', finishedAt: '' },
  { ...full, startedAt: 1699335116000, finishedAt: '   ' },
  { ...full, message: 12, pipelineName: null, pipelineType: false, environmentName: ['Dev'] },
  { ...full, scheduleId: {}, user: 1, executionTag: 2 },
  Object.assign(Object.create({ projectId, message: 'inherited' }), { pipelineExecutionId: executionId }),
  Object.assign(new Date(0), { pipelineExecutionId: executionId, projectId }),
  Object.assign([], { pipelineExecutionId: executionId, projectId }),
  { result: full },
  { result: { ...full, projectId: undefined } },
  { result: null },
  { result: 'x' },
  null,
  undefined,
  '<html>',
  42,
  [],
];

describe('maia-wire: executions read by hand, as the zod schema read them (ADR 0046)', () => {
  it.each(inputs.map((input, index) => [index, input]))('details, input %i', (_index, input) => {
    expect(outcome(() => parseExecutionDetails(input, projectId))).toStrictEqual(
      outcome(() => referenceDetails(input, projectId)),
    );
  });

  it.each(inputs.map((input, index) => [index, input]))('list item, input %i', (_index, input) => {
    const body = { results: [full, input], more: 'next' };
    expect(outcome(() => parseExecutionList(body))).toStrictEqual(outcome(() => referenceList(body)));
  });

  it('keeps the keys in the same order (what a JSON answer shows)', () => {
    const ours = parseExecutionList({ results: [full] });
    const theirs = referenceList({ results: [full] });
    expect(Object.keys(ours.results[0])).toEqual(Object.keys(theirs.results[0]));
    expect(Object.keys(ours.parsed[0])).toEqual(Object.keys(theirs.parsed[0]));
    expect(Object.keys(parseExecutionDetails(full, projectId))).toEqual(
      Object.keys(referenceDetails(full, projectId)),
    );
  });

  it('answers the same envelope errors', () => {
    for (const body of [null, [], { results: 'x' }, { more: 'm' }, { results: [], more: 3 }]) {
      expect(outcome(() => parseExecutionList(body))).toStrictEqual(outcome(() => referenceList(body)));
    }
  });
});
