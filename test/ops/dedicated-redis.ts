import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { eventually } from '../support/eventually';

/** A free TCP port on 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/** Redis without persistence: a restart comes back empty, like a Redis that crashed and came back. */
const NO_PERSISTENCE = ['--save', '', '--appendonly', 'no'];

/**
 * A Redis server of the test's own (never the shared one on 6379), so a test may kill it and start it
 * again on the same port. Without persistence unless `persistence` gives other redis-server arguments.
 */
export class DedicatedRedis {
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    private readonly persistence: readonly string[],
  ) {}

  static async start(options: { persistence?: readonly string[] } = {}): Promise<DedicatedRedis> {
    const redis = new DedicatedRedis(await freePort(), options.persistence ?? NO_PERSISTENCE);
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) and waits until it answers PING. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('redis-server is already running');
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', ...this.persistence],
      { stdio: 'ignore' },
    );
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
    await eventually(
      async () => {
        if (!(await answersPing(this.port))) throw new Error(`redis-server on ${this.port} did not start`);
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  }

  /** SIGKILL: no goodbye to clients, like a crash or a network cut. Resolves once the process is gone. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM: Redis shuts down as `docker compose restart` or a pod's deletion asks it to. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.child = null;
  }
}
