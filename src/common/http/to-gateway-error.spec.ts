import { HttpException, Logger, NotFoundException } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../errors';
import { problemOf } from './problem-json';
import { toGatewayError } from './to-gateway-error';

function fastifyError(code: string, statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { code, statusCode });
}

describe('toGatewayError', () => {
  // The errors these cases provoke on purpose are logged for the operator, not printed in the test log.
  const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  afterAll(() => logged.mockRestore());

  it.each([
    [
      fastifyError('FST_ERR_CTP_BODY_TOO_LARGE', 413, 'Request body is too large'),
      ErrorCode.PAYLOAD_TOO_LARGE,
    ],
    [
      fastifyError(
        'FST_ERR_CTP_INVALID_JSON_BODY',
        400,
        "Body is not valid JSON but content-type is set to 'application/json'",
      ),
      ErrorCode.BAD_USER_INPUT,
    ],
    [
      fastifyError('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'Unsupported Media Type: text/xml'),
      ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    ],
    [new NotFoundException('Cannot GET /nowhere'), ErrorCode.NOT_FOUND],
    [new HttpException('Too Many Requests', 429), ErrorCode.RATE_LIMITED],
    [
      Object.assign(new SyntaxError('Unexpected token } in JSON'), { statusCode: 400 }),
      ErrorCode.BAD_USER_INPUT,
    ],
  ])('maps %p to %s', (error, code) => {
    expect(toGatewayError(error).code).toBe(code);
  });

  it('keeps GatewayErrors as they are', () => {
    const error = new GatewayError(ErrorCode.AMBIGUOUS_NAME, 'two', { name: 'x' });
    expect(toGatewayError(error)).toBe(error);
  });

  it('masks the unexpected: INTERNAL, generic message, no original text', () => {
    const masked = toGatewayError(new TypeError("Cannot read properties of undefined (reading 'token')"));
    expect(masked.code).toBe(ErrorCode.INTERNAL);
    expect(masked.message).toBe('Internal server error');
    // The original text is not lost: the operator's log has it.
    expect(logged).toHaveBeenCalledWith(expect.stringContaining("reading 'token'"));
    expect(toGatewayError('a string').code).toBe(ErrorCode.INTERNAL);
    expect(toGatewayError(new HttpException('boom', 500)).message).toBe('Internal server error');
  });
});

describe('problemOf', () => {
  it("has Maia's error and status, the RFC 9457 members, the code and the details; details never override them", () => {
    const problem = problemOf(
      new GatewayError(ErrorCode.ALREADY_FINISHED, 'finished', {
        status: 'SUCCESS',
        executionStatus: 'SUCCESS',
      }),
    );
    expect(problem).toEqual({
      type: 'urn:maia-gateway:problem:already-finished',
      title: 'Already finished',
      status: 409,
      detail: 'finished',
      // Maia's own member, so a client written for Maia reads the message too.
      error: 'finished',
      code: 'ALREADY_FINISHED',
      executionStatus: 'SUCCESS',
    });
  });
});
