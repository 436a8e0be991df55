import { pino } from 'pino';
import { Writable } from 'node:stream';
import { redactionPaths, REQUIRED_SECRET_FIELDS } from '../logging/log-redaction';
import { requestCompletionLogger } from '../logging/logging.module';
import { type AppConfig } from '../config';
import { REDACTED_FIELDS } from './redaction';
import { redactText, REDACTED } from './redaction';

/** A pino logger with the gateway's redaction, writing its lines into `lines`. */
function capturedLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: pino({ redact: { paths: redactionPaths(), censor: REDACTED } }, sink) };
}

describe('redaction', () => {
  it('masks bearer values, JWTs and secret assignments inside text', () => {
    const text = redactText(
      'call failed: Authorization: Bearer abc.def-ghi client_secret=xyz&x=1 token eyJhbGc.eyJzdWI.c2ln',
    );
    expect(text).not.toMatch(/abc\.def-ghi|xyz|eyJhbGc/);
    expect(text).toContain('x=1');
  });

  it('gives the logger pino paths that hide request headers and Maia secrets', () => {
    const { lines, logger } = capturedLogger();
    logger.info({
      req: { headers: { 'x-api-key': 'k-123', authorization: 'Bearer t0ken', cookie: 'sid=1' } },
      maia: { client_secret: 'm-secret', access_token: 'm-token' },
    });
    const line = lines.join('');
    for (const secret of ['k-123', 't0ken', 'sid=1', 'm-secret', 'm-token'])
      expect(line).not.toContain(secret);
    expect(line).toContain(REDACTED);
  });

  it('masks every secret header of the completion line, whatever its case, and keeps the others', () => {
    const { lines, logger } = capturedLogger();
    const config = { observability: { logHealthRequests: false } } as AppConfig;
    const headers: Record<string, string> = { host: 'gateway.test', 'content-type': 'application/json' };
    const names = [...REDACTED_FIELDS, ...REQUIRED_SECRET_FIELDS];
    names.forEach((name, i) => (headers[i % 2 ? name.toUpperCase() : name] = `secret-value-${i}`));
    requestCompletionLogger(
      logger,
      config,
    )({
      requestId: 'r-1',
      method: 'GET',
      url: '/api/v1/projects',
      headers,
      statusCode: 200,
      elapsedMs: 1.2,
    });
    const line = JSON.parse(lines.join('')) as { req: { headers: Record<string, string> }; msg: string };
    expect(line.msg).toBe('request completed');
    expect(lines.join('')).not.toContain('secret-value-');
    expect(line.req.headers).toMatchObject({ host: 'gateway.test', 'content-type': 'application/json' });
    expect(Object.keys(line.req.headers)).toHaveLength(Object.keys(headers).length);
    for (const [name, value] of Object.entries(line.req.headers)) {
      if (name !== 'host' && name !== 'content-type') expect([name, value]).toEqual([name, REDACTED]);
    }
  });
});
