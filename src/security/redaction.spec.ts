import { pino } from 'pino';
import { Writable } from 'node:stream';
import { pinoRedactOptions, redact, redactText, REDACTED } from './redaction';

describe('redaction', () => {
  it('masks credentials in nested objects, whatever their case, and leaves the rest alone', () => {
    const input = {
      req: {
        method: 'GET',
        headers: { 'X-API-Key': 'k-123', Authorization: 'Bearer eyJa.eyJb.sig', accept: 'json' },
      },
      body: { client_secret: 's3cret', nested: [{ access_token: 'tok' }], projectId: 'p' },
    };
    const out = redact(input);
    expect(out.req.headers).toEqual({ 'X-API-Key': REDACTED, Authorization: REDACTED, accept: 'json' });
    expect(out.body).toEqual({
      client_secret: REDACTED,
      nested: [{ access_token: REDACTED }],
      projectId: 'p',
    });
    expect(input.body.client_secret).toBe('s3cret'); // a copy, not a mutation
  });

  it('masks bearer values, JWTs and secret assignments inside text', () => {
    const text = redactText(
      'call failed: Authorization: Bearer abc.def-ghi client_secret=xyz&x=1 token eyJhbGc.eyJzdWI.c2ln',
    );
    expect(text).not.toMatch(/abc\.def-ghi|xyz|eyJhbGc/);
    expect(text).toContain('x=1');
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(redact(a)).toEqual({ name: 'a', self: '[…]' });
  });

  it('gives pino paths that hide request headers and Maia secrets', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ redact: pinoRedactOptions }, sink);
    logger.info({
      req: { headers: { 'x-api-key': 'k-123', authorization: 'Bearer t0ken', cookie: 'sid=1' } },
      maia: { client_secret: 'm-secret', access_token: 'm-token' },
    });
    const line = lines.join('');
    for (const secret of ['k-123', 't0ken', 'sid=1', 'm-secret', 'm-token'])
      expect(line).not.toContain(secret);
    expect(line).toContain(REDACTED);
  });
});
