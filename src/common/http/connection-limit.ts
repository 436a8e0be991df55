import proxyAddr from '@fastify/proxy-addr';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { TrustProxy } from '../../config/server.config';

export interface ConnectionLimitStats {
  /** Connections reset on arrival because their address was at its cap. */
  refused: number;
  /** TCP connections open on this server now (every address, exempt ones included). */
  open(): Promise<number>;
}

type ConnectionListener = (this: Server, socket: Socket) => void;

/**
 * Caps the TCP connections one peer address holds open (`CONNECTION_LIMIT_PER_IP`). A connection over the
 * cap is reset on arrival, before the HTTP server sees it (no parser, no timers, no TIME_WAIT here): a
 * flood from one address costs an accept and a reset per connection, never a file descriptor held for a
 * header timeout, and other callers keep their share of the process. Counted per socket peer, not per
 * X-Forwarded-For: connections are made by the peer. Trusted proxies (`TRUST_PROXY`) are exempt, since
 * every caller behind one shares its address; with `TRUST_PROXY=true` every peer is one, so none is capped.
 */
export function installConnectionLimit(
  server: Server,
  options: { perIp: number; trustProxy: TrustProxy },
): () => ConnectionLimitStats {
  let refused = 0;
  const open = (): Promise<number> =>
    new Promise((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));
  const stats = (): ConnectionLimitStats => ({ refused, open });
  if (options.perIp <= 0 || options.trustProxy === true) return stats;

  const exempt = options.trustProxy === false ? () => false : proxyAddr.compile(options.trustProxy);
  const counts = new Map<string, number>();
  // The HTTP server's own listeners run only for admitted sockets (a listener would run after a refusal).
  const listeners = server.listeners('connection') as ConnectionListener[];
  server.removeAllListeners('connection');
  server.on('connection', function (this: Server, socket: Socket) {
    const address = normalise(socket.remoteAddress);
    if (address !== undefined && !exempt(address, 0)) {
      const count = counts.get(address) ?? 0;
      if (count >= options.perIp) {
        refused++;
        socket.resetAndDestroy();
        return;
      }
      counts.set(address, count + 1);
      socket.once('close', () => {
        const left = (counts.get(address) ?? 1) - 1;
        if (left > 0) counts.set(address, left);
        else counts.delete(address);
      });
    }
    for (const listener of listeners) listener.call(this, socket);
  });
  return stats;
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is the same caller as `10.0.0.1`. */
function normalise(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
