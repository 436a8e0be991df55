import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { loadConfig } from '../config';
import { RedisScript } from '../redis/redis.script';
import { RedisService } from '../redis/redis.service';
import { eventually } from '../../test/support/eventually';
import { monitorCommands as monitorRedis } from '../../test/support/redis-monitor';
import { ExecutionLedger, type ExecuteScope } from './maia-execution-ledger';

/**
 * The execute ledger on a real Redis (ADR 0036): what an execute call writes, in how many commands, and
 * what another replica reads from it. Two `RedisService`s under one key prefix are two replicas.
 */

const REDIS_URL = 'redis://127.0.0.1:6379';
const HORIZON_MS = 60_000;
const scope: ExecuteScope = {
  projectId: '4a8a6162-702b-4efc-b2ec-c986e0bc95e4',
  pipelineName: 'FOLDER/load_orders.orch.yaml',
  environmentName: 'Dev',
};

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function replica(prefix: string): Promise<{ ledger: ExecutionLedger; redis: RedisService }> {
  const redis = new RedisService(loadConfig({ REDIS_URL, REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'silent' }));
  await redis.onModuleInit();
  stops.push(async () => {
    await redis.delete(...(await redis.scanKeys(`${prefix}*`)));
    await redis.onApplicationShutdown();
  });
  return { ledger: new ExecutionLedger(redis, HORIZON_MS), redis };
}

/** Commands clients send that name a key under `prefix` (MONITOR; commands run inside scripts left out). */
async function monitorCommands(prefix: string): Promise<string[][]> {
  const monitor = await monitorRedis(REDIS_URL, prefix);
  stops.push(() => monitor.stop());
  return monitor.commands;
}

/** MONITOR reports commands asynchronously: a PING sent after the last one is seen after it. */
async function settled(commands: string[][], prefix: string): Promise<string[][]> {
  const probe = new Redis(REDIS_URL);
  stops.push(async () => probe.disconnect());
  const marker = `${prefix}marker:${randomUUID()}`;
  await probe.exists(marker);
  await eventually(() => commands.some((args) => args.includes(marker)));
  return commands.filter((args) => !args.includes(marker));
}

