import { createHash } from 'node:crypto';
import { ErrorCode, GatewayError } from '../common/errors';
import type { ExecutionListFilter } from '../maia/maia.types';

/**
 * Cursor of the executions connection. Maia pages with opaque tokens, so a cursor names the upstream page
 * (`t`, absent for the first), the position inside it (`o`) and the page size it was fetched with (`l`, so
 * the same page comes back), the time window resolved on the first page (`a`, `b`: the default window must
 * not slide between pages), and a hash of the filter (`h`), so a cursor is refused with another filter.
 */
export interface ExecutionCursor {
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
  let cursor: ExecutionCursor;
  try {
    cursor = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as ExecutionCursor;
  } catch {
    throw invalid();
  }
  const valid =
    typeof cursor === 'object' &&
    cursor !== null &&
    cursor.v === 1 &&
    typeof cursor.h === 'string' &&
    (cursor.t === undefined || (typeof cursor.t === 'string' && cursor.t.length <= 2048)) &&
    Number.isInteger(cursor.o) &&
    cursor.o >= 0 &&
    cursor.o <= 100 &&
    Number.isInteger(cursor.l) &&
    cursor.l >= 1 &&
    cursor.l <= 100 &&
    (cursor.a === undefined || typeof cursor.a === 'string') &&
    (cursor.b === undefined || typeof cursor.b === 'string');
  if (!valid) throw invalid();
  if (cursor.h !== expectedHash) {
    throw new GatewayError(
      ErrorCode.BAD_USER_INPUT,
      'This cursor belongs to a different filter: use it with the filter it came from, or start without `after`',
    );
  }
  return cursor;
}

function invalid(): GatewayError {
  return new GatewayError(
    ErrorCode.BAD_USER_INPUT,
    'Invalid cursor: pass an endCursor or edge cursor as it was given',
  );
}
