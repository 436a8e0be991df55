import { randomUUID } from 'node:crypto';
import { eventually } from '../support/eventually';
import { failureOf, seed, type HarnessOptions, type MaiaHarness, useMaiaSuite } from './support/maia-harness';

/**
 * The execute POST is never sent twice once its bytes may have reached Maia. When its answer is lost
 * (dropped connection, timeout, a proxy's 502/504) the client reconciles: it returns the run the POST
 * created, or UPSTREAM_OUTCOME_UNKNOWN; it never creates a duplicate and never hands out someone else's run.
 */

const suite = useMaiaSuite();
const { watch } = suite;
const run = { pipelineName: seed.orders, environmentName: 'Dev' };
const harness = (options: HarnessOptions = {}): Promise<MaiaHarness> =>
  suite.harness({ ...options, warm: true });

async function executionIds(): Promise<string[]> {
  return (await suite.maia.executions()).map((e) => e.pipelineExecutionId);
}

/** Faults still set at the emulator: one with a count is removed once used up. */
async function faultsLeft(): Promise<number> {
  const answer = await fetch(`${suite.maia.url}/__emulator/faults`);
  return ((await answer.json()) as { results: unknown[] }).results.length;
}

type Outcome = { id: string; reconciled: boolean } | { code: string };

async function execute(h: MaiaHarness, request = run): Promise<Outcome> {
  try {
    const result = await watch.observe(h.api.executePipeline(seed.analytics, request));
    return { id: result.pipelineExecutionId, reconciled: result.reconciled };
  } catch (error) {
    return { code: (error as { code: string }).code };
  }
}