describe('ExecutionLedger on Redis', () => {
  it('an execute call that gets its answer costs two commands: one script to begin, one to settle', async () => {
    const prefix = `test:ledger:${randomUUID()}:`;
    const { ledger } = await replica(prefix);
    // Scripts are loaded on first use (NOSCRIPT, then EVAL): counted after a first call.
    await ledger.settle(await ledger.begin(scope, 'fp'), randomUUID());
    const commands = await monitorCommands(prefix);
    const intent = await ledger.begin(scope, 'fp');
    await ledger.settle(intent, randomUUID());
    expect((await settled(commands, prefix)).map((args) => args[0])).toEqual(['evalsha', 'evalsha']);
  });

  it('settle sends the caller’s SETs in the same pipeline as its script, expiring as asked', async () => {
    const prefix = `test:ledger:${randomUUID()}:`;
    const { ledger, redis } = await replica(prefix);
    await ledger.settle(await ledger.begin(scope, 'fp'), randomUUID());
    const commands = await monitorCommands(prefix);
    const intent = await ledger.begin(scope, 'fp');
    const runId = randomUUID();
    const launchKey = redis.key('launch', runId);
    const projectKey = redis.key('project', runId);
    const also = {
      entries: [
        { key: launchKey, value: '{"a":1}' },
        { key: projectKey, value: scope.projectId },
      ],
      ttlMs: 30_000,
    };
    expect(await ledger.settle(intent, runId, also)).toBe(true);
    expect((await settled(commands, prefix)).map((args) => args[0])).toEqual([
      'evalsha',
      'evalsha',
      'set',
      'set',
    ]);
    expect(await redis.getMany([launchKey, projectKey])).toEqual(['{"a":1}', scope.projectId]);
    expect(await redis.remainingTtlMs(launchKey)).toBeGreaterThan(25_000);
    expect(await redis.remainingTtlMs(launchKey)).toBeLessThanOrEqual(30_000);
    expect(await redis.get(redis.key('maia', 'executions', 'claimed', runId))).toBe(intent.id);
  });

  it('runScriptAlong loads a script Redis does not know (NOSCRIPT, then EVAL), its SETs written once', async () => {
    const prefix = `test:ledger:${randomUUID()}:`;
    const { redis } = await replica(prefix);
    const script = new RedisScript(`return redis.call('incr', KEYS[1]) -- ${randomUUID()}`);
    const counter = redis.key('counter');
    const also = { entries: [{ key: redis.key('along'), value: 'v' }], ttlMs: 10_000 };
    expect(await redis.runScriptAlong(script, [counter], [], also)).toEqual({ result: 1, written: true });
    expect(await redis.runScriptAlong(script, [counter], [], also)).toEqual({ result: 2, written: true });
    expect(await redis.get(redis.key('along'))).toBe('v');
  });

  it('begin records the intent (expiring) and its place among the scope’s unsettled calls', async () => {
    const prefix = `test:ledger:${randomUUID()}:`;
    const { ledger, redis } = await replica(prefix);
    const other = await replica(prefix);
    const keepMs = 10 * HORIZON_MS;
    const intent = await ledger.begin(scope, 'fp', { id: `attempt-${randomUUID()}`, keepMs });
    const recordKey = redis.key('maia', 'executions', 'intent', intent.id);
    expect(JSON.parse((await redis.get(recordKey)) as string)).toEqual({ ...intent, state: 'sent' });
    // Kept as long as the idempotency try may be retried, when that is longer than the horizon.
    expect(await redis.remainingTtlMs(recordKey)).toBeGreaterThan(keepMs - 5_000);
    const sets = await redis.scanKeys(`${prefix}maia:executions:intents:*`);
    expect(sets).toHaveLength(1);
    expect(await redis.remainingTtlMs(sets[0])).toBeGreaterThan(2 * HORIZON_MS - 5_000);
    expect(await redis.sortedSetScores(sets[0], [intent.id])).toEqual([intent.atMs]);
    // Another replica sees it in flight, and can read its record.
    const mine = await other.ledger.begin(scope, 'fp');
    expect((await other.ledger.others(mine, intent.atMs - 1)).map((r) => r.id)).toEqual([intent.id]);
    expect(await other.ledger.record(intent.id)).toEqual({ ...intent, state: 'sent' });
  });

  it('settle claims the run, records it (keeping the record’s expiry) and takes the call off the set', async () => {
    const prefix = `test:ledger:${randomUUID()}:`;
    const { ledger, redis } = await replica(prefix);
    const other = await replica(prefix);
    const intent = await ledger.begin(scope, 'fp', {
      id: `attempt-${randomUUID()}`,
      keepMs: 10 * HORIZON_MS,
    });
    const runId = randomUUID();
    await ledger.settle(intent, runId);
    const recordKey = redis.key('maia', 'executions', 'intent', intent.id);
    expect(await redis.remainingTtlMs(recordKey)).toBeGreaterThan(10 * HORIZON_MS - 5_000);
    expect(await other.ledger.record(intent.id)).toEqual({ ...intent, state: 'settled', executionId: runId });
    const claimKey = redis.key('maia', 'executions', 'claimed', runId);
    expect(await redis.get(claimKey)).toBe(intent.id);
    const claimTtl = await redis.remainingTtlMs(claimKey);
    expect(claimTtl).toBeGreaterThan(2 * HORIZON_MS - 5_000);
    expect(claimTtl).toBeLessThanOrEqual(2 * HORIZON_MS);
    // The fleet knows the run is taken, and the call is no longer among the unsettled.
    expect(await other.ledger.known([runId, randomUUID()])).toEqual(new Set([runId]));
    const mine = await other.ledger.begin(scope, 'fp');
    expect(await other.ledger.others(mine, 0)).toEqual([]);
    expect(await other.ledger.claim(mine, runId)).toBe(false);
  });

  it('a state change never brings back a record that expired, and only an ending takes a call off the set', async () => {
    const prefix = `test:ledger:${randomUUID()}:`;
    const { ledger, redis } = await replica(prefix);
    const other = await replica(prefix);
    const lost = await ledger.begin(scope, 'fp');
    await redis.delete(redis.key('maia', 'executions', 'intent', lost.id));
    await ledger.reconciling(lost);
    expect(await redis.get(redis.key('maia', 'executions', 'intent', lost.id))).toBeNull();
    const unsure = await ledger.begin(scope, 'fp');
    await ledger.unknown(unsure);
    const abandoned = await ledger.begin(scope, 'fp');
    await ledger.abandon(abandoned);
    expect(await other.ledger.record(abandoned.id)).toEqual({ ...abandoned, state: 'abandoned' });
    const mine = await other.ledger.begin(scope, 'fp');
    const seen = await other.ledger.others(mine, 0);
    // The record-less one counts as in flight (the worst case); the abandoned one is over.
    expect(new Map(seen.map((r) => [r.id, r.state]))).toEqual(
      new Map([
        [lost.id, 'sent'],
        [unsure.id, 'unknown'],
      ]),
    );
  });
});
