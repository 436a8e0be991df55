import { randomUUID } from 'node:crypto';
import { eventually } from '../support/eventually';
import {
  executeAt,
  inBatches,
  runIds,
  startExecuteFleet,
  untilRedisIs,
  type ExecuteAnswer,
  type ExecuteFleet,
} from './execute-fleet';

/**
 * A replica is killed (SIGKILL) while it holds keyed executes whose POSTs Maia is still working on. The
 * callers retry with the same keys at the other replica: once the dead replica's claims lapse, each key's
 * earlier try is resolved from the execution ledger (its run is found) instead of being sent again.
 */
describe('a replica killed mid-execute, keys retried at the other', () => {
  let fleet: ExecuteFleet;

  beforeAll(async () => {
    fleet = await startExecuteFleet({
      // A dead replica's claim lapses after 1 s; a POST may take up to 3 s.
      IDEMPOTENCY_PENDING_TTL_MS: '1000',
      MAIA_DEADLINE_MS: '3000',
    });
  });
  afterAll(async () => {
    await fleet?.close();
  });

  const KEYS = 20;

  it('kill -9 of the replica holding 20 pending executes: retries at the other get 1 run per key', async () => {
    const [dying, survivor] = fleet.gateways;
    const { maia } = fleet;
    await untilRedisIs(fleet, 'ok');
    const runsBefore = (await runIds(maia)).length;
    const executesBefore = await maia.count('executePipeline');
    // Maia is slow: each POST is answered (and its run created) 1.5 s after it arrived.
    await maia.addFault({ route: 'executePipeline', latencyMs: 1_500, count: KEYS });

    const arrived = async () =>
      (await maia.requests()).filter((request) => request.route === 'executePipeline').length;
    const arrivedBefore = await arrived();
    const keys = Array.from({ length: KEYS }, (_, i) => `dead-${i}-${randomUUID()}`);
    const cutShort = keys.map((key) => executeAt(dying, key).catch(() => 'no answer' as const));
    // Every POST has reached Maia (its request log records a request on arrival, before the latency).
    await eventually(async () => expect(await arrived()).toBe(arrivedBefore + KEYS), { timeoutMs: 10_000 });
    // Still answered by none: Maia holds every answer back for 1.5 s.
    expect(await maia.count('executePipeline')).toBe(executesBefore);
    await dying.stop('SIGKILL');
    expect(await Promise.all(cutShort)).toEqual(keys.map(() => 'no answer'));

    /** A client retrying its key after a dropped connection; CONFLICT (still in progress) is retried too. */
    const retry = async (key: string): Promise<ExecuteAnswer> => {
      for (let attempt = 1; ; attempt++) {
        const answer = await executeAt(survivor, key);
        if ((answer.code !== 'CONFLICT' && answer.code !== 'IDEMPOTENCY_UNAVAILABLE') || attempt === 5)
          return answer;
      }
    };
    const retried = await inBatches(keys, KEYS, retry);

    // The runs the dead replica's POSTs made are all there, and not one more.
    await eventually(async () => expect(await runIds(maia)).toHaveLength(runsBefore + KEYS), {
      timeoutMs: 10_000,
    });
    const created = (await runIds(maia)).slice(runsBefore);
    expect(await maia.count('executePipeline')).toBe(executesBefore + KEYS); // never sent again
    // Each key answered with a run of its own, one of those the cut-short POSTs created.
    expect(retried.filter((answer) => answer.status !== 201)).toEqual([]);
    const ids = retried.map((answer) => answer.id);
    expect(new Set(ids).size).toBe(KEYS);
    expect(new Set(ids)).toEqual(new Set(created));
    // A repeat replays the same answer.
    const again = await inBatches(keys, 10, (key) => executeAt(survivor, key));
    expect(again.map((answer) => answer.id)).toEqual(ids);
    expect(again.every((answer) => answer.replayed)).toBe(true);
    process.stdout.write(
      `dead replica: ${KEYS} keys cut short by SIGKILL, ${created.length} runs, ` +
        `${retried.filter((a) => a.status === 201).length} keys answered with their run at the other replica\n`,
    );
  });
});
