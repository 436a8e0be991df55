import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { TrustProxy } from '../config/server.config';
import { clientIpOf, installUpgradeClientIp } from './client-ip';

/** Sends one upgrade request with the given X-Forwarded-For and returns what clientIpOf saw. */
async function ipOfUpgrade(trust: TrustProxy, forwardedFor: string): Promise<string> {
  const server: Server = createServer();
  installUpgradeClientIp(server, trust);
  const seen = new Promise<string>((resolve) =>
    server.on('upgrade', (req: IncomingMessage, socket) => {
      resolve(clientIpOf(req));
      socket.destroy();
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const req = request({
    port,
    host: '127.0.0.1',
    headers: { connection: 'Upgrade', upgrade: 'websocket', 'x-forwarded-for': forwardedFor },
  });
  req.on('error', () => undefined); // the server hangs up on purpose
  req.end();
  try {
    return await seen;
  } finally {
    server.close();
  }
}

describe('client IP of WebSocket upgrades', () => {
  it('ignores X-Forwarded-For unless proxies are trusted, so a client cannot choose its own IP', async () => {
    expect(await ipOfUpgrade(false, '203.0.113.7')).toBe('127.0.0.1');
  });

  it('believes X-Forwarded-For from a trusted proxy', async () => {
    expect(await ipOfUpgrade(['127.0.0.1'], '203.0.113.7')).toBe('203.0.113.7');
    expect(await ipOfUpgrade(true, '203.0.113.7')).toBe('203.0.113.7');
  });

  it('does not believe it from a peer outside the trusted list', async () => {
    expect(await ipOfUpgrade(['10.0.0.0/8'], '203.0.113.7')).toBe('127.0.0.1');
  });

  it('prefers the address Fastify resolved, and never reads the header itself', () => {
    expect(clientIpOf({ ip: '198.51.100.1', headers: { 'x-forwarded-for': '1.2.3.4' } })).toBe(
      '198.51.100.1',
    );
    expect(clientIpOf({ headers: { 'x-forwarded-for': '1.2.3.4' }, socket: { remoteAddress: '::1' } })).toBe(
      '::1',
    );
    expect(clientIpOf(undefined)).toBe('unknown');
  });
});
