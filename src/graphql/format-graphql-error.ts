import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode, GatewayError } from '../common/errors';
import { toGatewayError } from '../common/http/to-gateway-error';

const knownCodes = new Set<string>(Object.values(ErrorCode));

/**
 * Apollo's own request errors that are the client's input at fault and have no code of their own in the
 * shared list (a malformed body, an operation name not in the document): BAD_USER_INPUT. Parse and
 * validation failures and the persisted-query codes are in the list and keep theirs.
 */
const requestErrorCodes = new Set(['BAD_USER_INPUT', 'BAD_REQUEST', 'OPERATION_RESOLUTION_FAILURE']);

/** Codes Apollo (or our graphql-ws hooks) set on the document itself: kept whatever the wrapped cause. */
const documentCodes = new Set<string>([
  ErrorCode.GRAPHQL_PARSE_FAILED,
  ErrorCode.GRAPHQL_VALIDATION_FAILED,
  ErrorCode.PERSISTED_QUERY_NOT_FOUND,
  ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED,
  ErrorCode.PERSISTED_QUERY_NOT_ALLOWED,
]);

/** Follows `originalError` links (resolver wrapping, context creation) down to what was thrown. */
function rootCause(error: unknown): unknown {
  let current = unwrapResolverError(error);
  for (let depth = 0; depth < 5 && current instanceof GraphQLError && current.originalError; depth++) {
    current = unwrapResolverError(current.originalError);
  }
  return current;
}

/**
 * The one GraphQL error formatter (HTTP and graphql-ws): every error leaves with `extensions.code` from the
 * shared enum. Parse and validation failures keep GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED and
 * graphql-js's message (it only describes the client's own document); other request and variable errors
 * become BAD_USER_INPUT; errors from below keep their code, safe message and details;
 * anything unexpected becomes INTERNAL with a generic message (the real one is logged by `toGatewayError`).
 */
export function formatGraphqlError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const cause = rootCause(error);
  const base = { locations: formatted.locations, path: formatted.path };
  const documentCode = formatted.extensions?.code;
  if (typeof documentCode === 'string' && documentCodes.has(documentCode)) {
    // A scalar's own error inside a validation failure (a bad literal) brings its code along: drop it.
    return { ...base, message: formatted.message, extensions: { code: documentCode } };
  }

  if (cause instanceof GraphQLError || cause === undefined) {
    const rawCode: unknown = formatted.extensions?.code ?? cause?.extensions?.code;
    const code = typeof rawCode === 'string' ? rawCode : '';
    if (knownCodes.has(code)) {
      // Deliberately coded by the gateway (e.g. a document limit): keep it with its safe extensions.
      return { ...base, message: formatted.message, extensions: stripInternal(formatted.extensions, code) };
    }
    if (
      requestErrorCodes.has(code) ||
      (cause instanceof GraphQLError && !cause.originalError && !cause.path)
    ) {
      return { ...base, message: formatted.message, extensions: { code: ErrorCode.BAD_USER_INPUT } };
    }
  }

  const gatewayError = cause instanceof GatewayError ? cause : toGatewayError(cause);
  const details = Object.fromEntries(Object.entries(gatewayError.details).filter(([, v]) => v !== undefined));
  return { ...base, message: gatewayError.message, extensions: { ...details, code: gatewayError.code } };
}

function stripInternal(
  extensions: GraphQLFormattedError['extensions'],
  code: string,
): Record<string, unknown> {
  const {
    stacktrace: _stacktrace,
    exception: _exception,
    ...rest
  } = (extensions ?? {}) as Record<string, unknown>;
  return { ...rest, code };
}

/** The same mapping for errors graphql-ws sends itself (it does not pass through Apollo). */
export function formatGraphqlErrors(errors: readonly GraphQLError[]): GraphQLFormattedError[] {
  return errors.map((error) => formatGraphqlError(error.toJSON(), error));
}
