import { Writable } from 'node:stream';
import { pino, symbols } from 'pino';
import { type AppConfig } from '../config';
import { REDACTED, redactedHeadersJson, redactHeaders } from './log-redaction';
import {
  isoTimeOncePerMs,
  pinoOptions,
  requestCompletionLogger,
  type CompletedRequest,
} from './logging.module';

/** A destination collecting lines; `viaPino` makes pino write them itself (it wants pino's metadata). */
function sink(viaPino: boolean): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  if (viaPino) Object.assign(stream, { [symbols.needsMetadataGsym]: true });
  return { stream, lines };
}

const config = {
  server: { logLevel: 'info' },
  observability: { serviceName: 'maia-gateway', logHealthRequests: false },
} as AppConfig;

/** The time is the only member that may differ between two lines written a moment apart. */
const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');

describe('the request completion line', () => {
  const requests: CompletedRequest[] = [
    {
      requestId: 'r-1',
      method: 'GET',
      url: '/api/v1/projects?size=2',
      headers: { host: 'gateway.test', 'x-api-key': 'k-secret', accept: '*/*' },
      statusCode: 200,
      elapsedMs: 1.4,
    },
    {
      requestId: 'r-2',
      method: 'POST',
      url: '/graphql?q="quoted"\\é\u2028',
      headers: {
        'content-type': 'application/json',
        Authorization: 'Bearer t',
        'x-list': ['a', 'b'],
        gone: undefined,
      },
      statusCode: 404,
      elapsedMs: 0.2,
    },
    { requestId: 'r-3', method: 'GET', url: '/api/v1/x', headers: {}, statusCode: 503, elapsedMs: 12.6 },
  ];

  it('is written straight to the destination as the very bytes pino writes for it', () => {
    for (const done of requests) {
      const direct = sink(false);
      const viaPino = sink(true);
      requestCompletionLogger(pino(pinoOptions(config), direct.stream), config)(done);
      requestCompletionLogger(pino(pinoOptions(config), viaPino.stream), config)(done);
      expect(direct.lines).toHaveLength(1);
      expect(viaPino.lines).toHaveLength(1);
      expect(withoutTime(direct.lines[0])).toBe(withoutTime(viaPino.lines[0]));
      expect(direct.lines[0]).not.toMatch(/k-secret|Bearer t/);
      expect(JSON.parse(direct.lines[0])).toMatchObject({
        requestId: done.requestId,
        msg: 'request completed',
      });
    }
    const line = JSON.parse(
      (() => {
        const direct = sink(false);
        requestCompletionLogger(pino(pinoOptions(config), direct.stream), config)(requests[1]);
        return direct.lines[0];
      })(),
    ) as { level: number; req: { headers: Record<string, unknown> } };
    expect(line.level).toBe(40);
    expect(line.req.headers.Authorization).toBe(REDACTED);
  });

  it('is not written below the logger level, nor for probes', () => {
    const quiet = { ...config, server: { logLevel: 'warn' } } as AppConfig;
    const out = sink(false);
    const log = requestCompletionLogger(pino(pinoOptions(quiet), out.stream), quiet);
    log(requests[0]);
    log({ ...requests[0], url: '/health/ready', statusCode: 503 });
    expect(out.lines).toEqual([]);
    log(requests[1]);
    expect(out.lines).toHaveLength(1);
  });
});

describe('the completion line pieces written without building objects', () => {
  it('writes the masked headers as JSON.stringify(redactHeaders(headers)) does, byte for byte', () => {
    const dictionary = Object.create(null) as Record<string, unknown>;
    dictionary['x-api-key'] = 'k';
    dictionary.accept = 'text/html';
    const cases: Record<string, unknown>[] = [
      {},
      { host: 'gateway.test', 'x-api-key': 'k-secret', accept: '*/*' },
      { Authorization: 'Bearer t', COOKIE: 'sid=1', 'x-list': ['a', 'b'], gone: undefined, after: 'kept' },
      { gone: undefined },
      { '123': 'numeric names come first', 'x-a': 'quote " and \\ and \u2028 and é', '7': 'seven' },
      { 'we"ird': 'name', 'x-n': 5, 'x-null': null, 'x-fn': () => 1 },
      dictionary,
    ];
    for (const headers of cases) {
      // Twice: the second time each name's member comes from what the first one worked out.
      expect(redactedHeadersJson(headers)).toBe(JSON.stringify(redactHeaders(headers)));
      expect(redactedHeadersJson(headers)).toBe(JSON.stringify(redactHeaders(headers)));
    }
    expect(redactedHeadersJson({ 'X-Api-Key': 'k-secret' })).not.toContain('k-secret');
  });

  it('writes each value as it is now, whatever the same header held on the request before', () => {
    const long = `"${'v'.repeat(300)}\u2028`;
    const sequence: Record<string, unknown>[] = [
      { host: 'a.test', 'x-seq': 'one' },
      { host: 'a.test', 'x-seq': 'two "quoted"' },
      { host: 'b.test', 'x-seq': ['two "quoted"'] },
      { host: 'b.test', 'x-seq': long },
      { host: 'b.test', 'x-seq': `${long}!` },
      { host: 'b.test', 'x-seq': 'one' },
    ];
    for (const headers of sequence) {
      expect(redactedHeadersJson(headers)).toBe(JSON.stringify(redactHeaders(headers)));
    }
  });

  it("formats pino's isoTime once per millisecond, the same text as pino's", () => {
    const now = jest.spyOn(Date, 'now');
    try {
      const time = isoTimeOncePerMs();
      for (const ms of [1_764_000_000_000, 1_764_000_000_000, 1_764_000_000_001, 0, 1_764_000_000_001]) {
        now.mockReturnValue(ms);
        expect(time()).toBe(pino.stdTimeFunctions.isoTime());
      }
    } finally {
      now.mockRestore();
    }
  });
});
