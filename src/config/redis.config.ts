import { z } from 'zod';
import { envBool, envInt, envOptionalString, type Env } from './env';

const REDIS_URL = /^rediss?:\/\//;

const schema = z
  .object({
    // One URL; with REDIS_CLUSTER, one or more seed nodes separated by commas.
    REDIS_URL: envOptionalString().refine(
      (v) => v === undefined || v.split(',').every((u) => REDIS_URL.test(u.trim())),
      {
        message:
          'must start with redis:// or rediss:// (with REDIS_CLUSTER: a comma-separated list of such URLs)',
      },
    ),
    REDIS_CLUSTER: envBool(false),
    REDIS_KEY_PREFIX: z
      .string()
      .min(1)
      .max(64)
      .refine((v) => !/[{}]/.test(v), { message: "must not contain { or } (hash tags are the gateway's)" })
      .default('mg:'),
    REDIS_COMMAND_TIMEOUT_MS: envInt(500, 10, 60_000),
    REDIS_CONNECT_TIMEOUT_MS: envInt(2_000, 10, 60_000),
  })
  .superRefine((v, ctx) => {
    if (v.REDIS_URL?.includes(',') && !v.REDIS_CLUSTER) {
      ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'several URLs need REDIS_CLUSTER=true' });
    }
  });

export function redisConfig(env: Env) {
  const v = schema.parse(env);
  const urls = v.REDIS_URL?.split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  return {
    /** Unset: the gateway runs on memory alone, as one replica. */
    url: urls?.[0],
    /** Redis Cluster: the seed nodes (REDIS_URL's list); the cluster's other nodes are discovered. */
    cluster: v.REDIS_CLUSTER && urls ? urls : undefined,
    keyPrefix: v.REDIS_KEY_PREFIX,
    commandTimeoutMs: v.REDIS_COMMAND_TIMEOUT_MS,
    connectTimeoutMs: v.REDIS_CONNECT_TIMEOUT_MS,
  };
}
export type RedisConfig = ReturnType<typeof redisConfig>;
