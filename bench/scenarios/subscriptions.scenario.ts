import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { SpawnedServer } from '../lib/child-process';
import type { EmulatorClient } from '../lib/emulator-client';
import { EXECUTION_SUBSCRIPTION } from '../lib/queries';
import type { SubscriptionRound } from '../lib/results';
import type { SeedFacts } from '../lib/repo';
import { MiB, round, summarize } from '../lib/stats';

/**
 * N graphql-ws subscribers (one WebSocket each, the official client) to one execution, started straight at
 * the emulator with its end placed after all of them have joined. Measures the join, the gateway's memory
 * per subscriber, how late the terminal status reaches each one, and how often the gateway asked Maia.
 */

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
 * handed to graphql-ws only after the current I/O phase (setImmediate, order kept): with thousands of
 * subscribers on one load generator, parsing one message would otherwise delay the receipt of the next,
 * and the generator's own work would count as the gateway's fan-out.
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

interface Subscriber {
  client: Client;
  startedAtMs: number;
  firstEventMs: number | null;
  firstStatus: string | null;
  terminalAtMs: number | null;
  /** When the terminal event's frame arrived (before parsing). */
  terminalReceivedAtMs: number | null;
  /** The event's `at` (leader observation) and the execution's finishedAt (the upstream change). */
  eventAt: string | null;
  finishedAt: string | null;
  completed: boolean;
  error: string | null;
}

interface EventShape {
  data?: {
    pipelineExecutionUpdated?: {
      cursor: string;
      at: string;
      execution: { id: string; status: string; finishedAt: string | null };
    };
  } | null;
  errors?: readonly { message: string; extensions?: { code?: string } }[];
}

