import { SetMetadata } from '@nestjs/common';

/** Metadata key of `@EdgeRead()` on a REST handler. */
export const EDGE_READ = 'maia-gateway:edge-read';

/**
 * Declares a REST read the HTTP edge may serve by calling the handler itself, before Fastify's and
 * Nest's per-request layers (`edge-reads.ts`): a `GET` without path parameters or a body, whose handler
 * takes `(@Query() query, @CurrentPrincipal() principal)` and builds its answer from the engine's cached
 * lookups. The edge still admits the caller (`AuthGate`), checks the route's `@RequireScope`, validates
 * the query with the gateway's validation pipe, and counts and logs the request like any other; anything
 * it is not sure of (a refusal, an unusual query string, a body) goes the normal way, answered there.
 * A route whose shape does not match is left to Nest, with a warning at start.
 */
export const EdgeRead = (): MethodDecorator => SetMetadata(EDGE_READ, true);
