import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { startRedisCluster, type RedisClusterFixture } from '../../test/support/redis-cluster';
import { loadConfig } from '../config';
import { closeConnection, mastersOf, openConnection, whenReady, type RedisClient } from './redis.connection';

const URL = 'redis://127.0.0.1:6379';

/** Counts the socket's native writes (each one `write`/`writev` system call on a loopback socket). */
function countWrites(redis: RedisClient): { count: number } {
  const socket = (redis as unknown as { stream: Socket }).stream;
  const handle = (socket as unknown as { _handle: Record<string, (...args: unknown[]) => unknown> })._handle;
  const counter = { count: 0 };
  const natives = ['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString'];
  for (const name of natives) {
    const native = handle[name];
    handle[name] = function (this: unknown, ...args: unknown[]) {
      counter.count += 1;
      return native.apply(this, args);
    };
  }
  return counter;
}

/**
 * Runs `action(i)` in `n` separate socket 'data' callbacks of one poll phase, as requests of different
 * clients arrive at the gateway: n connected sockets each get one byte, written in one go.
 */
async function fromSocketCallbacks<T>(n: number, action: (i: number) => Promise<T>): Promise<T[]> {
  const accepted: Socket[] = [];
  const server: Server = createServer((socket) => accepted.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const clients = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve) =>
          createConnection(port, '127.0.0.1', function (this: Socket) {
            resolve(this);
          }),
        ),
    ),
  );
  await until(() => accepted.length === n);
  try {
    const replies = accepted.map(
      (socket, i) =>
        new Promise<T>((resolve, reject) => socket.once('data', () => void action(i).then(resolve, reject))),
    );
    for (const client of clients) client.write('x');
    return await Promise.all(replies);
  } finally {
    for (const socket of [...clients, ...accepted]) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function commands(env: Record<string, string> = { REDIS_URL: URL }): Promise<RedisClient> {
  const redis = openConnection(loadConfig(env).redis, 'commands', () => undefined);
  await whenReady(redis, 5_000);
  return redis;
}

describe('the command connection sends the commands of one event-loop turn in one write', () => {
  const key = `test:${randomUUID()}:coalesce`;
  let redis: RedisClient;

  beforeEach(async () => {
    redis = await commands();
  });

  afterEach(async () => {
    await redis.del(`${key}:n`, `${key}:big`, `${key}:list`);
    await closeConnection(redis);
  });

  it('one write for the commands of five socket callbacks, replies in order; plain ioredis writes five', async () => {
    const plain = new Redis(URL);
    try {
      for (const [connection, writes] of [
        [redis, 1],
        [plain, 5],
      ] as const) {
        await connection.del(`${key}:n`);
        const counter = countWrites(connection);
        const replies = await fromSocketCallbacks(5, () => connection.incr(`${key}:n`));
        expect(counter.count).toBe(writes);
        expect(replies.sort()).toEqual([1, 2, 3, 4, 5]);
      }
    } finally {
      plain.disconnect();
    }
  });

  it('answers a pipeline, a transaction, a large value and plain commands sent in one turn', async () => {
    const big = 'v'.repeat(8 * 1024 * 1024);
    const counter = countWrites(redis);
    const [pipeline, transaction, set, got, length] = await fromSocketCallbacks(5, (i): Promise<unknown> => {
      switch (i) {
        case 0:
          return redis.pipeline().rpush(`${key}:list`, 'a').rpush(`${key}:list`, 'b').exec();
        case 1:
          return redis.multi().incr(`${key}:n`).incr(`${key}:n`).exec();
        case 2:
          return redis.set(`${key}:big`, big);
        case 3:
          return redis.echo('in order');
        default:
          return redis.strlen(`${key}:big`);
      }
    });
    expect(pipeline).toEqual([
      [null, 1],
      [null, 2],
    ]);
    expect(transaction).toEqual([
      [null, 1],
      [null, 2],
    ]);
    expect(set).toBe('OK');
    expect(got).toBe('in order');
    expect(length).toBe(big.length);
    // One writev (libuv finishes a partial write of the 8 MB value itself, without another call).
    expect(counter.count).toBe(1);
  });

  it('answers a command issued in a setImmediate callback, before and after the turn was flushed', async () => {
    const counter = countWrites(redis);
    const before = new Promise((resolve) => setImmediate(() => resolve(redis.echo('before'))));
    const first = redis.echo('first'); // corks the turn and queues its flush after `before`'s callback
    const after = new Promise((resolve) => setImmediate(() => resolve(redis.echo('after'))));
    await expect(Promise.all([before, first, after])).resolves.toEqual(['before', 'first', 'after']);
    // 'first' and 'before' left together; 'after' came once the flush had run, and left in the next turn.
    expect(counter.count).toBe(2);
  });

  it('keeps coalescing after Redis kills the connection, and resends what the dead socket held', async () => {
    const id = await redis.client('ID');
    const reconnected = new Promise((resolve) => redis.once('ready', resolve));
    const killer = new Redis(URL);
    try {
      await killer.client('KILL', 'ID', String(id));
    } finally {
      killer.disconnect();
    }
    await reconnected;
    expect(await redis.client('ID')).not.toBe(id);
    const counter = countWrites(redis);
    await fromSocketCallbacks(4, () => redis.ping());
    expect(counter.count).toBe(1);

    // A command still corked when its socket dies never reached Redis: ioredis resends it on reconnect.
    const incremented = redis.incr(`${key}:n`);
    (redis as unknown as { stream: Socket }).stream.destroy();
    await expect(incremented).resolves.toBe(1);
  });

  it('leaves the subscriber connection as ioredis opens it: one write per SUBSCRIBE', async () => {
    const subscriber = openConnection(loadConfig({ REDIS_URL: URL }).redis, 'subscriber', () => undefined);
    try {
      await whenReady(subscriber, 5_000);
      const counter = countWrites(subscriber);
      await fromSocketCallbacks(3, (i) => subscriber.subscribe(`${key}:channel:${i}`));
      expect(counter.count).toBe(3);
    } finally {
      await closeConnection(subscriber);
    }
  });

  it('answers QUIT at shutdown and ends', async () => {
    const connection = await commands();
    const counter = countWrites(connection);
    const [echoed, quit] = await fromSocketCallbacks<string>(2, (i) =>
      i === 0 ? connection.echo('last') : connection.quit(),
    );
    expect([echoed, quit, counter.count]).toEqual(['last', 'OK', 1]);
    await until(() => connection.status === 'end');
  });
});

describe('each node connection of a Redis Cluster coalesces its writes', () => {
  let cluster: RedisClusterFixture;
  let redis: RedisClient;

  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
  });

  afterEach(async () => {
    await closeConnection(redis);
  });

  it('one write per node for the commands of many socket callbacks', async () => {
    redis = await commands({ REDIS_URL: cluster.url, REDIS_CLUSTER: 'true' });
    const masters = mastersOf(redis);
    await Promise.all(masters.map((node) => node.ping())); // a cluster connects to its nodes lazily
    expect(masters).toHaveLength(3);
    const counters = masters.map(countWrites);
    const keys = Array.from({ length: 24 }, (_, i) => `coalesce:${i}`);
    const replies = await fromSocketCallbacks(keys.length, (i) => redis.set(keys[i], String(i)));
    expect(replies).toEqual(keys.map(() => 'OK'));
    // 24 keys over 16,384 slots reach every master; each master got its share in one write.
    expect(counters.map((counter) => counter.count)).toEqual([1, 1, 1]);
    expect(await redis.mget(keys[0])).toEqual(['0']);
  });
});
