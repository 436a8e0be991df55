import { STATUS_CODES, type IncomingMessage } from 'node:http';

/** What a handler decides; the server writes it (or drops the socket instead when a fault says so). */
export interface Reply {
  status: number;
  body?: string;
  headers: Record<string, string>;
}

/** Thrown by handlers and validators; the server turns it into a problem+json reply. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, body: JSON.stringify(value), headers: { 'content-type': 'application/json', ...headers } };
}

export function problemReply(status: number, detail: string, headers: Record<string, string> = {}): Reply {
  const title = STATUS_CODES[status] ?? 'Error';
  return {
    status,
    body: JSON.stringify({ type: 'about:blank', title, status, detail }),
    headers: { 'content-type': 'application/problem+json', ...headers },
  };
}

export function emptyReply(status: number): Reply {
  return { status, headers: {} };
}

const maxBodyBytes = 1024 * 1024;

/** Reads the raw request body (bounded: 1 MiB is far above any real Maia request). */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        reject(new HttpProblem(413, 'Request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    req.on('error', reject);
    // A client that goes away mid-body must not leave the handler waiting forever.
    req.on('close', () => {
      if (!req.complete) reject(new HttpProblem(400, 'Request body incomplete'));
    });
  });
}

/** Parses a JSON body; an empty body is `undefined`, a malformed one a 400. */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpProblem(400, 'Request body is not valid JSON');
  }
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return value.length === 36 && uuidPattern.test(value);
}

/** A path id: a malformed one is a 400 (bad parameter), a well-formed unknown one is the caller's 404. */
export function uuidParam(value: string, what: string): string {
  if (!isUuid(value)) throw new HttpProblem(400, `${what} must be a UUID`);
  return value.toLowerCase();
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const integerPattern = /^-?\d{1,9}$/;

export interface Paging {
  page: number;
  size: number;
}

/** `page` >= 0 (default 0); `size` default 25, clamped to 1..100 as Maia does. */
export function parsePaging(query: URLSearchParams | null): Paging {
  const pageRaw = query?.get('page') ?? null;
  const sizeRaw = query?.get('size') ?? null;
  let page = 0;
  let size = 25;
  if (pageRaw !== null) {
    if (!integerPattern.test(pageRaw) || Number(pageRaw) < 0)
      throw new HttpProblem(400, 'page must be an integer >= 0');
    page = Number(pageRaw);
  }
  if (sizeRaw !== null) {
    if (!integerPattern.test(sizeRaw)) throw new HttpProblem(400, 'size must be an integer');
    size = Math.min(100, Math.max(1, Number(sizeRaw)));
  }
  return { page, size };
}

export function pageOf<T>(
  items: readonly T[],
  paging: Paging,
): { page: number; size: number; total: number; results: T[] } {
  const from = paging.page * paging.size;
  return {
    page: paging.page,
    size: paging.size,
    total: items.length,
    results: items.slice(from, from + paging.size),
  };
}

/** Parses an integer query value clamped into [min, max]; a non-integer is a 400. */
export function clampedInt(
  raw: string | null,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === null) return fallback;
  if (!integerPattern.test(raw)) throw new HttpProblem(400, `${name} must be an integer`);
  return Math.min(max, Math.max(min, Number(raw)));
}

const isoPattern = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO-8601 instant (date, or date-time with optional offset) in epoch ms; anything else is a 400. */
export function isoParam(raw: string | null, name: string): number | null {
  if (raw === null) return null;
  const ms = isoPattern.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(ms)) throw new HttpProblem(400, `${name} must be an ISO-8601 timestamp`);
  return ms;
}
