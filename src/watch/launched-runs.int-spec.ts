import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { loadConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { eventually } from '../../test/support/eventually';
import { monitorCommands } from '../../test/support/redis-monitor';
import { StrictMaiaDouble } from '../../test/watch/support/strict-maia.double';
import { ExecutionWatchService } from './execution-watch.service';
import { RedisWatchStore } from './redis-watch.store';
import { type ExecutionWatchEvent, type StoredEvent, type WatchStream } from './watch.types';

/**
 * Runs started through the gateway (the start grace of ADR 0004, made cheap by ADR 0028): what they cost
 * while nobody subscribes (upstream calls, Redis commands, counted), and that a client who subscribes
 * later, on this replica or another, still gets STARTED and every change, each once. Real Redis, a strict
 * Maia double; two `ExecutionWatchService`s with their own `RedisService` are two replicas.
 */

const PROJECT = '0f4c1a52-3f0e-4d7e-9a53-52b1e0b8c6a1';
const REDIS_URL = 'redis://127.0.0.1:6379';

const stops: (() => Promise<void>)[] = [];

async function replica(maia: StrictMaiaDouble, prefix: string): Promise<ExecutionWatchService> {
  const config = loadConfig({
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    WATCH_MIN_INTERVAL_MS: '50',
    WATCH_MAX_INTERVAL_MS: '200',
    WATCH_LEASE_MS: '600',
    WATCH_DETAILS_EVERY_POLLS: '3',
    WATCH_START_GRACE_MS: '20000',
  });
  const redis = new RedisService(config);
  await redis.onModuleInit();
  const watch = new ExecutionWatchService(maia, redis, config);
  stops.push(async () => {
    await watch.onModuleDestroy();
    await redis.onApplicationShutdown();
  });
  return watch;
}

async function collect(stream: WatchStream, seen: ExecutionWatchEvent[]): Promise<unknown> {
  try {
    for await (const event of stream) seen.push(event);
    return null;
  } catch (error) {
    return error;
  }
}

const prefix = () => `test:${randomUUID()}:`;

beforeAll(() => Logger.overrideLogger(false));

afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

/** Two replicas on the same keys and one Maia, and a run Maia knows. */
async function twoReplicasAndARun() {
  const maia = new StrictMaiaDouble();
  const keys = prefix();
  const here = await replica(maia, keys);
  const other = await replica(maia, keys);
  const id = randomUUID();
  maia.addRun(PROJECT, id);
  return { maia, here, other, id };
}
describe('runs started through the gateway', () => {
  it('cost one shared listing per round while nobody subscribes: no status call per run, no channel, events and the lease in one script', async () => {
    const maia = new StrictMaiaDouble();
    const keys = prefix();
    const monitor = await monitorCommands(REDIS_URL, keys);
    stops.push(() => monitor.stop());
    const watch = await replica(maia, keys);
    const ids = Array.from({ length: 10 }, () => randomUUID());
    for (const id of ids) maia.addRun(PROJECT, id);
    for (const id of ids) watch.notifyStarted(PROJECT, id);

    // Each run's first round fetches its details (its STARTED event); later rounds share listings.
    await eventually(() => maia.count('getExecution') === 10);
    const listingsBefore = maia.count('listExecutions');
    await eventually(() => maia.count('listExecutions') >= listingsBefore + 5);
    maia.update(ids[0], { message: 'step 1' });
    await eventually(() => maia.count('getExecution') === 11); // the change, seen in a listing
    for (const id of ids) maia.update(id, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    await eventually(() => watch.activity().topics === 0);

    // Upstream: no light status call at all (ten runs polled every 50 ms made one each before), the
    // details once per run for STARTED, once for the change, once per run for FINISHED.
    expect(maia.count('getExecutionStatus')).toBe(0);
    expect(maia.count('getExecution')).toBe(21);
    expect(maia.unexpected).toEqual([]);

    // Redis: nobody listened, so no channel was subscribed; a run launched here takes its lease with its
    // first event (no acquire script, no history read); each event is one script (append, publish and
    // lease extension, or for the last one the release); the only PUBLISHes are the feed nudges of ten
    // launches in a burst: one at the first, one at the end of its minimum interval for the nine that
    // came during it.
    const named = (name: string) => monitor.commands.filter((args) => args[0] === name);
    const appends = () => named('evalsha').filter((args) => args.some((a) => a.endsWith(':seq')));
    await eventually(() => appends().length === 21);
    expect(named('subscribe')).toEqual([]);
    expect(named('unsubscribe')).toEqual([]);
    expect([...named('lrange'), ...named('get'), ...named('set')]).toEqual([]);
    const historyScripts = named('evalsha').filter((args) => args.some((a) => a.endsWith(':history')));
    expect(historyScripts.length).toBe(appends().length);
    await eventually(() =>
      expect(named('publish').map((args) => args[2])).toEqual(['{"type":"nudge"}', '{"type":"nudge"}']),
    );
  });

  it('a run another replica already leads (its subscriber came first): the launch claims nothing, records nothing twice', async () => {
    const { maia, here, other, id } = await twoReplicasAndARun();
    const seen: ExecutionWatchEvent[] = [];
    const done = collect(other.watch(PROJECT, id), seen);
    await eventually(() => seen.length === 1 && other.activity().leaderships === 1);

    // The launching replica leads at once, but its first write finds the lease held: it is refused,
    // and the replica follows (it campaigns) instead of recording a STARTED after the other's SNAPSHOT.
    here.notifyStarted(PROJECT, id);
    await eventually(() => maia.count('getExecution') === 2);
    await eventually(() => here.activity().leaderships === 0 && here.activity().timers > 0);
    maia.update(id, { message: 'extracting' });
    await eventually(() => seen.length === 2);
    maia.update(id, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    expect(await done).toBeNull();

    expect(seen.map((e) => [e.kind, e.execution.message])).toEqual([
      ['SNAPSHOT', null],
      ['CHANGED', 'extracting'],
      ['FINISHED', 'extracting'],
    ]);
    const cursors = seen.map((e) => Number(e.cursor));
    expect(cursors).toEqual([cursors[0], cursors[0] + 1, cursors[0] + 2]);
    expect(maia.unexpected).toEqual([]);
  });

  it('the Redis store: a claiming write takes a free lease of a topic without history, and nothing else', async () => {
    const redis = new RedisService(
      loadConfig({ REDIS_URL, REDIS_KEY_PREFIX: prefix(), LOG_LEVEL: 'silent' }),
    );
    await redis.onModuleInit();
    stops.push(() => redis.onApplicationShutdown());
    const store = new RedisWatchStore(redis);
    const options = { historySize: 10, ttlMs: 60_000, leaseMs: 5_000 };
    const execution = { status: 'RUNNING' } as StoredEvent['execution'];
    const event = (kind: StoredEvent['kind']) => ({ at: new Date().toISOString(), kind, execution });

    // Free lease, no history: the claim takes the lease (another owner cannot), then appends as usual.
    expect(
      await store.append('exec:p:fresh', 'a', event('STARTED'), { ...options, claim: true }),
    ).not.toBeNull();
    expect(await store.acquireLease('exec:p:fresh', 'b', 5_000)).toBe(false);
    expect(await store.append('exec:p:fresh', 'a', event('CHANGED'), options)).not.toBeNull();
    // Held by another owner: refused.
    expect(await store.append('exec:p:fresh', 'b', event('STARTED'), { ...options, claim: true })).toBeNull();
    // Free lease but a history already there: refused, nothing written over it.
    expect(await store.releaseLease('exec:p:fresh', 'a')).toBe(true);
    expect(await store.append('exec:p:fresh', 'b', event('STARTED'), { ...options, claim: true })).toBeNull();
    expect((await store.history('exec:p:fresh')).map((e) => e.kind)).toEqual(['STARTED', 'CHANGED']);
    // Without the claim, a free lease is no lease: refused as before.
    expect(await store.append('exec:p:other', 'a', event('STARTED'), options)).toBeNull();
  });

  it('a client who subscribes after the start, here or on another replica, loses nothing and gets nothing twice', async () => {
    const { maia, here, other, id } = await twoReplicasAndARun();
    here.notifyStarted(PROJECT, id);
    await eventually(() => maia.count('getExecution') === 1);
    maia.update(id, { message: 'extracting' });
    await eventually(() => maia.count('getExecution') === 2);

    // Both join after two events were recorded with nobody listening: here without a cursor (the state
    // as a SNAPSHOT), there resuming from before the run's first event (cursors are consecutive), which
    // replays STARTED and the change.
    const seenHere: ExecutionWatchEvent[] = [];
    const doneHere = collect(here.watch(PROJECT, id), seenHere);
    await eventually(() => seenHere.length === 1);
    const beforeFirst = String(Number(seenHere[0].cursor) - 2);
    const seenThere: ExecutionWatchEvent[] = [];
    const doneThere = collect(other.watch(PROJECT, id, { after: beforeFirst }), seenThere);
    await eventually(() => seenThere.length === 2);
    maia.update(id, { status: 'CANCELLING' });
    await eventually(() => seenHere.length === 2 && seenThere.length === 3);
    maia.update(id, { status: 'CANCELLED', finishedAt: new Date().toISOString(), message: 'cancelled' });
    expect(await doneHere).toBeNull();
    expect(await doneThere).toBeNull();

    const story = (seen: ExecutionWatchEvent[]) =>
      seen.map((e) => [e.kind, e.execution.status, e.execution.message]);
    expect(story(seenThere)).toEqual([
      ['STARTED', 'RUNNING', null],
      ['CHANGED', 'RUNNING', 'extracting'],
      ['CHANGED', 'CANCELLING', 'extracting'],
      ['FINISHED', 'CANCELLED', 'cancelled'],
    ]);
    expect(story(seenHere)).toEqual([
      ['SNAPSHOT', 'RUNNING', 'extracting'],
      ['CHANGED', 'CANCELLING', 'extracting'],
      ['FINISHED', 'CANCELLED', 'cancelled'],
    ]);
    const cursors = seenThere.map((e) => Number(e.cursor));
    expect(cursors).toEqual([cursors[0], cursors[0] + 1, cursors[0] + 2, cursors[0] + 3]);
    expect(seenHere.map((e) => e.cursor)).toEqual(seenThere.slice(1).map((e) => e.cursor));
    // One poller for both replicas: each change fetched once.
    expect(maia.count('getExecution')).toBe(4);
    expect(maia.unexpected).toEqual([]);
  });
});