describe('create, then drop the connection', () => {
  it('20 times: 0 duplicate executions, each call answered with the run it created or OUTCOME_UNKNOWN', async () => {
    const h = await harness();
    const before = await executionIds();
    await suite.maia.addFault({ route: 'executePipeline', drop: 'after' });
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 20; i++) outcomes.push(await execute(h));

    const created = (await executionIds()).filter((id) => !before.includes(id));
    expect(created).toHaveLength(20); // one run per call: never resent
    expect(new Set(created).size).toBe(20);
    expect(await suite.maia.count('executePipeline')).toBe(20);
    expect(await suite.maia.count('executePipeline', 'dropped')).toBe(20);

    outcomes.forEach((outcome, i) => {
      if ('code' in outcome) expect(outcome.code).toBe('UPSTREAM_OUTCOME_UNKNOWN');
      else expect(outcome).toEqual({ id: created[i], reconciled: true }); // exactly the run this call made
    });
    // Sequential calls leave no ambiguity: every one is reconciled.
    expect(outcomes.filter((o) => 'id' in o)).toHaveLength(20);
  });

  it('concurrent drops: never the same run for two callers, never a duplicate', async () => {
    const h = await harness();
    const before = await executionIds();
    await suite.maia.addFault({ route: 'executePipeline', drop: 'after' });
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => execute(h)));

    const created = (await executionIds()).filter((id) => !before.includes(id));
    expect(created).toHaveLength(5);
    const answered = outcomes.flatMap((o) => ('id' in o ? [o.id] : []));
    expect(new Set(answered).size).toBe(answered.length);
    for (const id of answered) expect(created).toContain(id);
    for (const o of outcomes) if ('code' in o) expect(o.code).toBe('UPSTREAM_OUTCOME_UNKNOWN');
    // They asked for the same thing: their runs are interchangeable, so each gets a different one.
    expect(answered).toHaveLength(5);
  });

  it("never claims another replica's run (known through Redis) when its own POST created nothing", async () => {
    const redisPrefix = `test:${randomUUID()}:`;
    const h = await harness({ redisPrefix });
    const other = await harness({ redisPrefix });
    const theirs = await other.api.executePipeline(seed.analytics, run); // another replica's run, just now
    await suite.maia.addFault({ route: 'executePipeline', drop: 'before', count: 1 }); // ours never arrives
    expect(await execute(h)).toEqual({ code: 'UPSTREAM_OUTCOME_UNKNOWN' });
    expect(await executionIds()).toContain(theirs.pipelineExecutionId);
    expect(await suite.maia.count('executePipeline')).toBe(2);
  });

  it('another replica executing the same pipeline at the same time: waits for its answer, then takes its own run', async () => {
    const redisPrefix = `test:${randomUUID()}:`;
    const h = await harness({ redisPrefix });
    const other = await harness({ redisPrefix });
    await suite.maia.addFault({ route: 'executePipeline', latencyMs: 600, count: 1 }); // theirs: slow
    await suite.maia.addFault({ route: 'executePipeline', drop: 'after', count: 1 }); // ours: created, unanswered
    const theirs = other.api.executePipeline(seed.analytics, run);
    // Theirs has reached Maia once it used up the latency fault (count 1): only ours is left.
    await eventually(async () => expect(await faultsLeft()).toBe(1));
    const ours = await execute(h);
    const answered = await theirs;
    expect(answered).toMatchObject({ reconciled: false });
    expect(ours).toEqual({ id: expect.any(String), reconciled: true });
    expect((ours as { id: string }).id).not.toBe(answered.pipelineExecutionId);
    expect(await executionIds()).toContain((ours as { id: string }).id);
    expect(await suite.maia.count('executePipeline')).toBe(2);
  });

  it('two dropped calls asking for different things at the same time cannot be told apart: OUTCOME_UNKNOWN', async () => {
    const redisPrefix = `test:${randomUUID()}:`;
    const h = await harness({ redisPrefix });
    const other = await harness({ redisPrefix });
    await suite.maia.addFault({ route: 'executePipeline', drop: 'after', count: 2 });
    const outcomes = await Promise.all([
      execute(h, { ...run, scalarVariables: { region: 'eu' } } as typeof run),
      execute(other, { ...run, scalarVariables: { region: 'us' } } as typeof run),
    ]);
    expect(outcomes).toEqual([{ code: 'UPSTREAM_OUTCOME_UNKNOWN' }, { code: 'UPSTREAM_OUTCOME_UNKNOWN' }]);
    expect(await suite.maia.count('executePipeline')).toBe(2);
  });

  it('picks its own run when a foreign one started earlier than the allowed clock skew', async () => {
    const h = await harness({ env: { MAIA_RECONCILE_CLOCK_SKEW_MS: '1000' } });
    const other = await harness();
    const theirs = await other.api.executePipeline(seed.analytics, run);
    const theirStartedAtMs = Date.parse(
      (await suite.maia.executions()).find((e) => e.pipelineExecutionId === theirs.pipelineExecutionId)
        ?.startedAt ?? '',
    );
    // Until their run started longer ago than the allowed skew (1 s), with a margin.
    await eventually(() => Date.now() - theirStartedAtMs > 1_500);
    await suite.maia.addFault({ route: 'executePipeline', drop: 'after', count: 1 });
    const outcome = await execute(h);
    expect(outcome).toEqual({ id: expect.any(String), reconciled: true });
    expect((outcome as { id: string }).id).not.toBe(theirs.pipelineExecutionId);
    expect((await suite.maia.executions()).at(-1)?.pipelineExecutionId).toBe((outcome as { id: string }).id);
  });

  it('a foreign run inside the skew makes it ambiguous: OUTCOME_UNKNOWN, not a guess', async () => {
    const h = await harness();
    const other = await harness();
    await other.api.executePipeline(seed.analytics, run);
    await suite.maia.addFault({ route: 'executePipeline', drop: 'after', count: 1 });
    expect(await execute(h)).toEqual({ code: 'UPSTREAM_OUTCOME_UNKNOWN' });
  });
});

