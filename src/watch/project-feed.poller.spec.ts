import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { loadConfig } from '../config';
import { StrictMaiaDouble } from '../../test/watch/support/strict-maia.double';
import { type LeaderContext } from './poll.loop';
import { ProjectFeedPoller } from './project-feed.poller';
import { type StoredEvent } from './watch.types';

/**
 * The feed's list poller against a strict Maia double with Maia's token paging, and a leader context kept
 * in memory: what it announces, and how many list calls each round costs.
 */

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const config = loadConfig({
  LOG_LEVEL: 'silent',
  WATCH_LEASE_MS: '1000',
  WATCH_MAX_INTERVAL_MS: '1000',
}).watch;
/** The poller's handover time with this configuration: two leases and the longest interval. */
const HANDOVER_MS = 3_000;

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

class MemoryLeader implements LeaderContext {
  readonly events: StoredEvent[] = [];
  readonly state = new Map<string, string>();
  readonly launchedHere = false;
  readonly launchedAt = null;
  private sequence = 0;

  async record(event: Omit<StoredEvent, 'sequence'>): Promise<StoredEvent> {
    this.sequence += 1;
    const stored = { ...event, sequence: this.sequence };
    this.events.push(stored);
    return stored;
  }

  async fail(): Promise<void> {
    throw new Error('the feed should not fail here');
  }

  async history(): Promise<StoredEvent[]> {
    return this.events;
  }

  async latest(): Promise<StoredEvent | null> {
    return this.events.at(-1) ?? null;
  }

  async getState(name: string): Promise<string | null> {
    return this.state.get(name) ?? null;
  }

  async setState(name: string, value: string): Promise<boolean> {
    this.state.set(name, value);
    return true;
  }

  told(): string[][] {
    return this.events.map((e) => [e.kind, e.execution.pipelineExecutionId, e.execution.status]);
  }
}

async function poller(maia: StrictMaiaDouble, leader: MemoryLeader): Promise<ProjectFeedPoller> {
  const feed = new ProjectFeedPoller(PROJECT, leader, maia, config);
  await feed.start();
  return feed;
}

/** One round; the list calls it made. */
async function round(maia: StrictMaiaDouble, feed: ProjectFeedPoller): Promise<number> {
  const before = maia.count('listExecutions');
  await feed.poll(new AbortController().signal);
  return maia.count('listExecutions') - before;
}

beforeAll(() => Logger.overrideLogger(false));

