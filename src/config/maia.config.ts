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
  MAIA_RECONCILE_CLOCK_SKEW_MS: envInt(5_000, 0, 600_000),
  MAIA_MAX_ATTEMPTS: envInt(3, 1, 10),
  MAIA_RETRY_BASE_DELAY_MS: envInt(100, 1, 60_000),
  MAIA_RETRY_MAX_DELAY_MS: envInt(2_000, 1, 300_000),
  MAIA_RETRY_BUDGET_WINDOW_MS: envInt(10_000, 100, 600_000),
  MAIA_RETRY_BUDGET_MIN_RETRIES: envInt(3, 0, 10_000),
  MAIA_DEFAULT_RETRY_AFTER_MS: envInt(1_000, 0, 600_000),
  MAIA_TOKEN_TIMEOUT_MS: envInt(2_000, 100, 60_000),
  MAIA_TOKEN_RETRY_INTERVAL_MS: envInt(5_000, 0, 600_000),
  MAIA_TOKEN_REJECTED_RETRY_INTERVAL_MS: envInt(60_000, 0, 3_600_000),
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
    /** A run counts as ours only if Maia says it started no earlier than this before the call. */
    reconcileClockSkewMs: v.MAIA_RECONCILE_CLOCK_SKEW_MS,
    /** Attempts per idempotent call (first one included); the cancel PATCH gets at most 2. */
    maxAttempts: v.MAIA_MAX_ATTEMPTS,
    /** Full-jitter backoff: a retry waits random(0, min(max, base * 2^retry)). */
    retryBaseDelayMs: v.MAIA_RETRY_BASE_DELAY_MS,
    retryMaxDelayMs: v.MAIA_RETRY_MAX_DELAY_MS,
    /** Retries allowed in a sliding window: retryBudgetRatio * calls + retryBudgetMinRetries. */
    retryBudgetWindowMs: v.MAIA_RETRY_BUDGET_WINDOW_MS,
    retryBudgetMinRetries: v.MAIA_RETRY_BUDGET_MIN_RETRIES,
    /** Cooldown after a 429 that carries no usable Retry-After. */
    defaultRetryAfterMs: v.MAIA_DEFAULT_RETRY_AFTER_MS,
    /** The longest a caller waits for a token when none is valid. */
    tokenTimeoutMs: v.MAIA_TOKEN_TIMEOUT_MS,
    /** Token endpoint down: the next attempt no sooner than this. */
    tokenRetryIntervalMs: v.MAIA_TOKEN_RETRY_INTERVAL_MS,
    /** Credentials rejected: the next attempt no sooner than this. */
    tokenRejectedRetryIntervalMs: v.MAIA_TOKEN_REJECTED_RETRY_INTERVAL_MS,
  };
}
export type MaiaConfig = ReturnType<typeof maiaConfig>;
