import { z } from 'zod';
import { authConfig } from './auth.config';
import { cacheConfig } from './cache.config';
import { type Env } from './env';
import { maiaConfig } from './maia.config';
import { observabilityConfig } from './observability.config';
import { redisConfig } from './redis.config';
import { sandboxConfig } from './sandbox.config';
import { serverConfig } from './server.config';
import { watchConfig } from './watch.config';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const namespaces = {
  server: serverConfig,
  maia: maiaConfig,
  redis: redisConfig,
  cache: cacheConfig,
  watch: watchConfig,
  auth: authConfig,
  sandbox: sandboxConfig,
  observability: observabilityConfig,
};

export type AppConfig = { [K in keyof typeof namespaces]: ReturnType<(typeof namespaces)[K]> };

/**
 * Reads and validates the whole configuration once. Every problem is reported at once, each naming its
 * variable; values are never echoed, since some of them are secrets.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const problems: string[] = [];
  const out: Partial<Record<keyof AppConfig, unknown>> = {};
  for (const [name, read] of Object.entries(namespaces) as [keyof AppConfig, (e: Env) => unknown][]) {
    try {
      out[name] = read(env);
    } catch (error) {
      if (!(error instanceof z.ZodError)) throw error;
      for (const issue of error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  return out as AppConfig;
}

/** Injection token of the validated configuration. */
export const APP_CONFIG = Symbol('APP_CONFIG');
