/** Visible ASCII, 1..255: safe in a header, a log line and a Redis key. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
export const MAX_VARIABLES = 200;
export const MAX_VARIABLE_VALUE_LENGTH = 10_000;