describe('ProjectFeedPoller', () => {
  it('a nudge lists again as soon as the min interval since the last round allows, at once after a quiet spell', async () => {
    const maia = new StrictMaiaDouble();
    const feed = await poller(maia, new MemoryLeader());
    // No round yet: nothing to keep apart from.
    expect(feed.nudge()).toBe(0);
    await round(maia, feed);
    // Just listed: the floor of one list per min interval holds (less what elapsed since the round).
    const right = feed.nudge();
    expect(right).toBeGreaterThan(config.minIntervalMs - 500);
    expect(right).toBeLessThanOrEqual(config.minIntervalMs);
    // A round that began longer ago than the min interval: at once.
    jest.useFakeTimers({
      now: Date.now() + config.minIntervalMs + 1,
      doNotFake: ['nextTick', 'setImmediate'],
    });
    try {
      expect(feed.nudge()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('pages past the first 100 runs to the oldest run still going, and reads one page once nothing old is open', async () => {
    const maia = new StrictMaiaDouble();
    const leader = new MemoryLeader();
    const long = randomUUID();
    maia.addRun(PROJECT, long, { startedAt: ago(600_000) });
    for (let i = 0; i < 150; i += 1) {
      maia.addRun(PROJECT, randomUUID(), {
        startedAt: ago(300_000 - i),
        status: 'SUCCESS',
        finishedAt: ago(200_000),
      });
    }
    const feed = await poller(maia, leader);

    // No baseline: the whole window, two pages; nothing that old is announced.
    expect(await round(maia, feed)).toBe(2);
    expect(leader.events).toEqual([]);
    // The long run is still going: every round pages down to it.
    expect(await round(maia, feed)).toBe(2);
    maia.update(long, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    expect(await round(maia, feed)).toBe(2);
    expect(leader.told()).toEqual([['FINISHED', long, 'SUCCESS']]);
    // Nothing open any more: one page finds every new run, and the snapshot forgets the old finished ones.
    expect(await round(maia, feed)).toBe(1);
    const snapshot = JSON.parse(leader.state.get('feed-snapshot') ?? '{}') as { runs: unknown[] };
    expect(snapshot.runs).toHaveLength(1);
    const fresh = randomUUID();
    maia.addRun(PROJECT, fresh);
    expect(await round(maia, feed)).toBe(1);
    expect(leader.told().at(-1)).toEqual(['STARTED', fresh, 'RUNNING']);
    expect(maia.unexpected).toEqual([]);
  });

  it('announces 150 new runs of one round, each STARTED (as it began) then FINISHED when it already ended', async () => {
    const maia = new StrictMaiaDouble();
    const leader = new MemoryLeader();
    const feed = await poller(maia, leader);
    expect(await round(maia, feed)).toBe(1);
    const ids = Array.from({ length: 150 }, (_, i) => {
      const id = randomUUID();
      maia.addRun(PROJECT, id, {
        startedAt: ago(1_000 - i),
        status: 'SUCCESS',
        finishedAt: new Date().toISOString(),
        message: 'done',
      });
      return id;
    });
    expect(await round(maia, feed)).toBe(2);

    expect(leader.told()).toEqual(
      ids.flatMap((id) => [
        ['STARTED', id, 'RUNNING'],
        ['FINISHED', id, 'SUCCESS'],
      ]),
    );
    const started = leader.events[0].execution;
    expect(started).toMatchObject({ finishedAt: null, message: null, rawStatus: 'RUNNING' });
  });

  it('after a gap (a snapshot older than a handover), announces the starts and finishes since it, and no undatable change', async () => {
    const maia = new StrictMaiaDouble();
    const leader = new MemoryLeader();
    const [before, finishing, changing, within] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    maia.addRun(PROJECT, before, { startedAt: ago(300_000) });
    maia.addRun(PROJECT, changing, { startedAt: ago(180_000) });
    maia.addRun(PROJECT, finishing, { startedAt: ago(120_000) });
    const earlier = await poller(maia, leader);
    await round(maia, earlier);
    // Taken a minute ago; since then nobody polled.
    const snapshot = JSON.parse(leader.state.get('feed-snapshot') ?? '{}') as { listedAt: number };
    leader.state.set('feed-snapshot', JSON.stringify({ ...snapshot, listedAt: Date.now() - 60_000 }));
    maia.update(before, { status: 'FAILED', finishedAt: ago(90_000) }); // before the snapshot: old
    maia.update(finishing, { status: 'SUCCESS', finishedAt: ago(30_000) });
    maia.update(changing, { message: 'step 2 of 3' });
    maia.addRun(PROJECT, within, { startedAt: ago(20_000), status: 'SUCCESS', finishedAt: ago(10_000) });

    await round(maia, await poller(maia, leader));

    expect(leader.told()).toEqual([
      ['FINISHED', finishing, 'SUCCESS'],
      ['STARTED', within, 'RUNNING'],
      ['FINISHED', within, 'SUCCESS'],
    ]);
  });

  it('without any snapshot, announces only what happened within a handover before it began', async () => {
    const maia = new StrictMaiaDouble();
    const leader = new MemoryLeader();
    const [old, recent] = [randomUUID(), randomUUID()];
    maia.addRun(PROJECT, old, { startedAt: ago(60_000), status: 'SUCCESS', finishedAt: ago(50_000) });
    maia.addRun(PROJECT, recent, { startedAt: ago(HANDOVER_MS / 2) });

    await round(maia, await poller(maia, leader));

    expect(leader.told()).toEqual([['STARTED', recent, 'RUNNING']]);
  });
});
