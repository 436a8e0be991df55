import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { ErrorCode, GatewayError } from '../common/errors';
import { RequestContext } from '../common/request-context';
import { RedisService } from '../redis';
import { CACHE_KEY_VERSION } from './cache.constants';
import { CacheModule } from './cache.module';
import { CacheService } from './cache.service';
import { eventually, holdsFor } from '../../test/support/eventually';
import { latch, scriptedDoubles, startReplicaModule } from '../../test/support/replica-module';

interface Replica {
  cache: CacheService;
  redis: RedisService;
  close(): Promise<void>;
}

const open: Replica[] = [];

/** One gateway replica's cache: its own Nest module, its own Redis connections, a shared key prefix. */
async function replica(
  prefix: string,
  env: Record<string, string> = {},
  options: { version?: string; redisUrl?: string | null } = {},
): Promise<Replica> {
  const { version } = options;
  const moduleRef = await startReplicaModule(prefix, {
    env,
    redisUrl: options.redisUrl,
    imports: [CacheModule],
    configure: version
      ? (builder) => builder.overrideProvider(CACHE_KEY_VERSION).useValue(version)
      : undefined,
  });
  const r: Replica = {
    cache: moduleRef.get(CacheService),
    redis: moduleRef.get(RedisService),
    close: () => moduleRef.close(),
  };
  open.push(r);
  return r;
}

/**
 * Strict loader doubles: each answers its scripted steps in order; any call beyond them is recorded as an
 * unexpected call (and fails the test in afterEach, even when the cache would have masked the throw).
 */
const doubles = scriptedDoubles();
const unexpectedCalls = doubles.unexpected;
const loader = doubles.script;

const unavailable = () => new GatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, 'Maia is unavailable');

/** The envelope replica `r` finds in Redis for an unscoped entry (Keyv stores `{ value, expires }`). */
async function storedEnvelope(r: Replica, resource: string, key: string, group = 'none') {
  const raw = await r.redis.get(`${prefix}v1:cache:e:${resource}:${group}:${key}`);
  return raw === null ? null : (JSON.parse(raw) as { value: { freshUntilMs: number } }).value;
}

/** Waits until the entry stored in Redis is past its TTL (a TTL of 1 s: the shortest there is). */
async function pastFreshness(r: Replica, resource: string, key: string, group?: string): Promise<void> {
  await eventually(
    async () => {
      const envelope = await storedEnvelope(r, resource, key, group);
      expect(envelope).not.toBeNull();
      expect(Date.now()).toBeGreaterThanOrEqual(envelope!.freshUntilMs);
    },
    { timeoutMs: 3_000, intervalMs: 20 },
  );
}

let prefix: string;

beforeEach(() => {
  prefix = `test:${randomUUID()}:`;
  unexpectedCalls.length = 0;
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
  expect(unexpectedCalls).toEqual([]);
});

afterAll(async () => {
  // Leave nothing behind on the shared Redis.
  const cleaner = await replica(`test:cleanup:${randomUUID()}:`);
  const keys = await cleaner.redis.scanKeys('test:*:v*:cache:*');
  await cleaner.redis.delete(...keys.filter((k) => /^test:[0-9a-f-]{36}:/.test(k)));
  await cleaner.close();
});

