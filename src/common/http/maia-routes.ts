/**
 * The prefixes under which the gateway answers Maia's own paths: `/api/v1` (the gateway's base) and
 * `/dpc/v1` (Maia's), so a client that swaps its whole base URL and one that swaps only the host both work.
 * One controller is mounted at both; nothing is copied.
 */
export const MAIA_REST_PREFIXES = ['api/v1', 'dpc/v1'] as const;

/** The gateway's own prefix, for routes that Maia does not have (gateway extensions). */
export const GATEWAY_REST_PREFIX = 'api/v1';

/** OpenAPI tag of the routes Maia does not have (live events, cache invalidation). */
export const GATEWAY_EXTENSIONS_TAG = 'Gateway extensions';

/** A Maia path (e.g. `projects/:projectId/environments`) under every prefix, for `@Controller(...)`. */
export function maiaRoutes(path: string): string[] {
  return MAIA_REST_PREFIXES.map((prefix) => `${prefix}/${path}`);
}
