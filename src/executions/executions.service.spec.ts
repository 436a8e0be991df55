import { ErrorCode, GatewayError } from '../common/errors';
import type { IdempotencyService } from '../idempotency/idempotency.service';
import type { AppConfig } from '../config';
import type {
  ExecutePipelineRequest,
  ExecutionListFilter,
  ExecutionListPage,
  MaiaApi,
  MaiaExecution,
} from '../maia/maia.types';
import type { RedisService } from '../redis/redis.service';
import { decodeCursor, filterHash } from './execution-cursor';
import { ExecutionLaunchStore } from './execution-launch.store';
import type { ExecutionTagsStore } from './execution-tags.store';
import type { ExecutionWatchPort } from './execution-watch.port';
import {
  DEFAULT_EXECUTION_WINDOW_MS,
  ExecutionsService,
  MAX_LOCATE_PROBES,
  ProbeBudget,
  variablesFromLists,
} from './executions.service';

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';

function run(id: string, patch: Partial<MaiaExecution> = {}): MaiaExecution {
  return {
    pipelineExecutionId: id,
    projectId: PROJECT,
    pipelineName: 'p',
    pipelineType: 'ORCHESTRATION',
    environmentName: 'Dev',
    status: 'RUNNING',
    rawStatus: 'RUNNING',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: null,
    message: null,
    trigger: 'API',
    scheduleId: null,
    user: null,
    ...patch,
  };
}

/** A strict MaiaApi: only the methods a test sets up exist; any other call fails the test. */
function strictMaia(methods: Partial<MaiaApi>): MaiaApi {
  return new Proxy(methods as MaiaApi, {
    get(target, name: string) {
      const method = (target as unknown as Record<string, unknown>)[name];
      if (method === undefined) throw new Error(`unexpected MaiaApi call: ${name}`);
      return method;
    },
  });
}

const noIdempotency = {} as IdempotencyService;
const noTags = {
  lookup: async () => undefined,
  remember: async () => undefined,
} as unknown as ExecutionTagsStore;
/** The launch records: nothing recorded, nothing remembered. */
const noLaunches = {
  rememberLaunch: async () => undefined,
  rememberProjects: async () => undefined,
  launchOf: async () => undefined,
  projectOf: async () => undefined,
} as unknown as ExecutionLaunchStore;
/** The live-status watcher: told about starts and cancels, nothing else. */
const watch = {
  notifyStarted: () => undefined,
  nudge: async () => undefined,
} as unknown as ExecutionWatchPort;

/** Maia's token paging over a fixed list: the token is the index of the next item. */
function pagedList(all: MaiaExecution[], seen: ExecutionListFilter[]): Pick<MaiaApi, 'listExecutions'> {
  return {
    listExecutions: async (filter: ExecutionListFilter): Promise<ExecutionListPage> => {
      seen.push(filter);
      const from = filter.paginationToken ? Number(filter.paginationToken) : 0;
      const to = from + (filter.limit ?? 25);
      return { results: all.slice(from, to), more: to < all.length ? String(to) : null };
    },
  };
}

describe('ExecutionsService.list (REST)', () => {
  it('sends exactly the window the caller asked for: none when none, no default added', async () => {
    const seen: ExecutionListFilter[] = [];
    const service = new ExecutionsService(
      strictMaia(pagedList([run('a')], seen)),
      noIdempotency,
      noTags,
      noLaunches,
      watch,
    );
    await service.list({ limit: 5 });
    await service.list({ startedBefore: '2026-01-02T00:00:00Z' });
    expect(seen).toEqual([{ limit: 5 }, { startedBefore: '2026-01-02T00:00:00Z' }]);
  });

  it('refuses a window that ends before it starts, before any call', async () => {
    const service = new ExecutionsService(strictMaia({}), noIdempotency, noTags, noLaunches, watch);
    expect(() =>
      service.list({ startedAfter: '2026-02-01T00:00:00Z', startedBefore: '2026-01-01T00:00:00Z' }),
    ).toThrow(GatewayError);
  });
});

