import { ErrorCode, GatewayError } from '../../common/errors';

/** Visible ASCII, 1..255: safe in a header, a log line and a Redis key. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
export const MAX_VARIABLES = 200;
export const MAX_VARIABLE_VALUE_LENGTH = 10_000;

/** The `Idempotency-Key` header of a REST launch, when sent: refused with BAD_USER_INPUT unless it fits. */
export function checkIdempotencyKeyHeader(idempotencyKey: string | undefined): void {
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey)) {
    throw new GatewayError(
      ErrorCode.BAD_USER_INPUT,
      'Idempotency-Key must be 1 to 255 visible ASCII characters',
    );
  }
}
