import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * One load-generator process of the subscription round (`fork`ed by subscriptions.scenario.ts): opens its
 * share of graphql-ws subscribers (one WebSocket each, the official client), says when all have their
 * first event, and reports when the terminal frame reached each one. Several of these split the
 * generator's work (WebSocket framing, graphql-ws parsing, its heap and garbage collection), so that one
 * process's backlog does not count as the gateway's fan-out.
 */

export interface WorkerTask {
  wsUrl: string;
  query: string;
  variables: Record<string, unknown>;
  connectionParams?: Record<string, string>;
  count: number;
  /** WebSocket connects in flight at once in this process. */
  concurrency: number;
}

/** What a worker tells the harness, in this order: `joined` once, then `done` once. */
export type WorkerMessage =
  | {
      type: 'joined';
      /** Per joined subscriber: open + connection_init/ack + subscribe + first event, in ms. */
      joinMs: number[];
      /** performance.timeOrigin + now() of the last first event (wall clock, ms). */
      lastJoinAtMs: number;
      /** Subscribers whose first event was already terminal. */
      late: number;
      errors: string[];
      /** This process's CPU time so far (user + system), in ms. */
      cpuMs: number;
    }
  | {
      /** Every 2 s while joining: how many have their first event (for a round that gives up). */
      type: 'progress';
      joined: number;
    }
  | {
      type: 'done';
      /** Per subscriber that got the terminal event on time: receipt (wall clock, ms), before parsing. */
      receivedAtMs: number[];
      /** The same subscribers' event `at` and execution `finishedAt` (ISO strings). */
      eventAt: string[];
      finishedAt: (string | null)[];
      /** Subscribers that received the terminal event, late ones included. */
      delivered: number;
      errors: string[];
      /** This process's CPU time so far (user + system), in ms: minus the `joined` one, its fan-out work. */
      cpuMs: number;
    };

const TERMINAL = new Set(['SUCCESS', 'FAILED', 'CANCELLED', 'SKIPPED', 'FORBIDDEN']);
const TERMINAL_IN_RAW = /"status":"(SUCCESS|FAILED|CANCELLED|SKIPPED|FORBIDDEN)"/;
const attribute = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage') as PropertyDescriptor;

function textOf(data: WebSocket.Data): string {
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/**
 * A WebSocket (ws) whose messages are timestamped as they arrive, before graphql-ws parses them, and
 * handed to graphql-ws only after the current I/O phase (setImmediate, order kept): parsing one message
 * would otherwise delay the receipt of the next, and the generator's own work would count as fan-out.
 */
function timedWebSocket(onTerminal: (receivedAtMs: number) => void): typeof WebSocket {
  class TimedWebSocket extends WebSocket {}
  Object.defineProperty(TimedWebSocket.prototype, 'onmessage', {
    configurable: true,
    enumerable: true,
    get(this: WebSocket) {
      return (attribute.get as () => unknown).call(this);
    },
    set(this: WebSocket, handler: ((event: WebSocket.MessageEvent) => void) | null) {
      const timed =
        typeof handler === 'function'
          ? (event: WebSocket.MessageEvent) => {
              const receivedAtMs = Date.now();
              if (TERMINAL_IN_RAW.test(textOf(event.data))) onTerminal(receivedAtMs);
              setImmediate(() => handler(event));
            }
          : handler;
      (attribute.set as (value: unknown) => void).call(this, timed);
    },
  });
  return TimedWebSocket;
}

interface EventShape {
  data?: {
    pipelineExecutionUpdated?: {
      at: string;
      execution: { status: string; finishedAt: string | null };
    };
  } | null;
  errors?: readonly { message: string; extensions?: { code?: string } }[];
}

interface Subscriber {
  client: Client;
  startedAtMs: number;
  joinedAtMs: number | null;
  late: boolean;
  terminalReceivedAtMs: number | null;
  eventAt: string | null;
  finishedAt: string | null;
  settled: boolean;
  error: string | null;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) {
    const first = error[0] as { message?: string; extensions?: { code?: string } } | undefined;
    return `${first?.extensions?.code ?? 'error'}: ${first?.message ?? 'unknown'}`;
  }
  if (error && typeof error === 'object' && 'code' in error) {
    const close = error as { code: number; reason?: string };
    return `socket closed ${close.code}${close.reason ? ` (${close.reason})` : ''}`;
  }
  return String(error);
}

