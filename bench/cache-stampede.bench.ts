import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { ROOT } from './lib/repo';
import { round } from './lib/stats';

/**
 * The cache's own part of a cold stampede, without HTTP or GraphQL: `--callers` concurrent
 * `getOrLoad` calls of one cold entry in one process, on the real Redis (`REDIS_URL`, default
 * 127.0.0.1:6379), against one or more compiled builds (`--dist=a/dist,b/dist`, rounds interleaved so
 * drift on a shared machine falls on every build alike). Per round: when the loader was called after the
 * first caller, when the last caller had its value after the loader returned, and how many GETs and MGETs
 * the callers sent. What the engine does with the value afterwards is not here (bench/run.ts measures that).
 *
 *   npm run build && npx tsc -p tsconfig.bench.json && node dist/bench/cache-stampede.bench.js
 *   options: --dist=<dist,...> (default: this build) --callers 500 --rounds 7 (docs/adr/0031 has figures)
 */

interface Build {
  dist: string;
  callAfterMs: number[];
  lastAnswerMs: number[];
  gets: number[];
  getManys: number[];
}

/** The compiled gateway code this bench uses, as far as it uses it (loaded from each build's dist). */
interface Compiled {
  core: { NestFactory: { createApplicationContext(module: unknown, options: object): Promise<AppContext> } };
  common: { Module(metadata: object): ClassDecorator };
  config: {
    loadConfig(env: Record<string, string>): unknown;
    ConfigModule: { forRoot(config: unknown): unknown };
  };
  redis: { RedisModule: unknown; RedisService: unknown };
  cache: { CacheModule: unknown; CacheService: unknown };
}
interface AppContext {
  get<T>(token: unknown): T;
  close(): Promise<void>;
}
interface Redis {
  get(key: string): Promise<string | null>;
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  scanKeys(pattern: string): Promise<string[]>;
  delete(...keys: string[]): Promise<number>;
}
interface Cache {
  getOrLoad<T>(resource: string, key: string, loader: () => Promise<T>, options: object): Promise<T>;
}

function load(dist: string): Compiled {
  /* eslint-disable @typescript-eslint/no-require-imports -- compiled gateway code, outside bench/ */
  return {
    core: require(resolve(dist, '../node_modules/@nestjs/core')) as Compiled['core'],
    common: require(resolve(dist, '../node_modules/@nestjs/common')) as Compiled['common'],
    config: require(resolve(dist, 'config')) as Compiled['config'],
    redis: {
      ...(require(resolve(dist, 'redis')) as { RedisService: unknown }),
      ...(require(resolve(dist, 'redis/redis.module')) as { RedisModule: unknown }),
    },
    cache: {
      ...(require(resolve(dist, 'cache/cache.module')) as { CacheModule: unknown }),
      ...(require(resolve(dist, 'cache/cache.service')) as { CacheService: unknown }),
    },
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}

async function oneRound(build: Build, callers: number): Promise<void> {
  const { core, common, config, redis: redisModule, cache: cacheModule } = load(build.dist);
  const prefix = `bench:${randomUUID()}:`;
  const appConfig = config.loadConfig({
    REDIS_KEY_PREFIX: prefix,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    LOG_LEVEL: 'silent',
  });
  class BenchModule {}
  common.Module({
    imports: [config.ConfigModule.forRoot(appConfig), redisModule.RedisModule, cacheModule.CacheModule],
  })(BenchModule);
  const app = await core.NestFactory.createApplicationContext(BenchModule, { logger: false });
  const cache = app.get<Cache>(cacheModule.CacheService);
  const redis = app.get<Redis>(redisModule.RedisService);
  let gets = 0;
  let getManys = 0;
  const get = redis.get.bind(redis);
  const getMany = redis.getMany.bind(redis);
  redis.get = (key) => (gets++, get(key));
  redis.getMany = (keys) => (getManys++, getMany(keys));
  try {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calledAt = 0;
    let returnedAt = 0;
    let lastAt = 0;
    const value = Array.from({ length: 50 }, (_, i) => ({ id: `p${i}`, name: `Project ${i}` }));
    const loader = async () => {
      calledAt = performance.now();
      await gate;
      returnedAt = performance.now();
      return value;
    };
    const start = performance.now();
    const all = Promise.all(
      Array.from({ length: callers }, () =>
        cache
          .getOrLoad('projects', 'page:0:size:25', loader, { readOnly: true })
          .then(() => (lastAt = performance.now())),
      ),
    );
    while (calledAt === 0) await new Promise((r) => setImmediate(r));
    // Let every caller reach its wait before the value comes back, as in a real stampede.
    await new Promise((r) => setTimeout(r, 50));
    release();
    await all;
    build.callAfterMs.push(calledAt - start);
    build.lastAnswerMs.push(lastAt - returnedAt);
    build.gets.push(gets);
    build.getManys.push(getManys);
    const keys = await redis.scanKeys(`${prefix}*`);
    if (keys.length) await redis.delete(...keys);
  } finally {
    await app.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const arg = (name: string, fallback: string): string =>
    process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
  const builds: Build[] = arg('dist', resolve(ROOT, 'dist'))
    .split(',')
    .map((dist) => ({ dist: resolve(dist), callAfterMs: [], lastAnswerMs: [], gets: [], getManys: [] }));
  const callers = Number(arg('callers', '500'));
  const rounds = Number(arg('rounds', '7'));
  for (let r = 0; r < rounds; r++) for (const build of builds) await oneRound(build, callers);
  console.log(`node ${process.version}, ${callers} callers, ${rounds} rounds, medians [min-max]`);
  for (const b of builds) {
    const fmt = (v: number[]) =>
      `${round(median(v), 1)} [${round(Math.min(...v), 1)}-${round(Math.max(...v), 1)}]`;
    console.log(
      `${b.dist}: loader called ${fmt(b.callAfterMs)} ms after the first caller; last caller answered ` +
        `${fmt(b.lastAnswerMs)} ms after the loader returned; GET ${median(b.gets)}, MGET ${median(b.getManys)}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