describe('other unknown and known outcomes', () => {
  it('a timeout after sending is an unknown outcome: reconciled to the run Maia made late, never resent', async () => {
    const h = await harness({ env: { MAIA_ATTEMPT_TIMEOUT_MS: '300' } });
    const before = await executionIds();
    // Maia has the whole request and acts after the client gave up (the emulator's latency comes before
    // the action): reconciliation keeps looking within the deadline and finds that run.
    await suite.maia.addFault({ route: 'executePipeline', latencyMs: 1000, count: 1 });
    const outcome = await execute(h);
    const created = (await executionIds()).filter((id) => !before.includes(id));
    expect(created).toHaveLength(1);
    expect(outcome).toEqual({ id: created[0], reconciled: true });
    expect(await suite.maia.count('listExecutions')).toBeGreaterThan(0);
    expect(await suite.maia.count('executePipeline')).toBe(1);
    expect(h.sent.filter((r) => r.method === 'POST' && r.url.endsWith('/pipeline-executions'))).toHaveLength(
      1,
    );
  });

  it('a dropped connection before Maia acted: OUTCOME_UNKNOWN and nothing created', async () => {
    const h = await harness();
    const before = await executionIds();
    await suite.maia.addFault({ route: 'executePipeline', drop: 'before', count: 1 });
    expect(await execute(h)).toEqual({ code: 'UPSTREAM_OUTCOME_UNKNOWN' });
    expect(await executionIds()).toEqual(before);
    expect(await suite.maia.count('executePipeline')).toBe(1);
  });

  it("a proxy's 502 is an unknown outcome (reconciled); Maia's own 503 is a plain failure, never retried", async () => {
    const h = await harness();
    await suite.maia.addFault({ route: 'executePipeline', status: 502, count: 1 });
    expect(await execute(h)).toEqual({ code: 'UPSTREAM_OUTCOME_UNKNOWN' });
    expect(await suite.maia.count('listExecutions')).toBeGreaterThan(0);

    await suite.maia.resetCounters();
    await suite.maia.addFault({ route: 'executePipeline', status: 503, count: 1 });
    expect(await execute(h)).toEqual({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(await suite.maia.count('executePipeline')).toBe(1);
    expect(await suite.maia.count('listExecutions')).toBe(0);
  });

  it('a 429 on execute is RATE_LIMITED with retryAfterSeconds, not resent even when the wait would fit', async () => {
    const h = await harness();
    await suite.maia.addFault({
      route: 'executePipeline',
      status: 429,
      headers: { 'Retry-After': '1' },
      count: 1,
    });
    const failure = await failureOf(watch.observe(h.api.executePipeline(seed.analytics, run)));
    expect(failure).toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 1 } });
    expect(await suite.maia.count('executePipeline')).toBe(1);
  });

  it('a 401 on execute is replayed once with a fresh token (Maia refused before acting)', async () => {
    const h = await harness();
    await suite.maia.revokeTokens();
    const outcome = await execute(h);
    expect(outcome).toEqual({ id: expect.any(String), reconciled: false });
    expect(await suite.maia.count('executePipeline', 401)).toBe(1);
    expect(await suite.maia.count('executePipeline', 201)).toBe(1);
    expect(
      (await suite.maia.executions()).filter((e) => e.pipelineExecutionId === (outcome as { id: string }).id),
    ).toHaveLength(1);
  });

  it('a 2xx without a readable id is reconciled, never answered with an invented id', async () => {
    const h = await harness();
    // A status fault answers without acting: nothing exists to find, so the outcome stays unknown.
    await suite.maia.addFault({ route: 'executePipeline', status: 201, body: 'created', count: 1 });
    expect(await execute(h)).toEqual({ code: 'UPSTREAM_OUTCOME_UNKNOWN' });
    expect(await suite.maia.count('listExecutions')).toBeGreaterThan(0);
    expect(await suite.maia.count('executePipeline')).toBe(1);
  });
});

describe('secrets', () => {
  it('no secret in any captured log line or error', () => {
    expect(watch.issuedTokens.size).toBeGreaterThan(0);
    expect(watch.lines.some((line) => line.startsWith('warn:'))).toBe(true);
    expect(watch.leaks()).toEqual([]);
  });
});
