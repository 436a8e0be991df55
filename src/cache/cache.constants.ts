import { ErrorCode, GatewayError } from '../common/errors';

/** The cached Maia lookups. Executions are never cached: their state changes by the second. */
export const CACHE_RESOURCES = [
  'projects',
  'projectDirectory',
  'environments',
  'pipelines',
  'artifacts',
  'agents',
] as const;
export type CacheResource = (typeof CACHE_RESOURCES)[number];

/**
 * Part of every cache key and channel. Bump it whenever the shape of a cached value changes, so a deploy
 * never reads what an older version wrote (both versions can run side by side during a rollout).
 */
export const CACHE_SCHEMA_VERSION = 'v1';

/** Injection token of the version in use (CACHE_SCHEMA_VERSION; tests override it to play a new deploy). */
export const CACHE_KEY_VERSION = Symbol('CACHE_KEY_VERSION');

/**
 * Upstream errors that are answers, not outages: the thing is gone or may not be seen, or the request was
 * wrong. They drop the entry and reach the caller; stale data never hides them.
 */
const AUTHORITATIVE_CODES = new Set<ErrorCode>([
  ErrorCode.NOT_FOUND,
  ErrorCode.FORBIDDEN,
  ErrorCode.BAD_USER_INPUT,
]);

export function isAuthoritative(error: unknown): boolean {
  return error instanceof GatewayError && AUTHORITATIVE_CODES.has(error.code);
}
