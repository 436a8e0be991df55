import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { SpawnedServer } from '../lib/child-process';
import type { EmulatorClient } from '../lib/emulator-client';
import { EXECUTION_SUBSCRIPTION } from '../lib/queries';
import type { SubscriptionRound } from '../lib/results';
import type { SeedFacts } from '../lib/repo';
import { MiB, round, summarize } from '../lib/stats';
import type { WorkerMessage, WorkerTask } from './subscribers.worker';

/**
 * N graphql-ws subscribers (one WebSocket each, the official client) to one long execution, started
 * straight at the emulator, spread over several load-generator processes. Once every subscriber has its
 * first event the run is force-cancelled at the emulator (the upstream change); the gateway sees it at its
 * next poll and fans the terminal event out. Measures the join, the gateway's memory with every subscriber
 * joined, how late the terminal status reaches each one, and how often the gateway asked Maia.
 */

export interface SubscriptionRoundInput {
  gateway: SpawnedServer;
  emulator: EmulatorClient;
  facts: SeedFacts;
  subscribers: number;
  /** WebSocket connects in flight at once while subscribers join (over all generator processes). */
  connectConcurrency: number;
  minIntervalMs: number;
  /** The least time between the run's start and its cancel (the poll interval grows with it). */
  minRunMs: number;
  /** The connection_init payload (the caller's credential). */
  connectionParams?: Record<string, string>;
  /** Load-generator processes (default: one per 2 500 subscribers, at most 4). */
  workers?: number;
  /** Core the generator processes run on (they inherit the harness's pinning when null). */
  core?: number | null;
}

/** Subscribers per generator process at most, before another is started. */
const PER_WORKER = 2500;
const MAX_WORKERS = 4;
/** How long the joins may take in all (a minute, and 50 ms a subscriber), and the fan-out after the
 * cancel, before the round gives up. */
const joinTimeoutMs = (n: number) => 60_000 + 50 * n;
const SETTLE_TIMEOUT_MS = 60_000;

interface Worker {
  child: ChildProcess;
  /** Subscribers with their first event so far (from the worker's progress reports). */
  joinedSoFar: () => number;
  joined: Promise<Extract<WorkerMessage, { type: 'joined' }>>;
  done: Promise<Extract<WorkerMessage, { type: 'done' }>>;
}

