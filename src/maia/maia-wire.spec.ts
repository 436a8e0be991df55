import { ErrorCode, GatewayError } from '../common/errors';
import {
  normaliseTimestamp,
  parseEnvironment,
  parseExecutionDetails,
  parseExecutionIdAnswer,
  parseExecutionList,
  parseExecutionStatus,
  parsePage,
  parseProject,
  parsePublishedPipeline,
  parseStep,
  toWireExecuteBody,
} from './maia-wire';

const projectId = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const executionId = 'fd05a6c4-b3e1-4441-86a2-044d5092731d';

const wireExecution = {
  pipelineExecutionId: executionId,
  pipelineName: 'FOLDER/load_orders.orch.yaml',
  pipelineType: 'ORCHESTRATION',
  projectId,
  environmentName: 'Dev',
  status: 'RUNNING',
  startedAt: '2023-11-07T05:31:56Z',
  finishedAt: null,
  message: '"Rewrite Table": Success',
  trigger: 'API',
  scheduleId: null,
  user: null,
};

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof GatewayError) return error.code;
    throw error;
  }
  return undefined;
}

describe('maia-wire', () => {
  describe('execution details', () => {
    it('parses the flat shape and normalises timestamps to milliseconds', () => {
      const execution = parseExecutionDetails(wireExecution, projectId);
      expect(execution).toEqual({
        ...wireExecution,
        startedAt: '2023-11-07T05:31:56.000Z',
        rawStatus: 'RUNNING',
        asSent: wireExecution,
      });
      // The REST face answers what Maia wrote: the timestamp without milliseconds, as sent.
      expect(execution.asSent?.startedAt).toBe('2023-11-07T05:31:56Z');
    });

    it('keeps the object as Maia sent it, members the gateway does not know included', () => {
      const sent = { ...wireExecution, costCredits: 3, labels: ['a'] };
      expect(parseExecutionDetails(sent, projectId).asSent).toEqual(sent);
      const { projectId: _omitted, ...inner } = wireExecution;
      expect(parseExecutionDetails({ result: inner }, projectId).asSent).toEqual(inner);
    });

    it('accepts the wrapped shape and fills projectId from the path', () => {
      const { projectId: _omitted, ...inner } = wireExecution;
      const execution = parseExecutionDetails({ result: inner }, projectId);
      expect(execution.projectId).toBe(projectId);
      expect(execution.pipelineExecutionId).toBe(executionId);
      expect(execution.status).toBe('RUNNING');
    });

    it('keeps an upstream projectId over the path one', () => {
      const other = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
      expect(parseExecutionDetails({ ...wireExecution, projectId: other }, projectId).projectId).toBe(other);
    });

    it('maps an unknown status to UNKNOWN and keeps the raw string', () => {
      const execution = parseExecutionDetails({ ...wireExecution, status: 'QUEUED' }, projectId);
      expect(execution.status).toBe('UNKNOWN');
      expect(execution.rawStatus).toBe('QUEUED');
    });

    it('maps an unknown trigger to UNKNOWN and a missing one to null', () => {
      expect(parseExecutionDetails({ ...wireExecution, trigger: 'WEBHOOK' }, projectId).trigger).toBe(
        'UNKNOWN',
      );
      const { trigger: _t, ...noTrigger } = wireExecution;
      expect(parseExecutionDetails(noTrigger, projectId).trigger).toBeNull();
    });

    it('tolerates missing optional fields', () => {
      const execution = parseExecutionDetails(
        { pipelineExecutionId: executionId, status: 'SUCCESS' },
        projectId,
      );
      expect(execution).toEqual({
        asSent: { pipelineExecutionId: executionId, status: 'SUCCESS' },
        pipelineExecutionId: executionId,
        projectId,
        pipelineName: null,
        pipelineType: null,
        environmentName: null,
        status: 'SUCCESS',
        rawStatus: 'SUCCESS',
        startedAt: null,
        finishedAt: null,
        message: null,
        trigger: null,
        scheduleId: null,
        user: null,
      });
    });

    it('never leaks the reconciliation-only executionTag to callers', () => {
      const execution = parseExecutionDetails({ ...wireExecution, executionTag: 'nightly' }, projectId);
      expect(execution).not.toHaveProperty('executionTag');
    });

    it('rejects a body without an execution id as UPSTREAM_BAD_RESPONSE', () => {
      expect(codeOf(() => parseExecutionDetails({ status: 'RUNNING' }, projectId))).toBe(
        ErrorCode.UPSTREAM_BAD_RESPONSE,
      );
      expect(codeOf(() => parseExecutionDetails('<html>', projectId))).toBe(ErrorCode.UPSTREAM_BAD_RESPONSE);
      expect(codeOf(() => parseExecutionDetails(null, projectId))).toBe(ErrorCode.UPSTREAM_BAD_RESPONSE);
    });
  });

  describe('timestamps', () => {
    it.each([
      ['2023-11-07T05:31:56Z', '2023-11-07T05:31:56.000Z'],
      ['2023-11-07T05:31:56.182Z', '2023-11-07T05:31:56.182Z'],
      ['2023-11-07T05:31:56.123456Z', '2023-11-07T05:31:56.123Z'],
      ['2023-11-07T07:31:56+02:00', '2023-11-07T05:31:56.000Z'],
    ])('%s → %s', (input, expected) => {
      expect(normaliseTimestamp(input)).toBe(expected);
    });

    it.each([[null], [undefined], [''], ['yesterday'], [12]])('%p → null', (input) => {
      expect(normaliseTimestamp(input)).toBeNull();
    });

    it('parses a timestamp seen before only once, with the same answer every time', () => {
      const inputs = ['2023-11-07T05:31:57Z', '2023-11-07T07:31:57+02:00', 'not a time', '   '];
      const parse = jest.spyOn(Date, 'parse');
      try {
        const first = inputs.map(normaliseTimestamp);
        const parsedFirst = parse.mock.calls.length;
        const again = inputs.map(normaliseTimestamp);
        expect(again).toEqual(first);
        expect(first).toEqual(['2023-11-07T05:31:57.000Z', '2023-11-07T05:31:57.000Z', null, null]);
        expect(parsedFirst).toBe(3); // the blank string is not parsed at all
        expect(parse.mock.calls.length).toBe(parsedFirst);
      } finally {
        parse.mockRestore();
      }
    });

    it("answers the same past the memo's size, and parses a long string every time", () => {
      const inputs = Array.from({ length: 5000 }, (_, i) => new Date(1.7e12 + i * 1001).toISOString());
      expect(inputs.map(normaliseTimestamp)).toEqual(inputs);
      expect(inputs.map(normaliseTimestamp)).toEqual(inputs);
      const long = `2023-11-07T05:31:56Z${' '.repeat(100)}`;
      const parse = jest.spyOn(Date, 'parse');
      try {
        expect(normaliseTimestamp(long)).toBeNull(); // trailing blanks: unreadable, as before
        expect(normaliseTimestamp(long)).toBeNull();
        expect(parse).toHaveBeenCalledTimes(2);
      } finally {
        parse.mockRestore();
      }
    });
  });

  describe('light status', () => {
    it('reads a known and an unknown status', () => {
      expect(parseExecutionStatus({ status: 'SUCCESS' })).toEqual({
        status: 'SUCCESS',
        rawStatus: 'SUCCESS',
      });
      expect(parseExecutionStatus({ status: 'PAUSED' })).toEqual({ status: 'UNKNOWN', rawStatus: 'PAUSED' });
      expect(parseExecutionStatus({ result: { status: 'FAILED' } })).toEqual({
        status: 'FAILED',
        rawStatus: 'FAILED',
      });
    });

    it('returns null for shapes it does not understand, so the caller falls back to details', () => {
      expect(parseExecutionStatus('RUNNING')).toBeNull();
      expect(parseExecutionStatus({})).toBeNull();
      expect(parseExecutionStatus({ status: 3 })).toBeNull();
      expect(parseExecutionStatus({ state: 'RUNNING' })).toBeNull();
    });
  });

  describe('pages', () => {
    const projects = [
      { id: projectId, name: 'Analytics', description: 'Orders' },
      { id: '3fa85f64-5717-4562-b3fc-2c963f66afa6', name: 'Test-project' },
    ];

    it('reads a true page', () => {
      const page = parsePage(
        { page: 1, size: 2, total: 5, results: projects },
        { page: 1, size: 2 },
        parseProject,
        'p',
      );
      expect(page).toEqual({
        page: 1,
        size: 2,
        total: 5,
        totalKnown: true,
        results: [
          { id: projectId, name: 'Analytics', description: 'Orders', asSent: projects[0] },
          {
            id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
            name: 'Test-project',
            description: null,
            asSent: projects[1],
          },
        ],
      });
    });

    it("tolerates the docs' size: 0, total: 0 slip beside results", () => {
      const page = parsePage(
        { page: 0, size: 0, total: 0, results: projects },
        { page: 0, size: 25 },
        parseProject,
        'p',
      );
      expect(page.size).toBe(25);
      expect(page.total).toBe(2);
      expect(page.totalKnown).toBe(false);
      expect(page.results).toHaveLength(2);
    });

    it('accepts a true empty page', () => {
      const page = parsePage(
        { page: 0, size: 25, total: 0, results: [] },
        { page: 0, size: 25 },
        parseProject,
        'p',
      );
      expect(page).toEqual({ page: 0, size: 25, total: 0, totalKnown: true, results: [] });
    });

    it('rejects a page without results and an item without id', () => {
      expect(codeOf(() => parsePage({ page: 0 }, { page: 0, size: 25 }, parseProject, 'p'))).toBe(
        ErrorCode.UPSTREAM_BAD_RESPONSE,
      );
      expect(
        codeOf(() => parsePage({ results: [{ name: 'x' }] }, { page: 0, size: 25 }, parseProject, 'p')),
      ).toBe(ErrorCode.UPSTREAM_BAD_RESPONSE);
    });

    it('parses environments and published pipelines', () => {
      expect(parseEnvironment({ name: 'Dev', defaultAgentId: 'a1' })).toEqual({
        name: 'Dev',
        defaultAgentId: 'a1',
        defaultAgentName: null,
        asSent: { name: 'Dev', defaultAgentId: 'a1' },
      });
      expect(
        parsePublishedPipeline({ name: 'FOLDER/x.orch.yaml', publishedTime: '2026-10-02T09:00:00Z' }),
      ).toEqual({
        name: 'FOLDER/x.orch.yaml',
        publishedTime: '2026-10-02T09:00:00.000Z',
        asSent: { name: 'FOLDER/x.orch.yaml', publishedTime: '2026-10-02T09:00:00Z' },
      });
    });
  });

  describe('steps', () => {
    it('reads the nested result and tolerates a terminal step without timestamps', () => {
      expect(parseStep({ id: 's1', name: 'Notify', result: { status: 'SKIPPED' } })).toEqual({
        id: 's1',
        name: 'Notify',
        status: 'SKIPPED',
        rawStatus: 'SKIPPED',
        startedAt: null,
        finishedAt: null,
        message: null,
        childPipeline: null,
        asSent: { id: 's1', name: 'Notify', result: { status: 'SKIPPED' } },
      });
    });

    it('passes childPipeline through and accepts numeric ids', () => {
      const step = parseStep({
        id: 7,
        name: 'Run child',
        result: { status: 'RUNNING', startedAt: '2023-11-07T05:31:56Z' },
        childPipeline: { name: 'child.orch.yaml' },
      });
      expect(step.id).toBe('7');
      expect(step.startedAt).toBe('2023-11-07T05:31:56.000Z');
      expect(step.childPipeline).toEqual({ name: 'child.orch.yaml' });
    });
  });

  describe('execution list', () => {
    it('reads results and the more token, absent on the last page', () => {
      const first = parseExecutionList({ results: [wireExecution], more: 'abc' });
      expect(first.more).toBe('abc');
      expect(first.results[0].status).toBe('RUNNING');
      expect(parseExecutionList({ results: [] }).more).toBeNull();
    });

    it('keeps an echoed executionTag for reconciliation only', () => {
      const page = parseExecutionList({ results: [{ ...wireExecution, executionTag: 't1' }] });
      expect(page.parsed[0].executionTag).toBe('t1');
      expect(page.results[0]).not.toHaveProperty('executionTag');
    });
  });

  it('reads execution ids from execute and cancel answers', () => {
    expect(parseExecutionIdAnswer({ pipelineExecutionId: executionId })).toBe(executionId);
    expect(parseExecutionIdAnswer({ result: { pipelineExecutionId: executionId } })).toBe(executionId);
    expect(parseExecutionIdAnswer({})).toBeNull();
    expect(parseExecutionIdAnswer('')).toBeNull();
  });

  it('sends only the execute fields that are set', () => {
    expect(toWireExecuteBody({ pipelineName: 'p', environmentName: 'Dev', executionTag: 't' })).toEqual({
      pipelineName: 'p',
      environmentName: 'Dev',
      executionTag: 't',
    });
  });
});
