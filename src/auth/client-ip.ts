import proxyAddr from '@fastify/proxy-addr';
import type { IncomingMessage, Server } from 'node:http';
import type { TrustProxy } from '../config/server.config';

const UPGRADE_IP = Symbol('maia-gateway:client-ip');

/**
 * The client's address for per-IP limits. Fastify requests resolve it themselves (`request.ip`, by the
 * `TRUST_PROXY` rules); the raw upgrade request of a WebSocket carries the address
 * `installUpgradeClientIp` resolved by the same rules; anything else falls back to the socket's peer.
 * X-Forwarded-For is never read here: only the trusted-proxy rules may believe it.
 */
export function clientIpOf(request: unknown): string {
  if (!request || typeof request !== 'object') return 'unknown';
  const r = request as { ip?: unknown; [UPGRADE_IP]?: string; socket?: { remoteAddress?: string } };
  if (typeof r.ip === 'string' && r.ip !== '') return r.ip;
  if (typeof r[UPGRADE_IP] === 'string') return r[UPGRADE_IP];
  return r.socket?.remoteAddress ?? 'unknown';
}

/**
 * The client address of a raw Node request by the `TRUST_PROXY` rules, as Fastify's `request.ip` would
 * give it: for requests that never become Fastify requests (WebSocket upgrades, the hot-read front).
 */
export function rawClientIp(trustProxy: TrustProxy): (req: IncomingMessage) => string {
  const trust =
    trustProxy === true ? () => true : trustProxy === false ? () => false : proxyAddr.compile(trustProxy);
  return (req) => proxyAddr(req, trust);
}

/** Resolves the client IP of every WebSocket upgrade before the WebSocket server sees the request. */
export function installUpgradeClientIp(server: Server, trustProxy: TrustProxy): void {
  const resolve = rawClientIp(trustProxy);
  server.prependListener('upgrade', (req: IncomingMessage & { [UPGRADE_IP]?: string }) => {
    req[UPGRADE_IP] = resolve(req);
  });
}