describe('CacheService with a real Redis and two replicas', () => {
  it('shares entries: what one replica loaded, the other answers from Redis without calling Maia', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    const loadA = loader('A', () => ({ results: [{ id: 'p1', name: 'One' }], total: 1 }));
    const loadB = loader<unknown>('B');

    const first = await a.cache.getOrLoad('projects', '0:25', loadA);
    const second = await b.cache.getOrLoad('projects', '0:25', loadB);

    expect(first).toEqual({ results: [{ id: 'p1', name: 'One' }], total: 1 });
    expect(second).toEqual(first);
    expect(loadA).toHaveBeenCalledTimes(1);
    expect(loadB).not.toHaveBeenCalled();
    expect(a.cache.stats().projects).toMatchObject({ misses: 1, loads: 1, hits: 0 });
    expect(b.cache.stats().projects).toMatchObject({ hits: 1, misses: 0, loads: 0 });
  });

  it('hands every caller its own copy, so one caller cannot corrupt the cache for the next', async () => {
    const a = await replica(prefix);
    const first = await a.cache.getOrLoad(
      'projects',
      'k',
      loader('A', () => ({ names: ['x'] })),
    );
    first.names.push('mutated');
    const again = await a.cache.getOrLoad('projects', 'k', loader<{ names: string[] }>('A2'));
    expect(again).toEqual({ names: ['x'] });
  });

  it('hands readOnly readers one deep-frozen value per load instead of a parse per read', async () => {
    const a = await replica(prefix);
    const read = () =>
      a.cache.getOrLoad(
        'projectDirectory',
        'all',
        loader('D', () => [{ id: 'p1', tags: ['x'] }]),
        {
          readOnly: true,
        },
      );
    const first = await read();
    const second = await a.cache.getOrLoad('projectDirectory', 'all', loader<{ id: string }[]>('D2'), {
      readOnly: true,
    });
    expect(second).toBe(first); // the same object: parsed once
    expect(Object.isFrozen(first) && Object.isFrozen(first[0]) && Object.isFrozen(first[0].tags)).toBe(true);
    expect(() => first[0].tags.push('mutated')).toThrow(TypeError);
    // A plain reader still gets its own copy of the same entry.
    const copy = await a.cache.getOrLoad('projectDirectory', 'all', loader<{ id: string }[]>('D3'));
    expect(copy).toEqual(first);
    expect(copy).not.toBe(first);
    // After an invalidation the reload is a new value.
    await a.cache.invalidate();
    const reloaded = await a.cache.getOrLoad(
      'projectDirectory',
      'all',
      loader('D4', () => [{ id: 'p2', tags: [] }]),
      { readOnly: true },
    );
    expect(reloaded).not.toBe(first);
    expect(reloaded).toEqual([{ id: 'p2', tags: [] }]);
  });

  it('makes one upstream call for 200 concurrent identical cold lookups across two replicas', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    const { gate, release } = latch();
    const upstream = loader('maia', async () => {
      await gate;
      return { results: ['env-1', 'env-2'] };
    });

    const answers = Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 === 0 ? a : b).cache.getOrLoad('environments', 'p1:0:25', upstream, { projectId: 'p1' }),
      ),
    );
    // Every caller has missed and Maia has been asked once before it answers.
    await eventually(() => {
      expect(a.cache.stats().environments.misses + b.cache.stats().environments.misses).toBe(200);
      expect(upstream).toHaveBeenCalledTimes(1);
    });
    release();

    expect(await answers).toEqual(Array.from({ length: 200 }, () => ({ results: ['env-1', 'env-2'] })));
    expect(upstream).toHaveBeenCalledTimes(1);
    const sa = a.cache.stats().environments;
    const sb = b.cache.stats().environments;
    expect(sa.loads + sb.loads).toBe(1);
    expect(sa.misses + sb.misses).toBe(200);
    expect(sa.loadsSaved + sb.loadsSaved).toBe(199);
  });

  it('answers 500 waiters of one load on two replicas with one value, without a Redis read per waiter', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    const reads = (r: Replica) => ({
      get: jest.spyOn(r.redis, 'get'),
      getMany: jest.spyOn(r.redis, 'getMany'),
    });
    const readsA = reads(a);
    const readsB = reads(b);
    const { gate, release } = latch();
    const upstream = loader('maia', async () => {
      await gate;
      return [{ id: 'p1', name: 'One' }];
    });

    const answers = Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        (i % 2 === 0 ? a : b).cache.getOrLoad('projects', 'page:0:size:25', upstream, { readOnly: true }),
      ),
    );
    await eventually(() => {
      expect(a.cache.stats().projects.misses + b.cache.stats().projects.misses).toBe(500);
      expect(upstream).toHaveBeenCalledTimes(1);
    });
    release();
    const values = await answers;

    expect(upstream).toHaveBeenCalledTimes(1);
    // Every caller of a replica holds the very same frozen value: parsed once per replica, not per waiter.
    expect(new Set(values.filter((_, i) => i % 2 === 0)).size).toBe(1);
    expect(new Set(values.filter((_, i) => i % 2 === 1)).size).toBe(1);
    expect(values[1]).toEqual([{ id: 'p1', name: 'One' }]);
    const sa = a.cache.stats().projects;
    const sb = b.cache.stats().projects;
    expect(sa.loads + sb.loads).toBe(1);
    expect(sa.loadsSaved + sb.loadsSaved).toBe(499);
    // Reads of the entry and of the generations: the first look of each replica, the lock holder's look
    // after taking the lock, and the waiting replica's looks after each wake-up or poll (a handful, however
    // many callers wait). They used to be one GET and one MGET per caller.
    for (const r of [readsA, readsB]) {
      expect(r.get.mock.calls.length).toBeLessThanOrEqual(5);
      expect(r.getMany.mock.calls.length).toBeLessThanOrEqual(5);
    }
  });

  it('lets callers who join a running load fall back on the stale copy when it fails, each marked stale', async () => {
    const a = await replica(prefix, { CACHE_TTL_PROJECTS_SECONDS: '1', CACHE_STALE_MAX_AGE_SECONDS: '60' });
    await a.cache.getOrLoad(
      'projects',
      'k',
      loader('first', () => ['p1']),
    );
    await pastFreshness(a, 'projects', 'k');
    const { gate, release } = latch();
    const failing = loader<string[]>(
      'failing',
      () => Promise.reject(unavailable()), // the background refresh
      async () => {
        await gate;
        throw unavailable(); // the one load the next callers share
      },
    );
    // Stale-while-revalidate first; its refresh fails, so the next callers load (and wait for it).
    expect(await a.cache.getOrLoad('projects', 'k', failing)).toEqual(['p1']);
    await eventually(() => expect(a.cache.stats().projects.loadErrors).toBe(1));

    const contexts = Array.from({ length: 20 }, (_, i) => new RequestContext(`r${i}`));
    const answers = Promise.all(
      contexts.map((ctx) => RequestContext.run(ctx, () => a.cache.getOrLoad('projects', 'k', failing))),
    );
    await eventually(() => expect(failing).toHaveBeenCalledTimes(2));
    release();

    expect(await answers).toEqual(Array.from({ length: 20 }, () => ['p1']));
    expect(contexts.map((ctx) => [...ctx.staleResources])).toEqual(contexts.map(() => ['projects']));
    expect(a.cache.stats().projects).toMatchObject({ stale: 20, loads: 3, loadErrors: 2 });
  });

  it('does not hand a load that started before an invalidation to a caller who saw it', async () => {
    const a = await replica(prefix);
    const { gate, release } = latch();
    const slowOld = loader('old', async () => {
      await gate;
      return 'before-invalidation';
    });
    const first = a.cache.getOrLoad('pipelines', 'k', slowOld);
    await eventually(() => expect(slowOld).toHaveBeenCalledTimes(1));
    await a.cache.invalidate();
    const second = a.cache.getOrLoad(
      'pipelines',
      'k',
      loader('new', () => 'after'),
    );
    expect(await second).toBe('after');
    release();
    expect(await first).toBe('before-invalidation');
  });

  it('lets a waiting replica load itself when the lock holder fails, and reports errors unchanged', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    const { gate, release } = latch();
    const failing = loader<string>('a', async () => {
      await gate;
      throw unavailable();
    });
    const working = loader('b', () => 'from-b');

    const fromA = a.cache.getOrLoad('pipelines', 'k', failing).catch((e: unknown) => e);
    await eventually(() => expect(failing).toHaveBeenCalledTimes(1));
    const fromB = b.cache.getOrLoad('pipelines', 'k', working);
    await eventually(() => expect(b.cache.stats().pipelines.misses).toBe(1));
    await holdsFor(() => expect(working).not.toHaveBeenCalled(), 50); // B waits while A holds the lock
    release();

    const errorA = await fromA;
    expect(errorA).toBeInstanceOf(GatewayError);
    expect((errorA as GatewayError).code).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
    expect(await fromB).toBe('from-b');
    expect(working).toHaveBeenCalledTimes(1);
  });

  it('answers stale at once past the TTL and refreshes once in the background (stale-while-revalidate)', async () => {
    const env = { CACHE_TTL_PIPELINES_SECONDS: '1', CACHE_STALE_MAX_AGE_SECONDS: '60' };
    const a = await replica(prefix, env);
    const b = await replica(prefix, env);
    await a.cache.getOrLoad(
      'pipelines',
      'k',
      loader('first', () => 'v1'),
    );
    await pastFreshness(a, 'pipelines', 'k');

    const { gate, release } = latch();
    const refresh = loader('refresh', async () => {
      await gate;
      return 'v2';
    });
    // Both replicas see the expired entry at the same time: all answer v1 at once, one refresh in all.
    const during = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        RequestContext.run(new RequestContext(`r${i}`), async () => {
          const value = await (i % 2 ? a : b).cache.getOrLoad('pipelines', 'k', refresh);
          return [value, RequestContext.current()!.staleResources.size];
        }),
      ),
    );
    expect(during).toEqual(Array.from({ length: 20 }, () => ['v1', 0]));
    const swr =
      a.cache.stats().pipelines.staleWhileRevalidate + b.cache.stats().pipelines.staleWhileRevalidate;
    expect(swr).toBe(20);
    release();
    await eventually(async () => expect(await b.cache.getOrLoad('pipelines', 'k', refresh)).toBe('v2'));
    expect(await a.cache.getOrLoad('pipelines', 'k', refresh)).toBe('v2');
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it('serves a stale entry marked stale when Maia fails, and the original error when nothing is stale', async () => {
    const a = await replica(prefix, { CACHE_TTL_PROJECTS_SECONDS: '1', CACHE_STALE_MAX_AGE_SECONDS: '60' });
    await a.cache.getOrLoad(
      'projects',
      'k',
      loader('first', () => ['p1']),
    );
    await pastFreshness(a, 'projects', 'k');
    const failing = loader<string[]>(
      'failing',
      () => Promise.reject(unavailable()), // the background refresh
      () => Promise.reject(unavailable()), // the next caller's own load
    );

    // First caller after expiry: stale-while-revalidate, not marked; its refresh fails.
    const swr = await RequestContext.run(new RequestContext('r1'), async () => {
      const value = await a.cache.getOrLoad('projects', 'k', failing);
      return [value, [...RequestContext.current()!.staleResources]];
    });
    expect(swr).toEqual([['p1'], []]);
    await eventually(() => expect(a.cache.stats().projects.loadErrors).toBe(1));

    // Next caller loads itself, Maia fails, the stale entry answers and the request says so.
    const ctx = new RequestContext('r2');
    const value = await RequestContext.run(ctx, () => a.cache.getOrLoad('projects', 'k', failing));
    expect(value).toEqual(['p1']);
    expect([...ctx.staleResources]).toEqual(['projects']);
    expect(failing).toHaveBeenCalledTimes(2);
    expect(a.cache.stats().projects).toMatchObject({ stale: 1, loadErrors: 2 });

    // Nothing cached at all: the caller gets Maia's error as it was.
    const error = await a.cache
      .getOrLoad(
        'projects',
        'other',
        loader('cold', () => Promise.reject(unavailable())),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
    expect((error as GatewayError).message).toBe('Maia is unavailable');
  });

  it('never serves an entry older than the stale maximum age', async () => {
    const a = await replica(prefix, { CACHE_TTL_PROJECTS_SECONDS: '1', CACHE_STALE_MAX_AGE_SECONDS: '1' });
    await a.cache.getOrLoad(
      'projects',
      'k',
      loader('first', () => 'old'),
    );
    // Redis drops the entry at the end of its stale window.
    await eventually(async () => expect(await storedEnvelope(a, 'projects', 'k')).toBeNull(), {
      timeoutMs: 3_000,
      intervalMs: 20,
    });
    const error = await a.cache
      .getOrLoad(
        'projects',
        'k',
        loader('failing', () => Promise.reject(unavailable())),
      )
      .catch((e: unknown) => e);
    expect((error as GatewayError).code).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
  });

  it('drops an entry when Maia says it is gone, instead of hiding the 404 behind stale data', async () => {
    const a = await replica(prefix, { CACHE_TTL_ENVIRONMENTS_SECONDS: '1' });
    const b = await replica(prefix, { CACHE_TTL_ENVIRONMENTS_SECONDS: '1' });
    await a.cache.getOrLoad(
      'environments',
      'p9',
      loader('first', () => ['dev']),
      { projectId: 'p9' },
    );
    await pastFreshness(a, 'environments', 'p9', 'p:p9');
    const gone = () => new GatewayError(ErrorCode.NOT_FOUND, 'Project not found');
    // The refresh failed authoritatively; the next caller loads and the 404 reaches it.
    const upstream = loader<string[]>(
      'gone',
      () => Promise.reject(gone()),
      () => Promise.reject(gone()),
    );
    await a.cache.getOrLoad('environments', 'p9', upstream, { projectId: 'p9' }); // SWR answer
    await eventually(() => expect(a.cache.stats().environments.loadErrors).toBe(1));
    const error = await b.cache
      .getOrLoad('environments', 'p9', upstream, { projectId: 'p9' })
      .catch((e: unknown) => e);
    expect((error as GatewayError).code).toBe(ErrorCode.NOT_FOUND);
    expect(await a.redis.scanKeys(`${prefix}*:e:environments:*`)).toEqual([]);
  });

  it('reaches every replica on invalidation, per project and for everything', async () => {
    // A long L1 TTL: without the pub/sub message, replica B would keep answering from its own memory.
    const env = { CACHE_L1_TTL_SECONDS: '600', CACHE_TTL_ENVIRONMENTS_SECONDS: '600' };
    const a = await replica(prefix, env);
    const b = await replica(prefix, env);
    const get = (r: Replica, project: string, load: () => Promise<string>) =>
      r.cache.getOrLoad('environments', `${project}:0:25`, load, { projectId: project });

    await get(
      a,
      'p1',
      loader('p1 v1', () => 'p1-v1'),
    );
    await get(
      a,
      'p2',
      loader('p2 v1', () => 'p2-v1'),
    );
    await a.cache.getOrLoad(
      'projects',
      '0:25',
      loader('list v1', () => 'list-v1'),
    );
    expect(await get(b, 'p1', loader('none'))).toBe('p1-v1');
    expect(await get(b, 'p2', loader('none'))).toBe('p2-v1');
    expect(await b.cache.getOrLoad('projects', '0:25', loader('none'))).toBe('list-v1');
    expect(b.cache.l1Size).toBe(3);

    expect(await a.cache.invalidate({ projectId: 'p1' })).toEqual({ invalidated: 'p1' });
    // B's p1 entry and its project list go (the list may name p1); p2 stays.
    await eventually(() => expect(b.cache.l1Size).toBe(1));
    expect(
      await get(
        b,
        'p1',
        loader('p1 v2', () => 'p1-v2'),
      ),
    ).toBe('p1-v2');
    expect(await get(b, 'p2', loader('none'))).toBe('p2-v1');
    expect(
      await b.cache.getOrLoad(
        'projects',
        '0:25',
        loader('list v2', () => 'list-v2'),
      ),
    ).toBe('list-v2');
    expect(await get(a, 'p1', loader('none'))).toBe('p1-v2');

    expect(await b.cache.invalidate()).toEqual({ invalidated: 'all' });
    await eventually(() => expect(a.cache.l1Size).toBe(0));
    expect(
      await get(
        a,
        'p2',
        loader('p2 v3', () => 'p2-v3'),
      ),
    ).toBe('p2-v3');
  });

  it('does not let a load that started before an invalidation bring old data back', async () => {
    const a = await replica(prefix);
    const b = await replica(prefix);
    const { gate, release } = latch();
    const slowOld = loader('old', async () => {
      await gate;
      return 'before-invalidation';
    });
    const pending = a.cache.getOrLoad('pipelines', 'k', slowOld);
    await eventually(() => expect(slowOld).toHaveBeenCalledTimes(1));
    await b.cache.invalidate();
    release();
    await pending; // the caller that started it gets its answer...
    // ...but nobody else reads it: it belongs to the previous generation.
    expect(
      await b.cache.getOrLoad(
        'pipelines',
        'k',
        loader('new', () => 'after'),
      ),
    ).toBe('after');
  });

  it('versions its keys, so a deploy with a new shape never reads the old one', async () => {
    const v1 = await replica(prefix);
    const v2 = await replica(prefix, {}, { version: 'v2' });
    await v1.cache.getOrLoad(
      'projects',
      'k',
      loader('v1', () => ({ shape: 'old' })),
    );
    expect(
      await v2.cache.getOrLoad(
        'projects',
        'k',
        loader('v2', () => ({ shape: 'new' })),
      ),
    ).toEqual({
      shape: 'new',
    });
    expect(await v1.cache.getOrLoad('projects', 'k', loader('none'))).toEqual({ shape: 'old' });
    // The load locks are released just after the answers (their callers do not wait for that).
    await eventually(async () => {
      const keys = (await v1.redis.scanKeys(`${prefix}*`)).sort();
      expect(keys).toEqual([`${prefix}v1:cache:e:projects:none:k`, `${prefix}v2:cache:e:projects:none:k`]);
    });
  });
});

