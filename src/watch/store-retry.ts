import { ErrorCode, GatewayError } from '../common/errors';

/**
 * A read of the watch store made for subscribers (a late subscriber's catch-up, a channel filling a gap
 * from the history) is tried again after these waits when it fails: under load a Redis command times out
 * (`REDIS_COMMAND_TIMEOUT_MS`) now and then, and the next try usually gets through. When every try failed
 * the subscribers end with UNAVAILABLE and the hint below, and subscribe again to catch up from the history.
 */
export const STORE_READ_RETRY_DELAYS_MS: readonly number[] = [200, 800];
export const STORE_RETRY_AFTER_SECONDS = 2;

/** Subscribers could not be given what they missed, after the retries: retryable, nothing was lost. */
export function storeUnavailable(): GatewayError {
  return new GatewayError(
    ErrorCode.UNAVAILABLE,
    'Live status is unavailable right now; subscribe again shortly',
    {
      retryAfterSeconds: STORE_RETRY_AFTER_SECONDS,
    },
  );
}
