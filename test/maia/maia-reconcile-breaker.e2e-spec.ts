import { randomUUID } from 'node:crypto';
import { eventually } from '../support/eventually';
import { seed, useMaiaSuite, type MaiaHarness } from './support/maia-harness';

/**
 * A burst of execute POSTs whose answers are lost (dropped after Maia acted) opens the circuit breaker:
 * each drop is a failure of the host. The reconciliation listings that follow are how the gateway learns
 * which runs those POSTs created; refused by the open breaker they learnt nothing, and every caller got
 * UPSTREAM_OUTCOME_UNKNOWN (and might retry, creating a second run) although each run existed. They pass
 * the open breaker: the gateway's production breaker settings (5 failures, open for 10 s).
 */

const suite = useMaiaSuite();
const run = { pipelineName: seed.orders, environmentName: 'Dev' };

type Outcome = { id: string; reconciled: boolean } | { code: string };

async function execute(h: MaiaHarness): Promise<Outcome> {
  try {
    const result = await suite.watch.observe(h.api.executePipeline(seed.analytics, run));
    return { id: result.pipelineExecutionId, reconciled: result.reconciled };
  } catch (error) {
    return { code: (error as { code: string }).code };
  }
}

describe('dropped POSTs that open the circuit breaker', () => {
  it('are still reconciled to the runs they created, each to its own', async () => {
    // With Redis, as in production: the execution ledger is shared by the replicas.
    const h = await suite.harness({
      warm: true,
      redisPrefix: `test:${randomUUID()}:`,
      env: { MAIA_BREAKER_FAILURE_THRESHOLD: '5', MAIA_BREAKER_OPEN_MS: '10000', MAIA_MAX_ATTEMPTS: '1' },
    });
    const before = new Set((await suite.maia.executions()).map((e) => e.pipelineExecutionId));
    // Maia is slow, then acts and loses every answer.
    await suite.maia.addFault({ route: 'executePipeline', drop: 'after', latencyMs: 700, count: 6 });
    const pending = Array.from({ length: 6 }, () => execute(h));
    await eventually(async () =>
      expect((await suite.maia.requests()).filter((r) => r.route === 'executePipeline')).toHaveLength(6),
    );
    // Meanwhile Maia fails other calls: the breaker opens while the POSTs wait for their answers.
    await suite.maia.addFault({ route: 'listEnvironments', status: 503, count: 5 });
    for (let i = 0; i < 5; i++) await h.api.listEnvironments(seed.analytics).catch(() => undefined);
    expect(h.transport.breakerFor().state).toBe('open');
    const outcomes = await Promise.all(pending);

    const created = (await suite.maia.executions())
      .map((e) => e.pipelineExecutionId)
      .filter((id) => !before.has(id));
    expect(created).toHaveLength(6);
    expect(await suite.maia.count('executePipeline', 'dropped')).toBe(6);
    const answered = outcomes.flatMap((o) => ('id' in o ? [o.id] : []));
    expect(outcomes.filter((o) => 'code' in o)).toEqual([]);
    expect(new Set(answered).size).toBe(6);
    for (const id of answered) expect(created).toContain(id);
    // A listing that got through does not close the breaker: only its single probe may (see the spec).
    expect(h.transport.breakerFor().state).not.toBe('closed');
  });

  it('other calls are still refused while it is open', async () => {
    const h = await suite.harness({
      warm: true,
      env: { MAIA_BREAKER_FAILURE_THRESHOLD: '5', MAIA_BREAKER_OPEN_MS: '10000' },
    });
    await suite.maia.addFault({ route: 'listEnvironments', status: 503 });
    for (let i = 0; i < 5; i++) await h.api.listEnvironments(seed.analytics).catch(() => undefined);
    await suite.maia.clearFaults();
    const callsBefore = await suite.maia.count('listEnvironments');
    await expect(h.api.listEnvironments(seed.analytics)).rejects.toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
    });
    await expect(h.api.listExecutions({ projectId: seed.analytics })).rejects.toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
    });
    expect(await suite.maia.count('listEnvironments')).toBe(callsBefore);
  });
});