async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function post(message: WorkerMessage): void {
  process.send?.(message);
}

async function run(task: WorkerTask): Promise<void> {
  const subs: Subscriber[] = [];
  let settled = 0;
  let onAllSettled: () => void = () => undefined;
  const allSettled = new Promise<void>((resolve) => (onAllSettled = resolve));
  const settle = (sub: Subscriber) => {
    if (sub.settled) return;
    sub.settled = true;
    if (++settled === task.count) onAllSettled();
  };

  let joinedCount = 0;
  const progress = setInterval(() => post({ type: 'progress', joined: joinedCount }), 2000);
  await pool(task.count, task.concurrency, (index) => {
    const sub: Subscriber = {
      client: createClient({
        url: task.wsUrl,
        webSocketImpl: timedWebSocket((receivedAtMs) => {
          const self = subs[index];
          if (self && self.terminalReceivedAtMs === null) self.terminalReceivedAtMs = receivedAtMs;
        }),
        lazy: true,
        connectionParams: task.connectionParams,
        retryAttempts: 0,
        shouldRetry: () => false,
      }),
      startedAtMs: performance.now(),
      joinedAtMs: null,
      late: false,
      terminalReceivedAtMs: null,
      eventAt: null,
      finishedAt: null,
      settled: false,
      error: null,
    };
    subs[index] = sub;
    return new Promise<void>((joined) => {
      sub.client.subscribe<EventShape['data']>(
        { query: task.query, variables: task.variables },
        {
          next: (result) => {
            const event = (result as EventShape).data?.pipelineExecutionUpdated;
            if (!event) {
              sub.error = describeError((result as EventShape).errors ?? 'event without data');
              joined();
              return;
            }
            const terminal = TERMINAL.has(event.execution.status);
            if (sub.joinedAtMs === null) {
              sub.joinedAtMs = performance.now();
              joinedCount++;
              sub.late = terminal;
              joined();
            }
            if (terminal && sub.eventAt === null) {
              sub.terminalReceivedAtMs ??= Date.now();
              sub.eventAt = event.at;
              sub.finishedAt = event.execution.finishedAt;
            }
          },
          error: (error) => {
            sub.error = describeError(error);
            joined();
            settle(sub);
          },
          complete: () => {
            joined();
            settle(sub);
          },
        },
      );
    });
  });

  clearInterval(progress);
  const joinedSubs = subs.filter((s) => s.joinedAtMs !== null);
  const lastJoin = Math.max(0, ...joinedSubs.map((s) => s.joinedAtMs as number));
  post({
    type: 'joined',
    joinMs: joinedSubs.map((s) => (s.joinedAtMs as number) - s.startedAtMs),
    lastJoinAtMs: performance.timeOrigin + lastJoin,
    late: joinedSubs.filter((s) => s.late).length,
    errors: subs.filter((s) => s.error !== null).map((s) => s.error as string),
    cpuMs: cpuMs(),
  });

  await allSettled;
  const onTime = subs.filter((s) => !s.late && s.eventAt !== null && s.terminalReceivedAtMs !== null);
  post({
    type: 'done',
    receivedAtMs: onTime.map((s) => s.terminalReceivedAtMs as number),
    eventAt: onTime.map((s) => s.eventAt as string),
    finishedAt: onTime.map((s) => s.finishedAt),
    delivered: subs.filter((s) => s.eventAt !== null).length,
    errors: subs.filter((s) => s.error !== null).map((s) => s.error as string),
    cpuMs: cpuMs(),
  });
  await Promise.allSettled(subs.map((s) => Promise.resolve(s.client.dispose())));
}

// The harness sends one task; the worker exits after its `done` (or when the harness goes away).
process.once('message', (task: WorkerTask) => {
  run(task).then(
    () => process.disconnect?.(),
    (error: unknown) => {
      post({
        type: 'done',
        receivedAtMs: [],
        eventAt: [],
        finishedAt: [],
        delivered: 0,
        errors: [describeError(error)],
        cpuMs: cpuMs(),
      });
      process.disconnect?.();
    },
  );
});
process.once('disconnect', () => process.exit(0));
