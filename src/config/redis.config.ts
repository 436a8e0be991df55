import { z } from 'zod';
import { envInt, envOptionalString, type Env } from './env';

const schema = z.object({
  REDIS_URL: envOptionalString().refine((v) => v === undefined || /^rediss?:\/\//.test(v), {
    message: 'must start with redis:// or rediss://',
  }),
  REDIS_KEY_PREFIX: z.string().min(1).max(64).default('mg:'),
  REDIS_COMMAND_TIMEOUT_MS: envInt(500, 10, 60_000),
  REDIS_CONNECT_TIMEOUT_MS: envInt(2_000, 10, 60_000),
});

export function redisConfig(env: Env) {
  const v = schema.parse(env);
  return {
    /** Unset: the gateway runs on memory alone, as one replica. */
    url: v.REDIS_URL,
    keyPrefix: v.REDIS_KEY_PREFIX,
    commandTimeoutMs: v.REDIS_COMMAND_TIMEOUT_MS,
    connectTimeoutMs: v.REDIS_CONNECT_TIMEOUT_MS,
  };
}
export type RedisConfig = ReturnType<typeof redisConfig>;