describe('ExecutionsService.connection', () => {
  const all = Array.from({ length: 7 }, (_, i) => run(`00000000-0000-4000-8000-00000000000${i}`));
  const ids = (edges: { node: MaiaExecution }[]) => edges.map((e) => e.node.pipelineExecutionId);

  it('walks every execution once with endCursor, sending the default 7-day window on every page', async () => {
    const seen: ExecutionListFilter[] = [];
    const service = new ExecutionsService(
      strictMaia(pagedList(all, seen)),
      noIdempotency,
      noTags,
      noLaunches,
      watch,
    );
    const nowMs = Date.parse('2026-03-10T00:00:00Z');
    const collected: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      // The clock moves between pages; the window must not.
      const page = await service.connection({}, 3, after, nowMs + i * 60_000);
      collected.push(...ids(page.edges));
      if (!page.hasNextPage) break;
      after = page.endCursor ?? undefined;
    }
    expect(collected).toEqual(ids(all.map((node) => ({ node }))));
    const window = new Date(nowMs - DEFAULT_EXECUTION_WINDOW_MS).toISOString();
    expect(seen.map((f) => f.startedAfter)).toEqual([window, window, window]);
    expect(seen.map((f) => f.paginationToken)).toEqual([undefined, '3', '6']);
  });

  it('continues right after an edge in the middle of a page, refetching that page as it was', async () => {
    const seen: ExecutionListFilter[] = [];
    const service = new ExecutionsService(
      strictMaia(pagedList(all, seen)),
      noIdempotency,
      noTags,
      noLaunches,
      watch,
    );
    const first = await service.connection({}, 3, undefined);
    const next = await service.connection({}, 5, first.edges[0].cursor);
    // The rest of the first page only (Relay's `first` is a maximum), then onwards from its end.
    expect(ids(next.edges)).toEqual(ids(all.slice(1, 3).map((node) => ({ node }))));
    expect(next.hasNextPage).toBe(true);
    expect(seen[1]).toMatchObject({ limit: 3, paginationToken: undefined });
    const rest = await service.connection({}, 5, next.endCursor ?? undefined);
    expect(ids(rest.edges)).toEqual(ids(all.slice(3, 7).map((node) => ({ node }))));
    expect(rest.hasNextPage).toBe(false);
  });

  it('refuses a cursor with another filter, or a forged one', async () => {
    const service = new ExecutionsService(
      strictMaia(pagedList(all, [])),
      noIdempotency,
      noTags,
      noLaunches,
      watch,
    );
    const page = await service.connection({ status: ['RUNNING', 'FAILED'] }, 2, undefined);
    // The same statuses in another order are the same filter.
    await expect(
      service.connection({ status: ['FAILED', 'RUNNING'] }, 2, page.endCursor ?? undefined),
    ).resolves.toBeDefined();
    await expect(
      service.connection({ status: ['FAILED'] }, 2, page.endCursor ?? undefined),
    ).rejects.toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
    });
    const forged = Buffer.from(JSON.stringify({ v: 1, h: filterHash({}), o: 1_000, l: 3 })).toString(
      'base64url',
    );
    expect(() => decodeCursor(forged, filterHash({}))).toThrow(GatewayError);
  });

  it('refuses a window that ends before it starts, without calling Maia', async () => {
    const service = new ExecutionsService(strictMaia({}), noIdempotency, noTags, noLaunches, watch);
    await expect(
      service.connection(
        { startedAfter: '2026-02-01T00:00:00.000Z', startedBefore: '2026-01-01T00:00:00.000Z' },
        5,
        undefined,
      ),
    ).rejects.toMatchObject({ code: ErrorCode.BAD_USER_INPUT });
  });
});

