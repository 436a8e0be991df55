import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';

/**
 * A real three-master Redis Cluster for a test suite: `redis-server` processes in cluster mode on free
 * ports (and their bus ports), joined with `redis-cli --cluster create`, removed whole by `close()`.
 * Needs the `redis-server` and `redis-cli` binaries (Debian's redis-server package, as CI has).
 */
export interface RedisClusterFixture {
  /** Seed URLs, comma-separated, for `REDIS_URL` with `REDIS_CLUSTER=true`. */
  url: string;
  ports: number[];
  /** A cluster client for assertions. */
  client(): Cluster;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    // The cluster bus listens on port + 10000: it must exist and be free too.
    if (port + 10_000 <= 65_535 && (await isFree(port + 10_000))) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command}: ${output}`))));
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startRedisCluster(masters = 3): Promise<RedisClusterFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
  const ports: number[] = [];
  const servers: ChildProcess[] = [];
  const clients: Cluster[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            if (server.exitCode !== null || server.signalCode !== null) return resolve();
            server.once('exit', () => resolve());
            server.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      ports.push(port);
      // prettier-ignore
      const server = spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
        '--cluster-config-file', `nodes-${port}.conf`, '--dir', dir, '--save', '', '--appendonly', 'no',
      ], { stdio: 'ignore' });
      servers.push(server);
    }
    for (const port of ports) {
      await waitFor(
        () => run('redis-cli', ['-p', String(port), 'ping']).then((o) => o.includes('PONG')),
        10_000,
        `redis-server on ${port}`,
      );
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const port of ports) {
      await waitFor(
        () =>
          run('redis-cli', ['-p', String(port), 'cluster', 'info']).then((o) =>
            o.includes('cluster_state:ok'),
          ),
        20_000,
        `cluster state ok on ${port}`,
      );
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    ports,
    client() {
      const client = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })));
      clients.push(client);
      return client;
    },
    close,
  };
}
