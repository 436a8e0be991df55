import { z } from 'zod';
import { envInt, envNumber, envOptionalString, envUrl, type Env } from './env';

export const maiaRegions = ['eu1', 'us1', 'au1'] as const;

const schema = z.object({
  MAIA_CLIENT_ID: envOptionalString(),
  MAIA_CLIENT_SECRET: envOptionalString(),
  MAIA_REGION: z.enum(maiaRegions).default('eu1'),
  MAIA_BASE_URL: envUrl(),
  MAIA_TOKEN_URL: envUrl(),
  MAIA_AUDIENCE: z.string().default('https://api.matillion.com'),
  MAIA_ACCOUNT_ID: envOptionalString(),
  MAIA_ATTEMPT_TIMEOUT_MS: envInt(5_000, 100, 120_000),
  MAIA_DEADLINE_MS: envInt(15_000, 100, 300_000),
  MAIA_RETRY_BUDGET_RATIO: envNumber(0.1, 0, 1),
  MAIA_MAX_RESPONSE_BYTES: envInt(5 * 1024 * 1024, 1024),
  MAIA_BREAKER_FAILURE_THRESHOLD: envInt(5, 1, 1000),
  MAIA_BREAKER_OPEN_MS: envInt(10_000, 100, 600_000),
  MAIA_RECONCILE_WINDOW_MS: envInt(120_000, 1_000, 3_600_000),
});

export function maiaConfig(env: Env) {
  const v = schema.parse(env);
  if ((v.MAIA_CLIENT_ID === undefined) !== (v.MAIA_CLIENT_SECRET === undefined)) {
    throw new z.ZodError([
      {
        code: 'custom',
        path: [v.MAIA_CLIENT_ID === undefined ? 'MAIA_CLIENT_ID' : 'MAIA_CLIENT_SECRET'],
        message: 'MAIA_CLIENT_ID and MAIA_CLIENT_SECRET are set together or not at all',
        input: undefined,
      },
    ]);
  }
  return {
    clientId: v.MAIA_CLIENT_ID,
    clientSecret: v.MAIA_CLIENT_SECRET,
    region: v.MAIA_REGION,
    baseUrl: v.MAIA_BASE_URL ?? `https://${v.MAIA_REGION}.api.matillion.com/dpc`,
    tokenUrl: v.MAIA_TOKEN_URL ?? 'https://id.core.matillion.com/oauth/dpc/token',
    audience: v.MAIA_AUDIENCE,
    accountId: v.MAIA_ACCOUNT_ID,
    attemptTimeoutMs: v.MAIA_ATTEMPT_TIMEOUT_MS,
    deadlineMs: v.MAIA_DEADLINE_MS,
    retryBudgetRatio: v.MAIA_RETRY_BUDGET_RATIO,
    maxResponseBytes: v.MAIA_MAX_RESPONSE_BYTES,
    breakerFailureThreshold: v.MAIA_BREAKER_FAILURE_THRESHOLD,
    breakerOpenMs: v.MAIA_BREAKER_OPEN_MS,
    /** How far back execute reconciliation looks for a run it may have created. */
    reconcileWindowMs: v.MAIA_RECONCILE_WINDOW_MS,
  };
}
export type MaiaConfig = ReturnType<typeof maiaConfig>;
