import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import Redis from 'ioredis';
import { eventually } from './eventually';

/**
 * A `redis-server` of one suite's own, on a free port: for suites that make Redis slow for real (CLIENT
 * PAUSE) — pausing the shared one would stall every other suite on the machine.
 */
export interface OwnRedis {
  url: string;
  /** A connection for the suite itself (CLIENT PAUSE / UNPAUSE); never paused out of its own commands. */
  admin: Redis;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  // prettier-ignore
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null });
  await eventually(async () => expect(await admin.ping()).toBe('PONG'), { timeoutMs: 10_000 });
  return {
    url,
    admin,
    async stop() {
      admin.disconnect();
      await new Promise<void>((resolve) => {
        if (server.exitCode !== null || server.signalCode !== null) return resolve();
        server.once('exit', () => resolve());
        server.kill('SIGKILL');
      });
    },
  };
}