describe('CacheService without a reachable Redis', () => {
  it('answers from the loader and its memory, quickly, when Redis is down', async () => {
    const startedAtMs = Date.now();
    // A long command timeout: any command waiting on the dead Redis would show in the elapsed time.
    const a = await replica(
      prefix,
      { REDIS_CONNECT_TIMEOUT_MS: '100', REDIS_COMMAND_TIMEOUT_MS: '10000' },
      { redisUrl: 'redis://127.0.0.1:6390' },
    );
    const upstream = loader('maia', () => ['p1']);
    for (let i = 0; i < 20; i++) expect(await a.cache.getOrLoad('projects', 'k', upstream)).toEqual(['p1']);
    expect(upstream).toHaveBeenCalledTimes(1);

    // Invalidation cannot reach other replicas: it says so, and still clears this one.
    const error = await a.cache.invalidate().catch((e: unknown) => e);
    expect((error as GatewayError).code).toBe(ErrorCode.UPSTREAM_UNAVAILABLE);
    expect(
      await a.cache.getOrLoad(
        'projects',
        'k',
        loader('after', () => ['p2']),
      ),
    ).toEqual(['p2']);
    expect(Date.now() - startedAtMs).toBeLessThan(5_000);
  });

  it('works on memory alone when no Redis is configured (one replica)', async () => {
    const a = await replica(prefix, {}, { redisUrl: null });
    expect(a.redis.enabled).toBe(false);
    const { gate, release } = latch();
    const upstream = loader('maia', async () => {
      await gate;
      return 'v1';
    });
    const answers = Promise.all(
      Array.from({ length: 50 }, () => a.cache.getOrLoad('projects', 'k', upstream)),
    );
    release();
    expect(await answers).toEqual(Array.from({ length: 50 }, () => 'v1'));
    expect(upstream).toHaveBeenCalledTimes(1);
    await a.cache.invalidate();
    expect(
      await a.cache.getOrLoad(
        'projects',
        'k',
        loader('v2', () => 'v2'),
      ),
    ).toBe('v2');
  });

  it('resumes sharing through Redis after an outage', async () => {
    const port = await freePort();
    let server = await startRedis(port);
    try {
      const env = { REDIS_CONNECT_TIMEOUT_MS: '500', CACHE_L1_TTL_SECONDS: '0' };
      const url = `redis://127.0.0.1:${port}`;
      const a = await replica(prefix, env, { redisUrl: url });
      const b = await replica(prefix, env, { redisUrl: url });
      await a.cache.getOrLoad(
        'projects',
        'before',
        loader('a', () => 'shared'),
      );
      expect(await b.cache.getOrLoad('projects', 'before', loader('none'))).toBe('shared');

      await stopRedis(server);
      // During the outage every replica carries on with the loader (and its memory).
      expect(
        await a.cache.getOrLoad(
          'projects',
          'during',
          loader('a2', () => 'a-only'),
        ),
      ).toBe('a-only');
      expect(
        await b.cache.getOrLoad(
          'projects',
          'during',
          loader('b2', () => 'b-only'),
        ),
      ).toBe('b-only');

      server = await startRedis(port);
      await eventually(() => expect(a.redis.available && b.redis.available).toBe(true), {
        timeoutMs: 10_000,
      });
      await a.cache.getOrLoad(
        'projects',
        'after',
        loader('a3', () => 'shared-again'),
      );
      expect(await b.cache.getOrLoad('projects', 'after', loader('none'))).toBe('shared-again');
    } finally {
      await Promise.all(open.splice(0).map((r) => r.close()));
      await stopRedis(server);
    }
  });
});

