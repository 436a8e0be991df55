import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import pino, { type DestinationStream, type Level, type Logger as Pino } from 'pino';
import pinoPretty from 'pino-pretty';
import { RequestContext } from '../common/request-context';
import { type AppConfig } from '../config';
import { REDACTED, redactedHeadersJson, redactHeaders, redactionPaths, redactText } from './log-redaction';
import { PinoNestLogger } from './pino-nest.logger';
import { TurnBufferedDestination } from './turn-buffered-destination';

const PROBE_PATHS = /^\/(health\/(live|ready)|metrics)(\?|$)/;

/** Injection token of the process's one pino logger. */
export const PINO = Symbol('PINO');

/**
 * pino options for the whole process: JSON lines, the level from `LOG_LEVEL`, secrets redacted, and the
 * request id (`requestId`, the same id echoed in `x-request-id` and sent to Maia) on every line logged
 * while serving a request — taken from `RequestContext` by a mixin, so serving a request creates no child
 * logger and runs no redaction unless a line is actually written.
 */
export function pinoOptions(config: AppConfig): pino.LoggerOptions {
  return {
    level: config.server.logLevel,
    base: { service: config.observability.serviceName },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactionPaths(), censor: REDACTED },
    mixin: () => {
      const context = RequestContext.current();
      return context ? { requestId: context.requestId } : {};
    },
    serializers: {
      // Only what helps; never bodies. Headers are kept for debugging, redacted.
      req: (req: { method?: string; url?: string; headers?: Record<string, unknown> }) => ({
        method: req.method,
        url: req.url,
        headers: req.headers,
      }),
      // Error messages may quote what a caller or Maia sent: bearer values and secret pairs are masked.
      err: (err: Error) => ({
        type: err.name,
        message: redactText(err.message ?? ''),
        stack: err.stack ? redactText(err.stack) : undefined,
      }),
    },
  };
}

/** What the completion line of a request says. */
export interface CompletedRequest {
  requestId: string | undefined;
  method: string;
  url: string;
  headers: Record<string, unknown>;
  statusCode: number;
  elapsedMs: number;
}

/**
 * Writes the completion line of a request ("request completed", with method, url, redacted headers,
 * status and time) at info (2xx/3xx), warn (4xx) or error (5xx), only when that level is on. Health
 * probes and scrapes are left out unless `LOG_HEALTH_REQUESTS` is on.
 */
export function requestCompletionLogger(logger: Pino, config: AppConfig): (done: CompletedRequest) => void {
  const logProbes = config.observability.logHealthRequests;
  // The line has one fixed shape whose only secrets are header values, masked by `redactHeaders` (the same
  // names, case-insensitively): pino's path redaction (wildcards over every secret name) cost ~10x the
  // rest of the line, on every request. Other lines keep it.
  const lines = logger.child({}, { redact: { paths: [], censor: REDACTED } });
  const write = directLineWriter(lines);
  return (done) => {
    const status = done.statusCode;
    const level: Level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
    if (!lines.isLevelEnabled(level) || (!logProbes && PROBE_PATHS.test(done.url))) return;
    if (write && done.requestId !== undefined) {
      write(level, done);
      return;
    }
    lines[level](
      {
        // Written after the answer, maybe outside the request's RequestContext: name the request explicitly.
        requestId: done.requestId,
        req: { method: done.method, url: done.url, headers: redactHeaders(done.headers) },
        res: { statusCode: status },
        responseTime: Math.round(done.elapsedMs),
      },
      'request completed',
    );
  };
}

/** pino's internals the direct writer reads, so its lines are the ones pino would write. */
interface PinoInternals {
  [key: symbol]: unknown;
}

/**
 * Writes the completion line straight to the logger's destination, as the very bytes pino writes for it
 * (level, time by the logger's own time function, its bindings, then the members in pino's order): pino's
 * generic object walk, mixin and per-member serialization were most of the line's cost, paid on every
 * request. Undefined (pino writes the line) when the destination wants pino's metadata with each line.
 */
