import { BadRequestException, Logger, NotFoundException } from '@nestjs/common';
import { GraphQLError } from 'graphql';
import { ErrorCode, GatewayError } from '../common/errors';
import { formatGraphqlError } from './format-graphql-error';

/** What Apollo hands formatError for a resolver error: a GraphQLError wrapping what was thrown. */
function fromResolver(thrown: unknown) {
  const error = new GraphQLError('wrapped', { originalError: thrown as Error, path: ['field'] });
  return formatGraphqlError(
    { message: 'wrapped', path: ['field'], extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    error,
  );
}

describe('formatGraphqlError', () => {
  // The errors these cases provoke on purpose are logged for the operator, not printed in the test log.
  const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  afterAll(() => logged.mockRestore());

  it('keeps a GatewayError code, message and details', () => {
    const formatted = fromResolver(
      new GatewayError(ErrorCode.CONFLICT, 'A run with this tag is running', {
        executionTag: 'nightly',
        existingExecutionId: undefined,
      }),
    );
    expect(formatted).toEqual({
      message: 'A run with this tag is running',
      path: ['field'],
      locations: undefined,
      extensions: { code: 'CONFLICT', executionTag: 'nightly' },
    });
  });

  it('masks anything unexpected as INTERNAL with a generic message', () => {
    const formatted = fromResolver(new Error('connect ECONNREFUSED redis://secret@10.0.0.1:6379'));
    expect(formatted.message).toBe('Internal server error');
    expect(formatted.extensions).toEqual({ code: 'INTERNAL' });
    expect(JSON.stringify(formatted)).not.toContain('secret');
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('ECONNREFUSED'));
  });

  it('maps Nest HTTP exceptions to the shared codes', () => {
    expect(fromResolver(new BadRequestException('size must be at most 100')).extensions).toEqual({
      code: 'BAD_USER_INPUT',
    });
    expect(fromResolver(new NotFoundException()).extensions).toEqual({ code: 'NOT_FOUND' });
  });

  it('keeps parse and validation failures distinct from BAD_USER_INPUT, with their message', () => {
    const parse = new GraphQLError('Syntax Error: Expected Name, found <EOF>.');
    expect(
      formatGraphqlError({ message: parse.message, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }, parse),
    ).toEqual({
      message: parse.message,
      locations: undefined,
      path: undefined,
      extensions: { code: 'GRAPHQL_PARSE_FAILED' },
    });
    // A bad literal: the scalar's own error (coded BAD_USER_INPUT) wrapped by Apollo's validation error.
    const scalar = new GraphQLError('DateTime must be a string', { extensions: { code: 'BAD_USER_INPUT' } });
    const validation = new GraphQLError(scalar.message, {
      originalError: scalar,
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    expect(
      formatGraphqlError(
        { message: validation.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: {} } },
        validation,
      ).extensions,
    ).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
  });

  it('keeps the persisted-query codes Apollo Client reacts to', () => {
    const notFound = new GraphQLError('PersistedQueryNotFound', {
      extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
    });
    expect(
      formatGraphqlError(
        { message: notFound.message, extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } },
        notFound,
      ),
    ).toMatchObject({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
  });

  it('turns other request and variable errors into BAD_USER_INPUT with their message', () => {
    const variable = new GraphQLError('Variable "$s" got invalid value "ten"; Int cannot represent it');
    expect(formatGraphqlError({ message: variable.message }, variable)).toEqual({
      message: variable.message,
      locations: undefined,
      path: undefined,
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const badRequest = new GraphQLError('GraphQL operations must contain a non-empty `query`', {
      extensions: { code: 'BAD_REQUEST' },
    });
    expect(
      formatGraphqlError({ message: badRequest.message, extensions: { code: 'BAD_REQUEST' } }, badRequest)
        .extensions,
    ).toEqual({ code: 'BAD_USER_INPUT' });
  });

  it('keeps a code the gateway set deliberately (e.g. a document limit) and drops internals', () => {
    const limit = new GraphQLError('Query too complex', { extensions: { code: 'QUERY_TOO_COMPLEX' } });
    expect(
      formatGraphqlError(
        { message: limit.message, extensions: { code: 'QUERY_TOO_COMPLEX', stacktrace: ['at x'] } },
        limit,
      ).extensions,
    ).toEqual({ code: 'QUERY_TOO_COMPLEX' });
  });
});