function startWorker(task: WorkerTask): Worker {
  const child = fork(join(__dirname, 'subscribers.worker.js'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let onJoined: (m: Extract<WorkerMessage, { type: 'joined' }>) => void = () => undefined;
  let onDone: (m: Extract<WorkerMessage, { type: 'done' }>) => void = () => undefined;
  let onExit: (error: Error) => void = () => undefined;
  const exited = new Promise<never>((_, reject) => (onExit = reject));
  exited.catch(() => undefined);
  const joined = Promise.race([
    new Promise<Extract<WorkerMessage, { type: 'joined' }>>((r) => (onJoined = r)),
    exited,
  ]);
  const done = Promise.race([
    new Promise<Extract<WorkerMessage, { type: 'done' }>>((r) => (onDone = r)),
    exited,
  ]);
  // Awaited later (or never, when the round gives up first): no unhandled rejection meanwhile.
  joined.catch(() => undefined);
  done.catch(() => undefined);
  let joinedSoFar = 0;
  child.on('message', (message: WorkerMessage) => {
    if (message.type === 'progress') joinedSoFar = message.joined;
    else if (message.type === 'joined') {
      joinedSoFar = message.joinMs.length;
      onJoined(message);
    } else onDone(message);
  });
  child.once('exit', (code, signal) => onExit(new Error(`subscriber worker exited (${signal ?? code})`)));
  child.send(task);
  return { child, joined, done, joinedSoFar: () => joinedSoFar };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function runSubscriptionRound(input: SubscriptionRoundInput): Promise<SubscriptionRound> {
  const { gateway, emulator, facts, subscribers: n } = input;
  const wsUrl = `${gateway.url.replace(/^http/, 'ws')}/graphql`;

  // A long run (minutes at time scale 1): it ends when the round cancels it, after the last join.
  const startedAtMs = Date.now();
  const executionId = await emulator.execute(facts.projectId, facts.longPipeline.name, facts.environmentName);
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

  const workerCount = Math.max(1, Math.min(input.workers ?? Math.ceil(n / PER_WORKER), MAX_WORKERS, n));
  const workers: Worker[] = [];
  try {
    const joinStart = Date.now();
    for (let i = 0; i < workerCount; i++) {
      const count = Math.floor(n / workerCount) + (i < n % workerCount ? 1 : 0);
      workers.push(
        startWorker({
          wsUrl,
          query: EXECUTION_SUBSCRIPTION,
          variables,
          connectionParams: input.connectionParams,
          count,
          concurrency: Math.max(1, Math.ceil(input.connectConcurrency / workerCount)),
        }),
      );
    }
    const joins = await within(Promise.all(workers.map((w) => w.joined)), joinTimeoutMs(n), 'joining').catch(
      (error: Error) => {
        const so = workers.reduce((sum, w) => sum + w.joinedSoFar(), 0);
        throw new Error(`${error.message} (${so} of ${n} had joined)`);
      },
    );
    const connectAllMs = Math.max(...joins.map((j) => j.lastJoinAtMs)) - joinStart;
    // Every subscriber holds its stream now: the gateway's memory with all of them.
    const rssAfter = gateway.rssBytes();
    const joinErrors = joins.flatMap((j) => j.errors);

    // The upstream change: a forced cancel ends the run at once. Not before minRunMs, so the poll interval
    // is that of a run of some age, as in production.
    const wait = startedAtMs + input.minRunMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const runMs = Date.now() - startedAtMs;
    const cpuBeforeMs = gateway.cpuTimeMs();
    await emulator.cancel(facts.projectId, executionId, true);

    const dones = await within(Promise.all(workers.map((w) => w.done)), SETTLE_TIMEOUT_MS, 'fan-out');
    // The gateway's CPU from the cancel to the last receipt: one poll round (or two) and the fan-out, with
    // what else it does meanwhile (its keep-alive pings): moves less with the machine's load than latency.
    const fanOutCpuMs = gateway.cpuTimeMs() - cpuBeforeMs;
    // The generator processes' CPU over the same stretch (they share one core when pinned): when it comes
    // near the wall time of the fan-out, the receipts waited for the generator, not for the gateway.
    const generatorCpuMs = dones.reduce((sum, done, i) => sum + done.cpuMs - joins[i].cpuMs, 0);
    const windowMs = Date.now() - windowStart;
    clearInterval(sampler);
    const counters = await emulator.counters();
    const rssPeak = gateway.peakRssBytes();

    const joinMs = joins.flatMap((j) => j.joinMs);
    const late = joins.reduce((sum, j) => sum + j.late, 0);
    const fanOut: number[] = [];
    const fromUpstream: number[] = [];
    for (const done of dones) {
      done.receivedAtMs.forEach((receivedAtMs, i) => {
        fanOut.push(receivedAtMs - Date.parse(done.eventAt[i]));
        const finishedAt = done.finishedAt[i];
        if (finishedAt) fromUpstream.push(receivedAtMs - Date.parse(finishedAt));
      });
    }
    // A subscriber that failed while joining is reported again with the rest: count the larger list.
    const doneErrors = dones.flatMap((d) => d.errors);
    const failures = doneErrors.length >= joinErrors.length ? doneErrors : joinErrors;
    const failed = failures.length;
    const delivered = dones.reduce((sum, d) => sum + d.delivered, 0);
    const statusCalls = counters.routes.getExecutionStatus?.total ?? 0;
    const detailsCalls = counters.routes.getExecution?.total ?? 0;
    const ok = delivered === n && failed === 0 && late === 0;
    return {
      subscribers: n,
      status: ok ? 'ok' : 'error',
      error: ok
        ? undefined
        : `${delivered}/${n} received the terminal event, ${late} joined after it, ${failed} failed${failures[0] ? ` (first: ${failures[0]})` : ''}`,
      runMs,
      generatorProcesses: workerCount,
      connected: joinMs.length,
      connectAllMs: round(connectAllMs, 0),
      connect: summarize(joinMs),
      rssBeforeMb: round(rssBefore / MiB, 1),
      rssAfterMb: round(rssAfter / MiB, 1),
      rssPeakMb: round(rssPeak / MiB, 1),
      rssPerSubscriberKb: round((rssAfter - rssBefore) / n / 1024, 1),
      delivered,
      late,
      failed,
      firstError: failures[0] ?? undefined,
      fromUpstream: summarize(fromUpstream),
      fanOut: summarize(fanOut),
      fanOutCpuUsPerSubscriber: round((fanOutCpuMs * 1000) / n, 1),
      generatorCpuUsPerSubscriber: round((generatorCpuMs * 1000) / n, 1),
      windowMs,
      statusCalls,
      detailsCalls,
      maxPollsOfOnePoller: Math.floor(windowMs / input.minIntervalMs) + 1,
      maxStatusCallsPerSecond: perSecondStatusCalls.length ? Math.max(...perSecondStatusCalls) : statusCalls,
    };
  } finally {
    clearInterval(sampler);
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill();
    await emulator.cancel(facts.projectId, executionId, true).catch(() => undefined);
  }
}
