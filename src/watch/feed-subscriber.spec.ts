import { ErrorCode, GatewayError } from '../common/errors';
import { type MaiaExecution } from '../maia/maia.types';
import { FeedSubscriber } from './watch.subscribers';
import { type ExecutionEventKind, type StoredEvent } from './watch.types';

/** A feed subscriber keeps what happened after it subscribed, whatever order the store hands it events in. */

const SINCE = Date.parse('2026-12-05T10:00:00.000Z');
const iso = (offsetMs: number) => new Date(SINCE + offsetMs).toISOString();

let sequence = 0;
function event(
  kind: ExecutionEventKind,
  id: string,
  times: { startedAt: number; finishedAt?: number; seenAt: number },
): StoredEvent {
  sequence += 1;
  const execution = {
    pipelineExecutionId: id,
    status: kind === 'FINISHED' ? 'SUCCESS' : 'RUNNING',
    startedAt: iso(times.startedAt),
    finishedAt: times.finishedAt === undefined ? null : iso(times.finishedAt),
    environmentName: 'Dev',
  } as MaiaExecution;
  return { sequence, at: iso(times.seenAt), kind, execution };
}

describe('FeedSubscriber', () => {
  it('drops events of starts, finishes and changes from before it subscribed, even when stored after', async () => {
    const subscriber = new FeedSubscriber({}, () => undefined, { sinceMs: SINCE });
    const replayed = [
      // The history a new hub catches up from: a run that ended before the subscription.
      event('STARTED', 'old', { startedAt: -9_000, seenAt: -8_000 }),
      event('FINISHED', 'old', { startedAt: -9_000, finishedAt: -5_000, seenAt: -4_000 }),
      event('CHANGED', 'going', { startedAt: -7_000, seenAt: -3_000 }),
      // Stored after the subscription, of a run that ended before it (a first round after a gap).
      event('FINISHED', 'gap', { startedAt: -3_000, finishedAt: -1_000, seenAt: 500 }),
      // What happened since.
      event('FINISHED', 'going', { startedAt: -7_000, finishedAt: 200, seenAt: 600 }),
      event('STARTED', 'new', { startedAt: 300, seenAt: 2_500 }),
      event('FINISHED', 'new', { startedAt: 300, finishedAt: 1_300, seenAt: 2_500 }),
      event('CHANGED', 'other', { startedAt: -20_000, seenAt: 2_600 }),
    ];
    for (const e of replayed) subscriber.onEvent(e);
    subscriber.onEvent(replayed[4]); // delivered twice (pub/sub and a gap fill): once

    subscriber.queue.end();

    const received: string[] = [];
    for await (const value of subscriber.queue) {
      received.push(`${value.kind} ${value.execution.pipelineExecutionId}`);
    }
    expect(received).toEqual(['FINISHED going', 'STARTED new', 'FINISHED new', 'CHANGED other']);
  });

  it('resuming after a cursor: the kept events after it (old or not), live ones held back meanwhile, each once', async () => {
    const history = [
      event('STARTED', 'a', { startedAt: -9_000, seenAt: -8_000 }),
      event('STARTED', 'b', { startedAt: -7_000, seenAt: -6_000 }),
      event('FINISHED', 'a', { startedAt: -9_000, finishedAt: -5_000, seenAt: -4_000 }),
    ];
    const live = event('FINISHED', 'b', { startedAt: -7_000, finishedAt: 100, seenAt: 200 });
    const subscriber = new FeedSubscriber({}, () => undefined, { after: history[0].sequence });
    expect(subscriber.resumes).toBe(true);
    subscriber.onEvent(live); // arrives while it reads the history
    subscriber.catchUp([...history, live], null);
    subscriber.onEvent(live);
    subscriber.queue.end();

    const received: string[] = [];
    for await (const value of subscriber.queue)
      received.push(`${value.kind} ${value.execution.pipelineExecutionId}`);
    expect(received).toEqual(['STARTED b', 'FINISHED a', 'FINISHED b']);
  });

  it('a cursor the history no longer reaches, or never issued, ends the stream with BAD_USER_INPUT', async () => {
    const history = [
      event('STARTED', 'a', { startedAt: 0, seenAt: 0 }),
      event('FINISHED', 'a', { startedAt: 0, finishedAt: 10, seenAt: 20 }),
    ];
    for (const after of [history[0].sequence - 2, history[1].sequence + 1]) {
      const subscriber = new FeedSubscriber({}, () => undefined, { after });
      subscriber.catchUp(history, null);
      await expect(subscriber.queue.next()).rejects.toMatchObject({
        code: ErrorCode.BAD_USER_INPUT,
        details: { field: 'after' },
      });
    }
    const empty = new FeedSubscriber({}, () => undefined, { after: 5 });
    empty.catchUp([], null);
    await expect(empty.queue.next()).rejects.toBeInstanceOf(GatewayError);
  });
});
