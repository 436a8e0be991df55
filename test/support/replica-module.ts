import type { ModuleMetadata } from '@nestjs/common';
import { Test, type TestingModule, type TestingModuleBuilder } from '@nestjs/testing';
import { ConfigModule, loadConfig } from '../../src/config';
import { RedisModule } from '../../src/redis/redis.module';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface ReplicaModuleOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Redis to use; null runs on memory alone (default: the test Redis). */
  redisUrl?: string | null;
  /** The modules under test, beside configuration and the Redis provider. */
  imports: ModuleMetadata['imports'];
  /** A last word on the builder (e.g. an override) before it compiles. */
  configure?: (builder: TestingModuleBuilder) => void;
}

/**
 * One gateway replica's slice of the application in its own Nest testing module: its own configuration
 * and Redis connections, sharing the test's key prefix with the other "replicas" of the test.
 */
export async function startReplicaModule(
  prefix: string,
  options: ReplicaModuleOptions,
): Promise<TestingModule> {
  const redisUrl = options.redisUrl === undefined ? TEST_REDIS_URL : options.redisUrl;
  const config = loadConfig({
    REDIS_KEY_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    ...options.env,
  });
  const builder = Test.createTestingModule({
    imports: [ConfigModule.forRoot(config), RedisModule, ...(options.imports ?? [])],
  });
  options.configure?.(builder);
  const moduleRef = await builder.compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return moduleRef;
}

/**
 * Strict scripted doubles: each answers its scripted steps in order; a call beyond them is recorded in
 * `unexpected` (check it in afterEach: a service under test may swallow the throw) and throws.
 */
export function scriptedDoubles(): {
  unexpected: string[];
  script<T>(name: string, ...steps: Array<() => T | Promise<T>>): jest.Mock<Promise<T>, []>;
} {
  const unexpected: string[] = [];
  return {
    unexpected,
    script<T>(name: string, ...steps: Array<() => T | Promise<T>>): jest.Mock<Promise<T>, []> {
      let calls = 0;
      return jest.fn(async () => {
        const step = steps[calls++];
        if (!step) {
          unexpected.push(`${name} call #${calls}`);
          throw new Error(`unexpected call #${calls} of ${name}`);
        }
        return step();
      });
    },
  };
}

/** A promise the test opens by hand: `await gate` inside a double holds it until `release()`. */
export function latch(): { gate: Promise<void>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return { gate, release };
}
