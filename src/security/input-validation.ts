import { ErrorCode, GatewayError } from '../common/errors';
import { isSafeName, MAX_NAME_LENGTH } from '../common/validation';
import { isUuid, UUID_PATTERN } from '../common/validation/uuid';

/**
 * Input hygiene for code paths outside the validation pipe (guards, SSE, services fed by headers). The
 * pipe's decorators (`IsSafeName`, `IsUUID`) cover DTOs and args; these are the same rules as functions.
 */
export { isUuid, UUID_PATTERN };

/** BAD_USER_INPUT naming the field (never echoing the value) unless `value` is a UUID. */
export function assertUuid(value: unknown, field: string): string {
  if (!isUuid(value)) {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, `Invalid input: ${field} must be a UUID`, {
      fields: field,
    });
  }
  return value;
}

/** BAD_USER_INPUT unless `value` is 1..255 characters without control characters. */
export function assertSafeName(value: unknown, field: string): string {
  if (!isSafeName(value)) {
    throw new GatewayError(
      ErrorCode.BAD_USER_INPUT,
      `Invalid input: ${field} must be 1 to ${MAX_NAME_LENGTH} characters without control characters`,
      { fields: field },
    );
  }
  return value;
}

/**
 * A value as one URL path segment: percent-encoded so `/`, `?`, `#` and `%` stay inside it. The dot
 * segments `.` and `..` (and the empty segment) cannot be made safe at all: WHATWG URL parsing treats
 * `%2E%2E` as `..` too. They are refused; real path values are ids anyway.
 */
export function encodePathSegment(value: string): string {
  if (value === '' || value === '.' || value === '..') {
    throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'Invalid input: an id cannot be empty or a dot segment');
  }
  return encodeURIComponent(value);
}
