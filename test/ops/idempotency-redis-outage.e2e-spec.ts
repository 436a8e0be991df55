import { randomUUID } from 'node:crypto';
import {
  ORDERS,
  PROJECT_ID,
  executeAt,
  inBatches,
  runIds,
  startExecuteFleet,
  untilRedisIs,
  type ExecuteAnswer,
  type ExecuteFleet,
} from './execute-fleet';

/**
 * An idempotency key holds across replicas only through the shared store. Two gateway processes share a
 * Redis of the test's own; it dies, and every key is sent to both replicas at once during the outage and
 * again after Redis came back (empty, without persistence). A keyed execute is refused while the store is
 * away (nothing runs on a replica's private memory) and runs once after, whoever asks.
 */
describe('idempotency keys through a Redis outage, two replicas', () => {
  let fleet: ExecuteFleet;

  beforeAll(async () => {
    fleet = await startExecuteFleet();
  });
  afterAll(async () => {
    await fleet?.close();
  });

  const KEYS = 200;

  /** Both replicas get `key` at the same moment. */
  async function atBoth(key: string): Promise<ExecuteAnswer[]> {
    return Promise.all(fleet.gateways.map((gateway) => executeAt(gateway, key)));
  }

  let refusedAfterOutage = 0;
  /**
   * As a client that follows the contract: IDEMPOTENCY_UNAVAILABLE (e.g. a Redis command that timed out
   * on this busy machine) is retried with the same key after Retry-After, a few times.
   */
  async function atBothRetrying(key: string): Promise<ExecuteAnswer[]> {
    return Promise.all(
      fleet.gateways.map(async (gateway) => {
        for (let attempt = 1; ; attempt++) {
          const answer = await executeAt(gateway, key);
          if (answer.code !== 'IDEMPOTENCY_UNAVAILABLE' || attempt === 5) return answer;
          refusedAfterOutage++;
          // The wait Retry-After asks for (a client's pause, not a test's sleep for a condition).
          await new Promise((resolve) => setTimeout(resolve, Number(answer.retryAfter) * 1000));
        }
      }),
    );
  }

  it('200 keys at both replicas: refused with IDEMPOTENCY_UNAVAILABLE during the outage, one run per key after', async () => {
    const [a, b] = fleet.gateways;
    const { maia, redis } = fleet;
    await untilRedisIs(fleet, 'ok');

    // A key used before the outage: its run is known to both replicas through Redis.
    const earlyKey = `early-${randomUUID()}`;
    const early = await executeAt(a, earlyKey);
    expect(early.status).toBe(201);
    expect(await executeAt(b, earlyKey)).toMatchObject({ status: 201, id: early.id, replayed: true });

    await redis.kill();
    await untilRedisIs(fleet, 'degraded');
    const runsAtOutage = (await runIds(maia)).length;
    const executesAtOutage = await maia.count('executePipeline');

    const keys = Array.from({ length: KEYS }, (_, i) => `outage-${i}-${randomUUID()}`);
    const during = (await inBatches(keys, 16, atBoth)).flat();
    expect(during).toHaveLength(2 * KEYS);
    // Refused, with the retryable code and when to retry; nothing reached Maia, nothing ran.
    expect(during.filter((answer) => answer.status !== 503)).toEqual([]);
    expect(new Set(during.map((answer) => answer.code))).toEqual(new Set(['IDEMPOTENCY_UNAVAILABLE']));
    expect(during.every((answer) => Number(answer.retryAfter) >= 1)).toBe(true);
    // The key used before the outage is refused too: no replica answers from its own memory.
    expect((await atBoth(earlyKey)).map((answer) => answer.code)).toEqual([
      'IDEMPOTENCY_UNAVAILABLE',
      'IDEMPOTENCY_UNAVAILABLE',
    ]);
    // GraphQL says the same, in the error's extensions.
    const graphql = await fetch(`${a.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query:
          'mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }',
        variables: { input: { projectId: PROJECT_ID, ...ORDERS, idempotencyKey: keys[0] } },
      }),
    });
    const { errors } = (await graphql.json()) as {
      errors: { message: string; extensions: Record<string, unknown> }[];
    };
    expect(errors).toHaveLength(1);
    expect(errors[0].extensions).toMatchObject({ code: 'IDEMPOTENCY_UNAVAILABLE', retryAfterSeconds: 2 });
    expect(errors[0].message).not.toMatch(/redis|127\.0\.0\.1/i);
    expect(await maia.count('executePipeline')).toBe(executesAtOutage);
    expect(await runIds(maia)).toHaveLength(runsAtOutage);

    await redis.restart(); // empty: no persistence
    await untilRedisIs(fleet, 'ok');
    const after = await inBatches(keys, 16, atBothRetrying);

    // Per key: every caller that got an id got the same one, and each key made at most one run.
    const idsPerKey = after.map((answers) => new Set(answers.flatMap((x) => (x.id ? [x.id] : []))));
    const twoIds = idsPerKey.filter((ids) => ids.size > 1);
    expect(twoIds).toEqual([]);
    expect(after.flat().filter((answer) => answer.status !== 201)).toEqual([]);
    const created = (await runIds(maia)).slice(runsAtOutage);
    const answered = new Set(idsPerKey.flatMap((ids) => [...ids]));
    expect(created.length).toBeLessThanOrEqual(KEYS);
    expect(created.length).toBe(answered.size);
    expect(new Set(created)).toEqual(answered);
    // Of each pair, one ran it and the other replayed it.
    expect(after.filter(([x, y]) => x.replayed === y.replayed)).toEqual([]);

    // The early key's record went with the unpersisted Redis: both replicas now agree on one answer for
    // it (a new run), never each its own from memory.
    const earlyAfter = await atBoth(earlyKey);
    expect(earlyAfter.map((answer) => answer.status)).toEqual([201, 201]);
    expect(earlyAfter[0].id).toBe(earlyAfter[1].id);
    process.stdout.write(
      `idempotency through a Redis outage: ${KEYS} keys x 2 replicas, ${during.length} refused during, ` +
        `${created.length} runs after (${refusedAfterOutage} answers retried after IDEMPOTENCY_UNAVAILABLE), ` +
        `${twoIds.length} keys told two ids\n`,
    );
  });
});
