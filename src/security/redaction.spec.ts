import { pino } from 'pino';
import { Writable } from 'node:stream';
import { redactionPaths } from '../logging/log-redaction';
import { redactText, REDACTED } from './redaction';

describe('redaction', () => {
  it('masks bearer values, JWTs and secret assignments inside text', () => {
    const text = redactText(
      'call failed: Authorization: Bearer abc.def-ghi client_secret=xyz&x=1 token eyJhbGc.eyJzdWI.c2ln',
    );
    expect(text).not.toMatch(/abc\.def-ghi|xyz|eyJhbGc/);
    expect(text).toContain('x=1');
  });

  it('gives the logger pino paths that hide request headers and Maia secrets', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ redact: { paths: redactionPaths(), censor: REDACTED } }, sink);
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
