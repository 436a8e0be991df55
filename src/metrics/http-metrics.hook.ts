import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type HttpTransport, type MetricsService } from './metrics.service';

/** Probes and scrapes are not counted: they would dwarf real traffic and tell nothing about it. */
const UNCOUNTED_ROUTES = new Set(['/health/live', '/health/ready', '/metrics']);
const GRAPHQL_PATH = '/graphql';
/** The REST face: the gateway's base and Maia's own (`/dpc/v1`, for clients that swap only the host). */
const REST_TEMPLATE = /^\/(?:api|dpc)\//;
const OPERATION_IN_DOCUMENT = /(?:^|[\s},])(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/;

/**
 * Counts every HTTP request once it is answered: GraphQL by operation name, REST by route template
 * (`/api/v1/projects/:projectId/environments`, never the raw URL, so the label set stays bounded).
 * Requests that matched no route are counted under `unmatched`.
 */
export function installHttpMetrics(fastify: FastifyInstance, metrics: MetricsService): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const template = request.routeOptions?.url;
    if (template === undefined || !UNCOUNTED_ROUTES.has(template)) {
      const [transport, route] = classify(request, template);
      metrics.recordHttpRequest(transport, route, request.method, reply.statusCode, reply.elapsedTime);
    }
    done();
  });
}

/** The transport and route (template or GraphQL operation) a request is counted under. */
export function httpMetricLabels(request: FastifyRequest): { transport: HttpTransport; route: string } {
  const [transport, route] = classify(request, request.routeOptions?.url);
  return { transport, route };
}

function classify(request: FastifyRequest, template: string | undefined): [HttpTransport, string] {
  if (template === undefined) return ['other', 'unmatched'];
  if (template === GRAPHQL_PATH) return ['graphql', graphqlOperationName(request.body, request.query)];
  return [REST_TEMPLATE.test(template) ? 'rest' : 'other', template];
}

/**
 * The operation name of a GraphQL request: `operationName` when given, else the first named operation of
 * the document, else `anonymous`; a batch is `batch`. Never parses the whole document.
 */
export function graphqlOperationName(body: unknown, query: unknown): string {
  if (Array.isArray(body)) return 'batch';
  const source =
    isRecord(body) && (body.query !== undefined || body.operationName !== undefined) ? body : query;
  if (!isRecord(source)) return 'anonymous';
  if (typeof source.operationName === 'string' && source.operationName !== '') return source.operationName;
  if (typeof source.query === 'string') {
    const match = OPERATION_IN_DOCUMENT.exec(source.query.slice(0, 4096));
    if (match) return match[1];
  }
  return 'anonymous';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