describe('CacheService with a hung Redis', () => {
  it('stops waiting on a Redis that accepts connections but answers nothing, and resumes when it answers', async () => {
    const port = await freePort();
    const server = await startRedis(port);
    try {
      const env = { REDIS_COMMAND_TIMEOUT_MS: '300', REDIS_CONNECT_TIMEOUT_MS: '1000' };
      const a = await replica(prefix, env, { redisUrl: `redis://127.0.0.1:${port}` });
      await a.cache.getOrLoad(
        'projects',
        'warm',
        loader('warm', () => 'ok'),
      );

      server.kill('SIGSTOP'); // the connection stays open; commands just time out
      const startedAtMs = Date.now();
      for (let i = 0; i < 10; i++) {
        expect(
          await a.cache.getOrLoad(
            'projects',
            `k${i}`,
            loader(`k${i}`, () => `v${i}`),
          ),
        ).toBe(`v${i}`);
      }
      // Ten cold lookups each waiting on several timed-out commands would take seconds; after the first
      // failure the cache leaves Redis alone for a moment instead.
      expect(Date.now() - startedAtMs).toBeLessThan(2_500);

      server.kill('SIGCONT');
      // Once the pause after the last failure ends, a load is shared again (a new key each try).
      let attempt = 0;
      const key = await eventually(
        async () => {
          const candidate = `after-${attempt++}`;
          await a.cache.getOrLoad('projects', candidate, () => Promise.resolve('shared'));
          expect(await storedEnvelope(a, 'projects', candidate)).not.toBeNull();
          return candidate;
        },
        { timeoutMs: 5_000, intervalMs: 50 },
      );
      const b = await replica(prefix, env, { redisUrl: `redis://127.0.0.1:${port}` });
      expect(await b.cache.getOrLoad('projects', key, loader('none'))).toBe('shared');
    } finally {
      server.kill('SIGCONT');
      await Promise.all(open.splice(0).map((r) => r.close()));
      await stopRedis(server);
    }
  });
});

