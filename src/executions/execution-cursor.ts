import { createHash } from 'node:crypto';
import { ErrorCode, GatewayError } from '../common/errors';
import type { ExecutionListFilter } from '../maia/maia.types';

/**
 * Cursor of the executions connection. Maia pages with opaque tokens, so a cursor names the upstream page
 * (absent for the first), the position inside it, the page size it was fetched with (so the same page comes
 * back), the time window resolved on the first page (the default window must not slide between pages) and
 * a hash of the filter, so a cursor is refused with another filter.
 */
export interface ExecutionCursor {
  version: 2;
  filterHash: string;
  pageToken?: string;
  offset: number;
  pageSize: number;
  startedAfter?: string;
  startedBefore?: string;
}

/** The letter-keyed form cursors had before version 2; clients may still hold them across a deploy. */
interface LetterKeyedCursor {
  v: 1;
  h: string;
  t?: string;
  o: number;
  l: number;
  a?: string;
  b?: string;
}

export type UserFilter = Omit<ExecutionListFilter, 'limit' | 'paginationToken'>;

/** A short, stable hash of what the caller asked for (statuses in any order count as the same filter). */
export function filterHash(filter: UserFilter): string {
  const canonical = {
    projectId: filter.projectId ?? null,
    pipelineName: filter.pipelineName ?? null,
    environmentName: filter.environmentName ?? null,
    status: filter.status ? [...new Set(filter.status)].sort() : null,
    scheduleId: filter.scheduleId ?? null,
    startedAfter: filter.startedAfter ?? null,
    startedBefore: filter.startedBefore ?? null,
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url').slice(0, 16);
}

export function encodeCursor(cursor: ExecutionCursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

export function decodeCursor(value: string, expectedHash: string): ExecutionCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const cursor = fromLetterKeyed(parsed);
  const valid =
    typeof cursor === 'object' &&
    cursor !== null &&
    cursor.version === 2 &&
    typeof cursor.filterHash === 'string' &&
    (cursor.pageToken === undefined ||
      (typeof cursor.pageToken === 'string' && cursor.pageToken.length <= 2048)) &&
    Number.isInteger(cursor.offset) &&
    cursor.offset >= 0 &&
    cursor.offset <= 100 &&
    Number.isInteger(cursor.pageSize) &&
    cursor.pageSize >= 1 &&
    cursor.pageSize <= 100 &&
    (cursor.startedAfter === undefined || typeof cursor.startedAfter === 'string') &&
    (cursor.startedBefore === undefined || typeof cursor.startedBefore === 'string');
  if (!valid) throw invalid();
  if (cursor.filterHash !== expectedHash) {
    throw new GatewayError(
      ErrorCode.BAD_USER_INPUT,
      'This cursor belongs to a different filter: use it with the filter it came from, or start without `after`',
    );
  }
  return cursor;
}

/** A version-1 cursor in today's words; anything else as it came, for the checks above. */
function fromLetterKeyed(parsed: unknown): ExecutionCursor {
  const old = parsed as Partial<LetterKeyedCursor> | null;
  if (typeof old !== 'object' || old === null || old.v !== 1) return parsed as ExecutionCursor;
  return {
    version: 2,
    filterHash: old.h,
    pageToken: old.t,
    offset: old.o,
    pageSize: old.l,
    startedAfter: old.a,
    startedBefore: old.b,
  } as ExecutionCursor;
}

function invalid(): GatewayError {
  return new GatewayError(
    ErrorCode.BAD_USER_INPUT,
    'Invalid cursor: pass an endCursor or edge cursor as it was given',
  );
}
