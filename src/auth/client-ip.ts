import type { IncomingMessage } from 'node:http';

/**
 * The client's address for per-IP limits. Fastify requests already resolve it (`trustProxy` is on in
 * `bootstrap.ts`); a raw upgrade request of a WebSocket is read the same way: the first
 * `X-Forwarded-For` hop, else the socket's peer.
 */
export function clientIpOf(request: unknown): string {
  if (!request || typeof request !== 'object') return 'unknown';
  const r = request as {
    ip?: unknown;
    headers?: IncomingMessage['headers'];
    socket?: { remoteAddress?: string };
  };
  if (typeof r.ip === 'string' && r.ip !== '') return r.ip;
  const forwarded = r.headers?.['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  if (first) return first;
  return r.socket?.remoteAddress ?? 'unknown';
}
