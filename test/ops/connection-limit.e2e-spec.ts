import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { installConnectionLimit } from '../../src/common/http/connection-limit';
import { eventually } from '../support/eventually';

/** Opens `count` connections from `localAddress`; resolves with them once each is connected or closed. */
async function open(port: number, count: number, localAddress = '127.0.0.1'): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve) => {
          const socket = connect({ port, host: '127.0.0.1', localAddress });
          socket.on('error', () => undefined);
          socket.once('connect', () => resolve(socket));
          socket.once('close', () => resolve(socket));
        }),
    ),
  );
}

/**
 * The per-IP cap on a bare Node server: counted per peer address, a place freed by a close, trusted
 * proxies exempt (`TRUST_PROXY`), and the HTTP server still serving the connections it admits.
 */
describe('installConnectionLimit', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];

  async function serve(trustProxy: boolean | string[]) {
    const server = createServer((_req, res) => res.end('ok'));
    servers.push(server);
    const stats = installConnectionLimit(server, { perIp: 2, trustProxy });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    return { port: typeof address === 'object' && address ? address.port : 0, stats };
  }
  const alive = (list: Socket[]) => list.filter((s) => !s.destroyed && !s.closed).length;

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('holds the cap per address, serves the admitted ones, and frees a place on close', async () => {
    const { port, stats } = await serve(false);
    const first = await open(port, 5);
    const other = await open(port, 2, '127.0.0.2');
    sockets.push(...first, ...other);
    await eventually(() => expect([alive(first), alive(other)]).toEqual([2, 2]));
    expect(stats().refused).toBe(3);
    expect(await stats().open()).toBe(4);

    const admitted = first.filter((s) => !s.destroyed && !s.closed);
    const answer = await new Promise<string>((resolve) => {
      admitted[0].once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
      admitted[0].write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);

    admitted[1].destroy();
    const again = await open(port, 2);
    sockets.push(...again);
    await eventually(() => expect(alive(again)).toBe(1));
  });

  it('exempts trusted proxies, and caps nobody when every peer is trusted', async () => {
    for (const trustProxy of [['loopback'], ['127.0.0.1/32'], true]) {
      const { port, stats } = await serve(trustProxy);
      const list = await open(port, 5);
      sockets.push(...list);
      // The server's own count: 5 admitted (a capped server would hold 2 and count 3 refused).
      await eventually(async () => expect(await stats().open()).toBe(5));
      expect(stats().refused).toBe(0);
      expect(alive(list)).toBe(5);
    }
  });
});