describe('ExecutionsService.cancel', () => {
  const id = '00000000-0000-4000-8000-000000000001';
  const conflict = new GatewayError(ErrorCode.CONFLICT, 'Maia reported a conflict', { upstreamStatus: 409 });

  it('a 409 on a finished run is ALREADY_FINISHED with its status', async () => {
    const service = new ExecutionsService(
      strictMaia({
        cancelExecution: async () => Promise.reject(conflict),
        getExecution: async () => run(id, { status: 'SUCCESS', rawStatus: 'SUCCESS' }),
      }),
      noIdempotency,
      noTags,
      noLaunches,
      watch,
    );
    await expect(service.cancel(PROJECT, id, false)).rejects.toMatchObject({
      code: ErrorCode.ALREADY_FINISHED,
      details: { status: 'SUCCESS', executionId: id },
    });
  });

  it('a 409 on a run that is not finished stays a CONFLICT', async () => {
    const service = new ExecutionsService(
      strictMaia({
        cancelExecution: async () => Promise.reject(conflict),
        getExecution: async () => run(id, { status: 'CANCELLING', rawStatus: 'CANCELLING' }),
      }),
      noIdempotency,
      noTags,
      noLaunches,
      watch,
    );
    await expect(service.cancel(PROJECT, id, false)).rejects.toBe(conflict);
  });
});

describe('ExecutionsService.execute', () => {
  it('a tag conflict without a known holder says the tag and no id', async () => {
    const service = new ExecutionsService(
      strictMaia({ executePipeline: async () => Promise.reject(new GatewayError(ErrorCode.CONFLICT, 'x')) }),
      noIdempotency,
      noTags,
      noLaunches,
      watch,
    );
    await expect(
      service.execute(PROJECT, { pipelineName: 'p', environmentName: 'Dev', executionTag: 'nightly' }),
    ).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
      details: { executionTag: 'nightly', existingExecutionId: undefined },
    });
  });

  it('refuses variables that are not strings before calling Maia', async () => {
    const service = new ExecutionsService(strictMaia({}), noIdempotency, noTags, noLaunches, watch);
    await expect(
      service.execute(PROJECT, {
        pipelineName: 'p',
        environmentName: 'Dev',
        gridVariables: { ids: [[1 as unknown as string]] },
      }),
    ).rejects.toMatchObject({ code: ErrorCode.BAD_USER_INPUT });
  });

  it('turns GraphQL name/value lists into Maia objects, refusing a name given twice', () => {
    expect(variablesFromLists([{ name: '__proto__', value: 'x' }], [{ name: 'g', rows: [['1']] }])).toEqual({
      scalarVariables: Object.fromEntries([['__proto__', 'x']]),
      gridVariables: { g: [['1']] },
    });
    expect(() =>
      variablesFromLists(
        [
          { name: 'a', value: '1' },
          { name: 'a', value: '2' },
        ],
        undefined,
      ),
    ).toThrow('is given twice');
  });
});

