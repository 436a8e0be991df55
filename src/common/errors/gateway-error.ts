import { ErrorCode, httpStatusOf } from './error-code';

/** Extra, client-safe facts attached to an error (GraphQL `extensions`, REST problem members). */
export type ErrorDetails = Record<string, string | number | boolean | null | undefined>;

/**
 * The one error type that crosses layers. Its message and details are shown to clients as they are,
 * so they must never carry an upstream URL, an upstream body, a token or a secret.
 */
export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GatewayError';
  }

  get httpStatus(): number {
    return httpStatusOf(this.code);
  }

  static is(error: unknown, code?: ErrorCode): error is GatewayError {
    return error instanceof GatewayError && (code === undefined || error.code === code);
  }
}
