import {
  executeAt,
  runIds,
  startExecuteFleet,
  untilRedisIs,
  type ExecuteAnswer,
  type ExecuteFleet,
} from './execute-fleet';

/**
 * Maia creates the run and the connection drops before its answer, for 100 execute POSTs sent in
 * overlapping batches to two replicas. Each call is reconciled from the listing: calls that asked for
 * the same thing are told apart by the ledger they share (each claims a different run), so nearly every
 * caller learns the id of its run, and no run is created twice or handed to two callers.
 */
describe('dropped execute POSTs in overlapping batches, two replicas', () => {
  let fleet: ExecuteFleet;

  beforeAll(async () => {
    // 100 dropped connections in a row would open the circuit breaker (then nothing is sent, nothing
    // is listed): out of the way, this suite measures reconciliation.
    fleet = await startExecuteFleet({ MAIA_BREAKER_FAILURE_THRESHOLD: '1000' });
  });
  afterAll(async () => {
    await fleet?.close();
  });

  const CALLS = 100;
  const BATCH = 10;
  /** A new batch starts while the one before is still reconciling (this sets the call rate). */
  const BATCH_EVERY_MS = 150;

  it('100 dropped POSTs: >= 95% answered with their run id, 0 duplicates, 0 runs handed out twice', async () => {
    const { maia, gateways } = fleet;
    await untilRedisIs(fleet, 'ok');
    const runsBefore = (await runIds(maia)).length;
    await maia.addFault({ route: 'executePipeline', drop: 'after', count: CALLS });

    const calls: Promise<ExecuteAnswer>[] = [];
    for (let batch = 0; batch < CALLS / BATCH; batch++) {
      if (batch > 0) await new Promise((resolve) => setTimeout(resolve, BATCH_EVERY_MS)); // call rate
      for (let i = 0; i < BATCH; i++) calls.push(executeAt(gateways[i % gateways.length]));
    }
    const answers = await Promise.all(calls);

    const created = (await runIds(maia)).slice(runsBefore);
    // Every POST reached Maia once and made one run; none was sent again.
    expect(await maia.count('executePipeline')).toBe(CALLS);
    expect(await maia.count('executePipeline', 'dropped')).toBe(CALLS);
    expect(created).toHaveLength(CALLS);
    // Every answer is a run id or UPSTREAM_OUTCOME_UNKNOWN; each id is a run that exists, given once.
    const answered = answers.flatMap((answer) => (answer.status === 201 && answer.id ? [answer.id] : []));
    const others = answers.filter((answer) => answer.status !== 201);
    expect(others.filter((answer) => answer.code !== 'UPSTREAM_OUTCOME_UNKNOWN')).toEqual([]);
    expect(new Set(answered).size).toBe(answered.length);
    for (const id of answered) expect(created).toContain(id);
    const share = answered.length / CALLS;
    process.stdout.write(
      `dropped POSTs: ${answered.length} of ${CALLS} answered with their run id (${(share * 100).toFixed(0)}%), ` +
        `${others.length} UPSTREAM_OUTCOME_UNKNOWN, ${created.length - CALLS} duplicates\n`,
    );
    expect(share).toBeGreaterThanOrEqual(0.95);
  });
});