function directLineWriter(lines: Pino): ((level: Level, done: CompletedRequest) => void) | undefined {
  const internals = lines as unknown as PinoInternals;
  const stream = internals[pino.symbols.streamSym] as (DestinationStream & PinoInternals) | undefined;
  const time = internals[pino.symbols.timeSym] as (() => string) | undefined;
  const bindings = internals[pino.symbols.chindingsSym];
  if (
    !stream ||
    typeof stream.write !== 'function' ||
    stream[pino.symbols.needsMetadataGsym] === true ||
    typeof time !== 'function' ||
    typeof bindings !== 'string'
  ) {
    return undefined;
  }
  const values = lines.levels.values;
  const now = time === pino.stdTimeFunctions.isoTime ? isoTimeOncePerMs() : time;
  return (level, done) => {
    stream.write(
      `{"level":${values[level]}${now()}${bindings},"requestId":${JSON.stringify(done.requestId)}` +
        `,"req":{"method":${JSON.stringify(done.method)},"url":${JSON.stringify(done.url)}` +
        `,"headers":${redactedHeadersJson(done.headers)}},"res":{"statusCode":${done.statusCode}}` +
        `,"responseTime":${Math.round(done.elapsedMs)},"msg":"request completed"}\n`,
    );
  };
}

/**
 * pino's `isoTime` (`,"time":"<Date.now() as ISO 8601>"`), formatted once per millisecond: a busy server
 * writes several lines in the same millisecond, and the `Date` and its `toISOString` were ~2% of a read.
 */
export function isoTimeOncePerMs(): () => string {
  let lastMs = Number.NaN;
  let text = '';
  return () => {
    const ms = Date.now();
    if (ms !== lastMs) {
      lastMs = ms;
      text = `,"time":"${new Date(ms).toISOString()}"`;
    }
    return text;
  };
}

/** One completion line per request Fastify answered (see `requestCompletionLogger`). */
export function installRequestLogging(fastify: FastifyInstance, logger: Pino, config: AppConfig): void {
  const log = requestCompletionLogger(logger, config);
  fastify.addHook('onResponse', (request, reply, done) => {
    log({
      requestId: request.requestContext?.requestId,
      method: request.method,
      url: request.url,
      headers: request.headers,
      statusCode: reply.statusCode,
      elapsedMs: reply.elapsedTime,
    });
    done();
  });
}

/**
 * Where the process's lines go: JSON lines on stdout, or (`LOG_FORMAT=pretty`, the sandbox default) one
 * line a person reads per entry — time, level, `[context] message`, a request's method, url, status and
 * time — formatted in this process (no worker thread), synchronously like the JSON lines.
 */
export function stdoutDestination(config: AppConfig): DestinationStream {
  // JSON lines: the lines of one turn of the event loop go out in one synchronous write at its end, or under
  // load those of the last 10 ms (ADR 0049).
  if (config.server.logFormat === 'json') {
    return new TurnBufferedDestination(pino.destination({ dest: 1, sync: true }));
  }
  return pinoPretty({
    destination: 1,
    sync: true,
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'service,context,req,res,responseTime',
    messageFormat:
      '{if context}[{context}] {end}{msg}{if req.method} {req.method} {req.url} {res.statusCode} ({responseTime} ms){end}',
  });
}

/** Structured JSON logging: one pino logger for the process, and Nest's own logs routed into it. */
@Global()
@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig, destination?: DestinationStream): DynamicModule {
    // Synchronous stdout, one write per turn of the event loop (per 10 ms under load): lines appear in the
    // order they are logged (the start banner comes last) and are written before the process exits (only a
    // kill without exit handlers loses the lines still held); a request writes one line at most.
    const logger = pino(pinoOptions(config), destination ?? stdoutDestination(config));
    return {
      module: LoggingModule,
      providers: [
        { provide: PINO, useValue: logger },
        { provide: PinoNestLogger, useValue: new PinoNestLogger(logger) },
      ],
      exports: [PINO, PinoNestLogger],
    };
  }
}
