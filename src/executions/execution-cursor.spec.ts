import { GatewayError } from '../common/errors';
import { decodeCursor, encodeCursor, filterHash, type ExecutionCursor } from './execution-cursor';

const hash = filterHash({ status: ['RUNNING'] });
const cursor: ExecutionCursor = {
  version: 2,
  filterHash: hash,
  pageToken: 'page-2',
  offset: 3,
  pageSize: 10,
  startedAfter: '2026-01-01T00:00:00.000Z',
  startedBefore: '2026-01-08T00:00:00.000Z',
};
const base64 = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

describe('execution cursors', () => {
  it('round-trips a cursor written in words', () => {
    expect(decodeCursor(encodeCursor(cursor), hash)).toEqual(cursor);
  });

  it('still reads the letter-keyed cursors clients got before the rename', () => {
    const old = { v: 1, h: hash, t: 'page-2', o: 3, l: 10, a: cursor.startedAfter, b: cursor.startedBefore };
    expect(decodeCursor(base64(old), hash)).toEqual(cursor);
    const firstPage = { v: 1, h: hash, o: 0, l: 5 };
    expect(decodeCursor(base64(firstPage), hash)).toMatchObject({ version: 2, offset: 0, pageSize: 5 });
  });

  it('refuses forged, malformed and foreign cursors in either form', () => {
    for (const forged of [
      base64({ v: 1, h: hash, o: 1_000, l: 3 }),
      base64({ ...cursor, pageSize: 0 }),
      base64({ ...cursor, version: 3 }),
      'not base64 json',
    ]) {
      expect(() => decodeCursor(forged, hash)).toThrow(GatewayError);
    }
    expect(() => decodeCursor(encodeCursor(cursor), filterHash({}))).toThrow(/different filter/);
  });
});
