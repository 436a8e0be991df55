import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { StrictMaiaDouble } from '../../test/watch/support/strict-maia.double';
import { GatewayError, ErrorCode } from '../common/errors';
import { LaunchedRunsBoard } from './launched-runs.board';

/**
 * The board of runs launched here against a strict Maia double with Maia's token paging (100 runs a page,
 * newest first): what one listing says of a run it saw, of one it did not see, and of every run when it
 * was cut short at its bound (50 pages) or failed.
 */

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const GRACE_MS = 10_000;

/** `count` runs still going, started a millisecond apart (the last one newest), their ids oldest first. */
function runsGoing(maia: StrictMaiaDouble, count: number): string[] {
  const start = Date.now() - count;
  return Array.from({ length: count }, (_, i) => {
    const id = randomUUID();
    maia.addRun(PROJECT, id, { startedAt: new Date(start + i).toISOString() });
    return id;
  });
}

describe('LaunchedRunsBoard', () => {
  let maia: StrictMaiaDouble;
  let board: LaunchedRunsBoard;
  const launchedAt = Date.now() - 60_000;

  beforeEach(() => {
    maia = new StrictMaiaDouble();
    board = new LaunchedRunsBoard(maia, { freshMs: 60_000, graceMs: GRACE_MS });
  });

  afterEach(() => {
    jest.restoreAllMocks();
    expect(maia.unexpected).toEqual([]);
  });

  it('answers a run still going as listed, and one that finished as absent, from one listing', async () => {
    const [finished, going] = runsGoing(maia, 2);
    maia.update(finished, { status: 'SUCCESS', finishedAt: new Date().toISOString() });
    await expect(board.observe(PROJECT, going, launchedAt)).resolves.toEqual({
      kind: 'listed',
      run: { status: 'RUNNING', message: null, finishedAt: null },
    });
    await expect(board.observe(PROJECT, finished, launchedAt)).resolves.toEqual({ kind: 'absent' });
    expect(maia.count('listExecutions')).toBe(1);
  });

  it('reads every page while Maia says there are more', async () => {
    const ids = runsGoing(maia, 250);
    // The oldest run is on the third page.
    await expect(board.observe(PROJECT, ids[0], launchedAt)).resolves.toMatchObject({ kind: 'listed' });
    expect(maia.count('listExecutions')).toBe(3);
  });

  it('cut short at its bound: answers the runs it reached, and only the ones past its end are unknown', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // 5 000 runs fit in the listing's 50 pages; the 20 oldest are past its end.
    const ids = runsGoing(maia, 5_020);
    const newest = ids[ids.length - 1];
    const lastReached = ids[20];
    const pastTheEnd = ids[19];
    await expect(board.observe(PROJECT, newest, launchedAt)).resolves.toMatchObject({ kind: 'listed' });
    await expect(board.observe(PROJECT, lastReached, launchedAt)).resolves.toMatchObject({
      kind: 'listed',
    });
    // Not seen, and the listing did not reach the end: it may still be going. Not absent.
    await expect(board.observe(PROJECT, pastTheEnd, launchedAt)).resolves.toEqual({ kind: 'unknown' });
    await expect(board.observe(PROJECT, randomUUID(), launchedAt)).resolves.toEqual({ kind: 'unknown' });
    expect(maia.count('listExecutions')).toBe(50);

    // Warned once while its listings are cut short, not twice a second.
    const cutShortWarnings = () => warn.mock.calls.filter(([m]) => String(m).includes('more than 5000'));
    expect(cutShortWarnings()).toHaveLength(1);
    const later = new LaunchedRunsBoard(maia, { freshMs: 0, graceMs: GRACE_MS });
    await later.observe(PROJECT, newest, launchedAt);
    await later.observe(PROJECT, newest, Date.now());
    expect(warn.mock.calls.filter(([m]) => String(m).includes('more than 5000')).length).toBe(2);
  });

  it('says nothing from a listing that failed, not even of the runs its first pages had', async () => {
    const ids = runsGoing(maia, 150);
    maia.failNext('listExecutions', new GatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, 'Maia is away'));
    await expect(board.observe(PROJECT, ids[149], launchedAt)).resolves.toEqual({ kind: 'unknown' });

    // The first page answers, the second fails: what the first page said is not answered either.
    const listPage = maia.listExecutions.bind(maia);
    jest.spyOn(maia, 'listExecutions').mockImplementation(async (filter) => {
      if (filter.paginationToken !== undefined) {
        throw new GatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, 'Maia is away');
      }
      return listPage(filter);
    });
    const fresh = new LaunchedRunsBoard(maia, { freshMs: 60_000, graceMs: GRACE_MS });
    await expect(fresh.observe(PROJECT, ids[149], launchedAt)).resolves.toEqual({ kind: 'unknown' });
    await expect(fresh.observe(PROJECT, ids[0], launchedAt)).resolves.toEqual({ kind: 'unknown' });
    expect(maia.listExecutions).toHaveBeenCalledTimes(2);
  });
});
