/** A UUID of any version, in either case: the shape of Maia's project and execution ids. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_PATTERN.test(value);
}

/** Argument and member names that carry Maia's UUIDs (projects, executions, runners) or a node id. */
const ID_KEYS: ReadonlySet<string> = new Set([
  'id',
  'ids',
  'projectId',
  'executionId',
  'pipelineExecutionId',
  'agentId',
]);

/** Members whose contents are the caller's own data (variables), never ids to rewrite. */
const OPAQUE_KEYS: ReadonlySet<string> = new Set(['scalarVariables', 'gridVariables']);

const lower = (value: unknown): unknown => (isUuid(value) ? value.toLowerCase() : value);

/**
 * UUIDs in one case: the UUID values of id arguments and members (`projectId`, `executionId`, `ids`...)
 * of an input, in lower case as Maia writes them, so every id argument accepts any case and every lookup,
 * cache key and comparison after the edge sees one spelling. Only whole UUIDs change; names and opaque
 * node ids stay as given. Objects are rewritten in place, two levels deep (arguments, their inputs and
 * filters); `key` is the argument's own name when the value is a bare argument.
 */
export function lowerCaseUuids<T>(value: T, key?: string, depth = 0): T {
  if (key !== undefined && ID_KEYS.has(key)) {
    if (typeof value === 'string') return lower(value) as T;
    if (Array.isArray(value)) return value.map(lower) as T;
  }
  if (depth > 2 || typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  for (const [member, inner] of Object.entries(record)) {
    if (OPAQUE_KEYS.has(member)) continue;
    const next = lowerCaseUuids(inner, member, depth + 1);
    if (next !== inner) record[member] = next;
  }
  return value;
}
