import { type DynamicModule, Module } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import pino, { type DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import { requestIdFrom, RequestContext, REQUEST_ID_HEADER } from '../common/request-context';
import { type AppConfig } from '../config';
import { REDACTED, redactionPaths, redactText } from './log-redaction';

const PROBE_PATHS = /^\/(health\/(live|ready)|metrics)(\?|$)/;

/**
 * pino options for the whole process: JSON lines, the level from `LOG_LEVEL`, secrets redacted, and the
 * request id (`requestId`, the same id echoed in `x-request-id` and sent to Maia) on every line logged
 * while serving a request.
 */
export function pinoHttpOptions(config: AppConfig): Options {
  const logProbes = config.observability.logHealthRequests;
  return {
    level: config.server.logLevel,
    base: { service: config.observability.serviceName },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactionPaths(), censor: REDACTED },
    // The id RequestContext gave this request (its Fastify hook runs first); the header or a fresh one
    // outside it.
    genReqId: (req: IncomingMessage) =>
      RequestContext.current()?.requestId ?? requestIdFrom(req.headers[REQUEST_ID_HEADER]),
    customAttributeKeys: { reqId: 'requestId' },
    // Lines logged inside a request carry just the id; the full request is on its completion line.
    quietReqLogger: true,
    autoLogging: { ignore: (req: IncomingMessage) => !logProbes && PROBE_PATHS.test(req.url ?? '') },
    customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) =>
      error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    serializers: {
      // Only what helps; never bodies. Headers are kept for redaction tests and debugging, redacted.
      req: (req: { method?: string; url?: string; headers?: Record<string, unknown> }) => ({
        method: req.method,
        url: req.url,
        headers: req.headers,
      }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      // Error messages may quote what a caller or Maia sent: bearer values and secret pairs are masked.
      err: (err: Error) => ({
        type: err.name,
        message: redactText(err.message ?? ''),
        stack: err.stack ? redactText(err.stack) : undefined,
      }),
    },
  };
}

/** Structured JSON logging (nestjs-pino); `app.useLogger(app.get(Logger))` routes Nest's logs here too. */
@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig, destination?: DestinationStream): DynamicModule {
    const options = pinoHttpOptions(config);
    // Synchronous stdout: lines appear in the order they are logged (the start banner comes last) and none
    // is lost when the process exits abruptly; the request path logs one line per request at most.
    const stream = destination ?? pino.destination({ dest: 1, sync: true });
    return {
      module: LoggingModule,
      imports: [LoggerModule.forRoot({ pinoHttp: [options, stream] })],
      exports: [LoggerModule],
    };
  }
}
