import type { FastifyInstance } from 'fastify';

/** The standard `Warning` header value of an answer built from stale cache entries. */
export const STALE_WARNING = '110 - "Response is Stale"';

/**
 * REST answers built from stale cache entries (Maia failing) also carry the standard `Warning: 110` header,
 * beside `x-cache-stale` (set by `installRequestContext`) which names the resources.
 */
export function installStaleWarning(fastify: FastifyInstance): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const stale = request.requestContext?.staleResources;
    if (stale && stale.size > 0) void reply.header('warning', STALE_WARNING);
    done(null, payload);
  });
}