export interface SubscriptionRoundInput {
  gateway: SpawnedServer;
  emulator: EmulatorClient;
  facts: SeedFacts;
  subscribers: number;
  connectConcurrency: number;
  /** Joins per second expected (from an earlier round), to place the run's end after the last join. */
  expectedJoinsPerSecond: number;
  minIntervalMs: number;
  minRunMs: number;
  /** The connection_init payload (the caller's credential). */
  connectionParams?: Record<string, string>;
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

async function pool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export async function runSubscriptionRound(input: SubscriptionRoundInput): Promise<SubscriptionRound> {
  const { gateway, emulator, facts, subscribers: n } = input;
  const wsUrl = `${gateway.url.replace(/^http/, 'ws')}/graphql`;

  // Place the run's end well after the last expected join: late joiners would see the end as current state.
  const runMs = Math.max(input.minRunMs, Math.round((n / input.expectedJoinsPerSecond) * 1.5 * 1000) + 4000);
  await emulator.patchConfig({ timeScale: runMs / facts.longPipeline.scriptedMs });
  let executionId: string;
  try {
    executionId = await emulator.execute(facts.projectId, facts.longPipeline.name, facts.environmentName);
  } finally {
    await emulator.patchConfig({ timeScale: 1 });
  }
  const variables = { projectId: facts.projectId, executionId };

  const rssBefore = gateway.rssBytes();
  await emulator.resetCounters();
  const windowStart = Date.now();
  const perSecondStatusCalls: number[] = [];
  let lastStatusCount = 0;
  const sampler = setInterval(() => {
    emulator.counters().then(
      (counters) => {
        const now = counters.routes.getExecutionStatus?.total ?? 0;
        perSecondStatusCalls.push(now - lastStatusCount);
        lastStatusCount = now;
      },
      () => undefined,
    );
  }, 1000);

  const subs: Subscriber[] = [];
  let settled = 0;
  let onAllSettled: () => void = () => undefined;
  const allSettled = new Promise<void>((resolve) => (onAllSettled = resolve));
  const settle = (sub: Subscriber) => {
    if (sub.completed) return;
    sub.completed = true;
    if (++settled === n) onAllSettled();
  };

  const joinStart = performance.now();
  let lastJoin = joinStart;
  try {
    await pool(n, input.connectConcurrency, (index) => {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: timedWebSocket((receivedAtMs) => {
          const sub = subs[index];
          if (sub && sub.terminalReceivedAtMs === null) sub.terminalReceivedAtMs = receivedAtMs;
        }),
        lazy: true,
        connectionParams: input.connectionParams,
        retryAttempts: 0,
        shouldRetry: () => false,
      });
      const sub: Subscriber = {
        client,
        startedAtMs: performance.now(),
        firstEventMs: null,
        firstStatus: null,
        terminalAtMs: null,
        terminalReceivedAtMs: null,
        eventAt: null,
        finishedAt: null,
        completed: false,
        error: null,
      };
      subs[index] = sub;
      return new Promise<void>((joined) => {
        client.subscribe<EventShape['data']>(
          { query: EXECUTION_SUBSCRIPTION, variables },
          {
            next: (result) => {
              const receivedAtMs = Date.now();
              const event = (result as EventShape).data?.pipelineExecutionUpdated;
              if (!event) {
                sub.error = describeError((result as EventShape).errors ?? 'event without data');
                joined();
                return;
              }
              if (sub.firstEventMs === null) {
                sub.firstEventMs = performance.now();
                sub.firstStatus = event.execution.status;
                lastJoin = sub.firstEventMs;
                joined();
              }
              if (TERMINAL.has(event.execution.status) && sub.terminalAtMs === null) {
                sub.terminalAtMs = sub.terminalReceivedAtMs ?? receivedAtMs;
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
    const connectAllMs = lastJoin - joinStart;
    const rssAfter = gateway.rssBytes();

    // The run ends at runMs after its start; then one poll interval at most, then the fan-out.
    const waitMs = runMs + 30_000;
    await Promise.race([allSettled, new Promise((resolve) => setTimeout(resolve, waitMs).unref())]);
    const windowMs = Date.now() - windowStart;
    clearInterval(sampler);
    const counters = await emulator.counters();
    const rssPeak = gateway.peakRssBytes();

    const joinedSubs = subs.filter((s) => s.firstEventMs !== null);
    const late = subs.filter((s) => s.firstStatus !== null && TERMINAL.has(s.firstStatus));
    const onTime = subs.filter((s) => s.terminalAtMs !== null && !late.includes(s));
    const failed = subs.filter((s) => s.error !== null);
    const fromUpstream = onTime
      .filter((s) => s.finishedAt)
      .map((s) => (s.terminalAtMs as number) - Date.parse(s.finishedAt as string));
    const fanOut = onTime
      .filter((s) => s.eventAt)
      .map((s) => (s.terminalAtMs as number) - Date.parse(s.eventAt as string));
    const statusCalls = counters.routes.getExecutionStatus?.total ?? 0;
    const detailsCalls = counters.routes.getExecution?.total ?? 0;
    const delivered = subs.filter((s) => s.terminalAtMs !== null).length;
    const ok = delivered === n && failed.length === 0;
    return {
      subscribers: n,
      status: ok ? 'ok' : 'error',
      error: ok
        ? undefined
        : `${delivered}/${n} received the terminal event, ${failed.length} failed${failed[0] ? ` (first: ${failed[0].error})` : ''}`,
      runMs,
      connected: joinedSubs.length,
      connectAllMs: round(connectAllMs, 0),
      connect: summarize(joinedSubs.map((s) => (s.firstEventMs as number) - s.startedAtMs)),
      rssBeforeMb: round(rssBefore / MiB, 1),
      rssAfterMb: round(rssAfter / MiB, 1),
      rssPeakMb: round(rssPeak / MiB, 1),
      rssPerSubscriberKb: round((rssAfter - rssBefore) / n / 1024, 1),
      delivered,
      late: late.length,
      failed: failed.length,
      firstError: failed[0]?.error ?? undefined,
      fromUpstream: summarize(fromUpstream),
      fanOut: summarize(fanOut),
      windowMs,
      statusCalls,
      detailsCalls,
      maxPollsOfOnePoller: Math.floor(windowMs / input.minIntervalMs) + 1,
      maxStatusCallsPerSecond: perSecondStatusCalls.length ? Math.max(...perSecondStatusCalls) : statusCalls,
    };
  } finally {
    clearInterval(sampler);
    await Promise.allSettled(subs.filter(Boolean).map((s) => Promise.resolve(s.client.dispose())));
  }
}