describe('ExecutionsService.rerun and locate', () => {
  const OTHER = '9b6a1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
  const first = '00000000-0000-4000-8000-0000000000a1';
  /** The memory store of a gateway without Redis. */
  const memoryLaunches = () =>
    new ExecutionLaunchStore(
      { enabled: false } as unknown as RedisService,
      {
        cache: { executionLaunchTtlMs: 60_000 },
      } as unknown as AppConfig,
    );

  it('re-runs with exactly the recorded parameters, and records the new launch with rerunOf', async () => {
    const sent: ExecutePipelineRequest[] = [];
    const launches = memoryLaunches();
    const service = new ExecutionsService(
      strictMaia({
        executePipeline: async (_project, request) => {
          sent.push(request);
          return {
            pipelineExecutionId: `00000000-0000-4000-8000-00000000000${sent.length}`,
            reconciled: false,
          };
        },
      }),
      noIdempotency,
      noTags,
      launches,
      watch,
    );
    const request = {
      pipelineName: 'p',
      environmentName: 'Dev',
      versionName: '1.0.0',
      agentId: '5f0c1a2b-0001-4000-8000-000000000001',
      scalarVariables: { region: 'eu' },
      gridVariables: { ids: [['1']] },
    };
    const { pipelineExecutionId: firstId } = await service.execute(PROJECT, request);
    const { pipelineExecutionId: secondId } = await service.rerun(PROJECT, firstId);
    expect(sent).toEqual([request, request]);
    expect(await service.launchOf(PROJECT, secondId)).toEqual({
      projectId: PROJECT,
      ...request,
      launchedAt: expect.any(String),
      rerunOf: firstId,
    });
    // Another project's run is no launch of this one.
    expect(await service.launchOf(OTHER, firstId)).toBeUndefined();
    await expect(service.rerun(OTHER, firstId)).rejects.toMatchObject({ code: ErrorCode.LAUNCH_UNKNOWN });
    expect(sent).toHaveLength(2);
  });

  it('hands Maia the launch record to write along with the ledger, and writes it alone only when that did not', async () => {
    const along: { executionId: string; writes: unknown }[] = [];
    const alone: string[] = [];
    const launches = {
      ...noLaunches,
      launchWrites: (executionId: string, launch: { projectId: string }) => ({
        entries: [{ key: `launch:${executionId}`, value: launch.projectId }],
        ttlMs: 1_000,
      }),
      rememberLaunch: async (executionId: string) => {
        alone.push(executionId);
      },
    } as unknown as ExecutionLaunchStore;
    let recorded: boolean | undefined = true;
    const service = new ExecutionsService(
      strictMaia({
        executePipeline: async (_project, _request, _options, _attempt, recordWith) => {
          const executionId = `00000000-0000-4000-8000-00000000000${along.length + 1}`;
          along.push({ executionId, writes: recordWith?.(executionId) });
          return { pipelineExecutionId: executionId, reconciled: false, recorded };
        },
      }),
      noIdempotency,
      noTags,
      launches,
      watch,
    );
    const request = { pipelineName: 'p', environmentName: 'Dev' };
    const { pipelineExecutionId: firstId } = await service.execute(PROJECT, request);
    expect(along).toEqual([
      {
        executionId: firstId,
        writes: { entries: [{ key: `launch:${firstId}`, value: PROJECT }], ttlMs: 1_000 },
      },
    ]);
    expect(alone).toEqual([]);
    // Not written along (Redis away, or a run found by reconciliation): recorded on its own.
    recorded = false;
    const { pipelineExecutionId: secondId } = await service.execute(PROJECT, request);
    recorded = undefined;
    const { pipelineExecutionId: thirdId } = await service.execute(PROJECT, request);
    expect(alone).toEqual([secondId, thirdId]);
  });

  it('an unknown launch is LAUNCH_UNKNOWN without calling Maia', async () => {
    const service = new ExecutionsService(strictMaia({}), noIdempotency, noTags, memoryLaunches(), watch);
    await expect(service.rerun(PROJECT, first)).rejects.toMatchObject({
      code: ErrorCode.LAUNCH_UNKNOWN,
      details: { executionId: first },
    });
  });

  it('locate probes visible projects within the budget, then reads a found run in its recorded project only', async () => {
    const asked: string[] = [];
    const projects = Array.from(
      { length: 30 },
      (_, i) => `00000000-0000-4000-8000-0000000001${String(i).padStart(2, '0')}`,
    );
    const home = projects[3];
    const service = new ExecutionsService(
      strictMaia({
        getExecution: async (projectId, executionId) => {
          asked.push(projectId);
          if (projectId !== home || executionId !== first) throw new GatewayError(ErrorCode.NOT_FOUND, 'no');
          return run(executionId, { projectId });
        },
      }),
      noIdempotency,
      noTags,
      memoryLaunches(),
      watch,
    );
    expect((await service.locate(first, projects, new ProbeBudget()))?.projectId).toBe(home);
    expect(asked).toEqual(projects.slice(0, 4));
    asked.length = 0;
    // Recorded: one call, whatever the budget left.
    expect((await service.locate(first, projects, new ProbeBudget(0)))?.projectId).toBe(home);
    expect(asked).toEqual([home]);
    asked.length = 0;
    // Recorded in a project the caller may not see: not found, and nothing probed.
    expect(await service.locate(first, projects.slice(4), new ProbeBudget())).toBeUndefined();
    expect(asked).toEqual([]);
    // Never seen and nowhere within the budget: at most MAX_LOCATE_PROBES calls.
    const missing = '00000000-0000-4000-8000-0000000000ff';
    expect(await service.locate(missing, projects, new ProbeBudget())).toBeUndefined();
    expect(asked).toHaveLength(MAX_LOCATE_PROBES);
  });
});
