import { ErrorCode } from '../common/errors';
import {
  codeForStatus,
  errorFromStatus,
  messageFromBody,
  parseRetryAfterMs,
  sanitizeMessage,
  toRetryAfterSeconds,
} from './maia-errors';

describe('maia-errors', () => {
  it.each([
    [400, ErrorCode.BAD_USER_INPUT],
    [401, ErrorCode.UPSTREAM_AUTH_FAILED],
    [403, ErrorCode.FORBIDDEN],
    [404, ErrorCode.NOT_FOUND],
    [409, ErrorCode.CONFLICT],
    [410, ErrorCode.PIPELINE_DISABLED],
    [429, ErrorCode.RATE_LIMITED],
    [500, ErrorCode.UPSTREAM_UNAVAILABLE],
    [502, ErrorCode.UPSTREAM_UNAVAILABLE],
    [503, ErrorCode.UPSTREAM_UNAVAILABLE],
    [504, ErrorCode.UPSTREAM_UNAVAILABLE],
    [413, ErrorCode.BAD_USER_INPUT],
    [302, ErrorCode.UPSTREAM_BAD_RESPONSE],
  ])('status %i → %s', (status, code) => {
    expect(codeForStatus(status)).toBe(code);
    expect(errorFromStatus(status, undefined).code).toBe(code);
  });

  it('takes the message from detail, message, error_description, error, in that order', () => {
    expect(messageFromBody({ error: 'e', error_description: 'd', message: 'm', detail: 'x' })).toBe('x');
    expect(messageFromBody({ error: 'e', error_description: 'd', message: 'm' })).toBe('m');
    expect(messageFromBody({ error: 'e', error_description: 'd' })).toBe('d');
    expect(messageFromBody({ error: 'e' })).toBe('e');
    expect(messageFromBody({ detail: '  ', error: 'e' })).toBe('e');
    expect(messageFromBody('text')).toBeUndefined();
  });

  it("keeps the guide's 409 message and the executionTag of the request", () => {
    const error = errorFromStatus(
      409,
      { error: 'A pipeline execution with this tag is already running.', status: 409 },
      { executionTag: 'nightly' },
    );
    expect(error.code).toBe(ErrorCode.CONFLICT);
    expect(error.message).toBe('A pipeline execution with this tag is already running.');
    expect(error.details).toEqual({ upstreamStatus: 409, executionTag: 'nightly' });
  });

  it('puts retryAfterSeconds on RATE_LIMITED only', () => {
    expect(errorFromStatus(429, {}, { retryAfterSeconds: 120 }).details).toEqual({
      upstreamStatus: 429,
      retryAfterSeconds: 120,
    });
    expect(errorFromStatus(404, {}, { retryAfterSeconds: 120 }).details).toEqual({ upstreamStatus: 404 });
  });

  it('falls back to a fixed message when the body says nothing', () => {
    expect(errorFromStatus(404, '<html>').message).toBe('Not found in Maia');
    expect(errorFromStatus(503, null).message).toBe('Maia is unavailable');
  });

  describe('sanitising', () => {
    const secret = 'sandbox-secret';
    const token = 'tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc';

    it('removes URLs, bearer values, JWTs, named secrets and known secrets', () => {
      const raw =
        `failed at https://eu1.api.matillion.com/dpc/v1/projects?x=1 with Bearer ${token} ` +
        `client_secret=${secret} and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc and ${secret}`;
      const clean = sanitizeMessage(raw, [secret, token]);
      expect(clean).not.toContain('http');
      expect(clean).not.toContain('matillion.com');
      expect(clean).not.toContain(token);
      expect(clean).not.toContain(secret);
      expect(clean).not.toContain('eyJ');
    });

    it('redacts long opaque strings but keeps UUIDs and pipeline names', () => {
      const id = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
      const clean = sanitizeMessage(
        `Execution ${id} of FOLDER/load_orders.orch.yaml failed: key a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8`,
      );
      expect(clean).toContain(id);
      expect(clean).toContain('FOLDER/load_orders.orch.yaml');
      expect(clean).not.toContain('a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8');
    });

    it('collapses control characters and caps the length', () => {
      expect(sanitizeMessage('a\n\tb\u0000c')).toBe('a b c');
      expect(sanitizeMessage('x '.repeat(500)).length).toBeLessThanOrEqual(200);
    });

    it('applies to messages of mapped errors', () => {
      const error = errorFromStatus(
        400,
        { detail: `bad token ${token} at http://internal:8080/x` },
        {
          knownSecrets: [token],
        },
      );
      expect(error.message).not.toContain(token);
      expect(error.message).not.toContain('internal:8080');
    });
  });

  describe('Retry-After', () => {
    const now = Date.parse('2026-11-28T12:00:00Z');
    it.each([
      ['2', 2000],
      ['0', 0],
      ['1.5', 1500],
      ['Sat, 28 Nov 2026 12:00:30 GMT', 30_000],
      ['Sat, 28 Nov 2026 11:00:00 GMT', 0],
    ])('%s → %i ms', (header, ms) => {
      expect(parseRetryAfterMs(header, now)).toBe(ms);
    });

    it.each([[undefined], [''], ['soon'], ['-3']])('%p → undefined', (header) => {
      expect(parseRetryAfterMs(header, now)).toBeUndefined();
    });

    it('rounds waits up to whole seconds, at least one', () => {
      expect(toRetryAfterSeconds(120_000)).toBe(120);
      expect(toRetryAfterSeconds(1)).toBe(1);
      expect(toRetryAfterSeconds(1001)).toBe(2);
      expect(toRetryAfterSeconds(0)).toBe(0);
    });
  });
});
