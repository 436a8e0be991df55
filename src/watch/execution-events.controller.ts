import { Controller, Get, Headers, Inject, Param, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RequireScope } from '../auth/require-scope.decorator';
import { ErrorCode, GatewayError } from '../common/errors';
import { GATEWAY_EXTENSIONS_TAG, GATEWAY_REST_PREFIX } from '../common/http/maia-routes';
import { RestOperation } from '../common/http/rest-operation.decorator';
import { setLongTimeout } from '../common/timers';
import { APP_CONFIG, type AppConfig } from '../config';
import { ExecutionParamsDto } from '../executions/dto/execution-rest.dto';
import { toExecutionDto } from '../executions/execution.mapper';
import { ExecutionWatchService } from './execution-watch.service';
import { identityOfHttpRequest } from './watch-identity';
import { type ExecutionWatchEvent, type WatchStream } from './watch.types';

/** How long the stream may take to produce its first event before the 200 headers go out anyway. */
const FIRST_EVENT_WAIT_MS = 2_000;
const CURSOR = /^\d{1,16}$/;

/**
 * Server-sent events of one execution (REST face of `pipelineExecutionUpdated`):
 * `id:` is the cursor (EventSource resends it as `Last-Event-ID` when it reconnects), `data:` is
 * `{cursor, at, kind, execution}` with the execution in Maia's shape, `event: error` carries
 * `{code, message}` and ends the stream, `: keep-alive` comments keep proxies from closing an idle stream,
 * and the stream closes after the terminal event. A reconnect after the terminal event answers 204, which
 * tells EventSource to stop reconnecting.
 *
 * Errors before the first event (bad ids, unknown execution, limits) are plain problem+json answers.
 */
@ApiTags(GATEWAY_EXTENSIONS_TAG)
@Controller(`${GATEWAY_REST_PREFIX}/projects/:projectId/pipeline-executions`)
export class ExecutionEventsController {
  constructor(
    private readonly watch: ExecutionWatchService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get(':pipelineExecutionId/events')
  @RequireScope('read')
  @RestOperation('watchPipelineExecution', {
    summary:
      'Gateway extension: live status of an execution as server-sent events (resume with Last-Event-ID)',
    errors: [400, 404],
    extension: true,
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id (cursor).' })
  @ApiQuery({
    name: 'after',
    required: false,
    description: 'Same as Last-Event-ID, for clients that cannot set headers.',
  })
  @ApiOkResponse({ description: 'text/event-stream; 204 when resuming after the final event.' })
  async events(
    @Param() { projectId, pipelineExecutionId }: ExecutionParamsDto,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Query('after') afterQuery: string | undefined,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const after = (lastEventId ?? afterQuery)?.trim() || undefined;
    if (after !== undefined && !CURSOR.test(after)) {
      throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'Last-Event-ID must be an event id from this stream', {
        field: 'Last-Event-ID',
      });
    }
    const stream = this.watch.watch(projectId, pipelineExecutionId, {
      ...identityOfHttpRequest(request),
      after,
    });

    // Client gone before anything was sent: release at once.
    const onEarlyClose = () => void stream.return();
    request.raw.once('close', onEarlyClose);
    const next = stream.next();
    let first: IteratorResult<ExecutionWatchEvent> | null;
    try {
      first = await within(next, FIRST_EVENT_WAIT_MS);
    } catch (error) {
      request.raw.off('close', onEarlyClose);
      throw error; // problem+json through the shared filter
    }
    request.raw.off('close', onEarlyClose);
    if (request.raw.destroyed) {
      await stream.return();
      return;
    }
    if (first?.done && after !== undefined) {
      await reply.code(204).send();
      return;
    }
    await this.stream(stream, next, request, reply);
  }

  private async stream(
    stream: WatchStream,
    first: Promise<IteratorResult<ExecutionWatchEvent>>,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const { keepAliveMs, sseRetryMs } = this.config.watch;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // No `connection` header: it is hop-by-hop, and Node's own choice is the right one (keep-alive for an
      // HTTP/1.1 client, close for one that asked for it or once the gateway drains); setting it here would
      // override both (Node keeps the socket open whenever the header says keep-alive).
      // nginx and similar proxies buffer responses unless told not to.
      'x-accel-buffering': 'no',
      ...requestIdHeader(request),
    });
    raw.write(`retry: ${sseRetryMs}\n\n`);
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), keepAliveMs);
    const onClose = () => void stream.return();
    raw.once('close', onClose);
    // A stream lives no longer than the credentials that opened it (as graphql-ws sockets do).
    let expired = false;
    const expiresAt = request.requestContext?.principal?.expiresAt;
    // A long timeout: a token valid for more than ~24.8 days would overflow setTimeout and end at once.
    const expiry = expiresAt
      ? setLongTimeout(() => {
          expired = true;
          const error = { code: ErrorCode.UNAUTHENTICATED, message: 'Credentials expired' };
          raw.write(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
          void stream.return();
        }, expiresAt.getTime() - Date.now())
      : undefined;
    try {
      // The first result may still be pending (a resumed stream waits for the next change).
      const head = await first;
      if (!head.done && !expired) {
        raw.write(formatEvent(head.value));
        for await (const event of stream) {
          if (expired) break;
          raw.write(formatEvent(event));
        }
      }
    } catch (error) {
      const gatewayError =
        error instanceof GatewayError ? error : new GatewayError(ErrorCode.INTERNAL, 'Live status failed');
      if (gatewayError.code === ErrorCode.SHUTTING_DOWN) raw.write(`retry: ${sseRetryMs}\n`);
      // The store did not answer (after the catch-up's own retries): reconnect once it may again.
      const { retryAfterSeconds } = gatewayError.details;
      if (gatewayError.code === ErrorCode.UNAVAILABLE && typeof retryAfterSeconds === 'number') {
        raw.write(`retry: ${Math.max(sseRetryMs, retryAfterSeconds * 1000)}\n`);
      }
      raw.write(
        `event: error\ndata: ${JSON.stringify({ ...gatewayError.details, code: gatewayError.code, message: gatewayError.message })}\n\n`,
      );
    } finally {
      clearInterval(keepAlive);
      expiry?.clear();
      raw.off('close', onClose);
      await stream.return();
      if (!raw.writableEnded) raw.end();
    }
  }
}

function formatEvent(event: ExecutionWatchEvent): string {
  const data = {
    cursor: event.cursor,
    at: event.at,
    kind: event.kind,
    execution: toExecutionDto(event.execution),
  };
  return `id: ${event.cursor}\ndata: ${JSON.stringify(data)}\n\n`;
}

function requestIdHeader(request: FastifyRequest): Record<string, string> {
  const id = request.requestContext?.requestId;
  return id ? { 'x-request-id': id } : {};
}

/** The promise's result, or null when it takes longer than `waitMs` (the promise stays usable). */
async function within<T>(promise: Promise<T>, waitMs: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), waitMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
