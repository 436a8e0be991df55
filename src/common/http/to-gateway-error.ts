import { HttpException, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../errors';

const logger = new Logger('Errors');

/** What a client that sent a body in another format (a form, plain text, none declared) is told. */
export const JSON_BODY_REQUIRED = 'The request body must be JSON, sent with content-type: application/json';

/** Generic, client-safe messages for codes whose original message may say too much. */
const genericMessages: Partial<Record<ErrorCode, string>> = {
  [ErrorCode.INTERNAL]: 'Internal server error',
  [ErrorCode.PAYLOAD_TOO_LARGE]: 'The request body is too large',
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: JSON_BODY_REQUIRED,
  [ErrorCode.NOT_FOUND]: 'Not found',
};

function codeOfHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
    case 405:
    case 406:
    case 411:
    case 422:
      return ErrorCode.BAD_USER_INPUT;
    case 401:
      return ErrorCode.UNAUTHENTICATED;
    case 403:
      return ErrorCode.FORBIDDEN;
    case 404:
      return ErrorCode.NOT_FOUND;
    case 409:
      return ErrorCode.CONFLICT;
    case 410:
      return ErrorCode.PIPELINE_DISABLED;
    case 413:
      return ErrorCode.PAYLOAD_TOO_LARGE;
    case 415:
      return ErrorCode.UNSUPPORTED_MEDIA_TYPE;
    case 429:
      return ErrorCode.RATE_LIMITED;
    case 503:
      return ErrorCode.SHUTTING_DOWN;
    default:
      return status >= 400 && status < 500 ? ErrorCode.BAD_USER_INPUT : ErrorCode.INTERNAL;
  }
}

/** Fastify's own errors (body parsing, routing) carry a `code` like `FST_ERR_CTP_BODY_TOO_LARGE`. */
function isFastifyError(error: unknown): error is Error & { code: string; statusCode?: number } {
  return (
    error instanceof Error &&
    typeof (error as unknown as { code?: unknown }).code === 'string' &&
    (error as unknown as { code: string }).code.startsWith('FST_')
  );
}

function messageOfHttpException(error: HttpException): string {
  const response = error.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  if (typeof message === 'string') return message;
  return error.message;
}

/**
 * Turns anything thrown below the edge into the one client-facing error shape. Known errors keep their
 * code and safe message; anything unexpected becomes `INTERNAL` with a generic message, and the real one
 * is logged here (server side only).
 */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;

  if (isFastifyError(error)) {
    const status = error.statusCode ?? 500;
    const code = codeOfHttpStatus(status);
    if (code === ErrorCode.INTERNAL) return internal(error);
    const message =
      error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY'
        ? 'The request body is not valid JSON'
        : (genericMessages[code] ?? 'Bad request');
    return new GatewayError(code, message, {}, { cause: error });
  }

  if (error instanceof HttpException) {
    const status = error.getStatus();
    const code = codeOfHttpStatus(status);
    if (code === ErrorCode.INTERNAL) return internal(error);
    // A route miss says "Cannot GET /x": harmless, but a stable message is easier on clients.
    // Fastify's own 415 arrives as "Unsupported Media Type": say what the body must be instead.
    const message =
      code === ErrorCode.NOT_FOUND
        ? 'Not found'
        : code === ErrorCode.UNSUPPORTED_MEDIA_TYPE
          ? JSON_BODY_REQUIRED
          : messageOfHttpException(error);
    return new GatewayError(code, message, {}, { cause: error });
  }

  // JSON.parse failures of Fastify's body parser arrive as SyntaxErrors with a 400 statusCode.
  if (error instanceof SyntaxError && (error as { statusCode?: number }).statusCode === 400) {
    return new GatewayError(
      ErrorCode.BAD_USER_INPUT,
      'The request body is not valid JSON',
      {},
      { cause: error },
    );
  }

  // Any other error that carries a 4xx status is a client error we can name without its message.
  const statusCode = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const code = codeOfHttpStatus(statusCode);
    return new GatewayError(code, genericMessages[code] ?? 'Bad request', {}, { cause: error });
  }

  return internal(error);
}

function internal(error: unknown): GatewayError {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  logger.error(`Unexpected error: ${text}`);
  return new GatewayError(
    ErrorCode.INTERNAL,
    genericMessages[ErrorCode.INTERNAL] as string,
    {},
    { cause: error },
  );
}