describe('CacheService with a slow shared write', () => {
  it("answers a load's callers once the value is in memory, without waiting for Redis to acknowledge its write", async () => {
    const port = await freePort();
    const server = await startRedis(port);
    try {
      // Long enough that waiting for the write's acknowledgement (or its timeout) shows.
      const env = { REDIS_COMMAND_TIMEOUT_MS: '10000' };
      const a = await replica(prefix, env, { redisUrl: `redis://127.0.0.1:${port}` });
      await a.cache.getOrLoad(
        'projects',
        'warm',
        loader('warm', () => 'ok'),
      );
      // The lock is taken before the loader runs; Redis stops answering while it loads, so the value's
      // shared write stays unacknowledged until it resumes.
      const callers = Array.from({ length: 50 }, () =>
        a.cache.getOrLoad(
          'projects',
          'cold',
          loader('cold', () => {
            server.kill('SIGSTOP');
            return 'fresh';
          }),
        ),
      );
      const outcome = await Promise.race([
        Promise.all(callers),
        new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), 3_000).unref()),
      ]);
      expect(outcome).toEqual(Array.from({ length: 50 }, () => 'fresh'));

      server.kill('SIGCONT');
      // The write lands once Redis answers again, and another replica reads it there (no loader call).
      await eventually(async () => expect(await storedEnvelope(a, 'projects', 'cold')).not.toBeNull(), {
        timeoutMs: 5_000,
        intervalMs: 50,
      });
      const b = await replica(prefix, env, { redisUrl: `redis://127.0.0.1:${port}` });
      expect(await b.cache.getOrLoad('projects', 'cold', loader('none'))).toBe('fresh');
      expect(unexpectedCalls).toEqual([]);
    } finally {
      server.kill('SIGCONT');
      await Promise.all(open.splice(0).map((r) => r.close()));
      await stopRedis(server);
    }
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A dedicated, throwaway Redis (no persistence), so the test can take it away and bring it back. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  await eventually(
    async () => {
      const probe = createServer();
      return new Promise<boolean>((resolve) => {
        probe.once('error', () => resolve(true)); // port taken: the server is listening
        probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
      });
      // A loaded CI machine can take seconds to start a process: wait for the condition, not a budget of 5 s.
    },
    { timeoutMs: 20_000 },
  );
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
