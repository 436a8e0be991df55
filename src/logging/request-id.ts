import type { IncomingMessage } from 'node:http';
import { REQUEST_ID_HEADER, requestIdFrom } from '../common/request-context';

/**
 * Fastify's `genReqId`: the caller's `x-request-id` when sane, else a fresh UUID, written back into the
 * request's headers. Fastify's id names the request's completion log line, while `RequestContext` (whose
 * id every other line carries) reads the header: writing the header back makes both, and so the logs, the
 * response header and the id sent to Maia, one and the same.
 */
export function gatewayRequestId(req: IncomingMessage): string {
  const id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
  req.headers[REQUEST_ID_HEADER] = id;
  return id;
}
