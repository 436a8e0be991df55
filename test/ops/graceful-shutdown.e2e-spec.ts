import { randomUUID } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv } from '../support/gateway-env';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { parsePrometheusText, valueOf } from './prometheus-text';
import { SteadyLoad } from './steady-load';

const POLL_INTERVAL_MS = 1_000;
const LONG_PIPELINE = 'FOLDER/long_backfill.orch.yaml';

const SUBSCRIPTION = `subscription Watch($projectId: ID!, $executionId: ID!) {
  pipelineExecutionUpdated(projectId: $projectId, executionId: $executionId) { cursor execution { status } }
}`;

interface WatchedSocket {
  client: Client;
  /** Close codes seen by this client (one per socket it opened). */
  closeCodes: number[];
  statuses: string[];
  completed: boolean;
  errors: unknown[];
}

function watchOver(gatewayUrl: string, projectId: string, executionId: string): WatchedSocket {
  const watched: WatchedSocket = {
    client: null as unknown as Client,
    closeCodes: [],
    statuses: [],
    completed: false,
    errors: [],
  };
  watched.client = createClient({
    url: `${gatewayUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    // A non-lazy client reports the server going away here; the close code is asserted from `closed`.
    onNonLazyError: () => undefined,
    on: { closed: (event) => watched.closeCodes.push((event as { code: number }).code) },
  });
  watched.client.subscribe<{ pipelineExecutionUpdated: { execution: { status: string } } }>(
    { query: SUBSCRIPTION, variables: { projectId, executionId } },
    {
      next: (result) => {
        const status = result.data?.pipelineExecutionUpdated.execution.status;
        if (status) watched.statuses.push(status);
      },
      error: (error) => watched.errors.push(error),
      complete: () => {
        watched.completed = true;
      },
    },
  );
  return watched;
}

/** Reads an SSE stream until it ends; resolves with everything received. */
async function readSse(url: string, onChunk: (text: string) => void): Promise<string> {
  const response = await fetch(url, { headers: { accept: 'text/event-stream' } });
  if (response.status !== 200 || !response.body) throw new Error(`SSE answered ${response.status}`);
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    onChunk(text);
  }
  return text;
}

async function activePollers(gatewayUrl: string): Promise<number> {
  const samples = parsePrometheusText(await (await fetch(`${gatewayUrl}/metrics`)).text());
  return valueOf(samples, 'gateway_active_pollers') ?? 0;
}

/**
 * SIGTERM to one of two replicas in the middle of steady load, with subscriptions open on both: nothing
 * started before the signal fails, its sockets close with 1001 and its SSE stream ends with a retry hint,
 * it exits well within 15 s, and the other replica takes over polling the watched execution at once.
 */
describe('graceful shutdown on SIGTERM', () => {
  let maia: EmulatorFixture;
  let replicaA: GatewayProcess;
  let replicaB: GatewayProcess;
  const sockets: WatchedSocket[] = [];

  beforeAll(async () => {
    maia = await startEmulatorFixture({ rateLimitPerMinute: 1_000_000 });
    const shared = {
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      WATCH_MIN_INTERVAL_MS: String(POLL_INTERVAL_MS),
      WATCH_MAX_INTERVAL_MS: String(POLL_INTERVAL_MS),
      // Long enough that a takeover by lease expiry could not pass for one at once.
      WATCH_LEASE_MS: '6000',
      SHUTDOWN_GRACE_MS: '10000',
      LOG_LEVEL: 'warn',
    };
    [replicaA, replicaB] = await Promise.all([
      startGatewayProcess(gatewayEnv(maia, shared)),
      startGatewayProcess(gatewayEnv(maia, shared)),
    ]);
  });
  afterAll(async () => {
    for (const s of sockets) await s.client.dispose();
    await Promise.all([replicaA?.stop('SIGKILL'), replicaB?.stop('SIGKILL')]);
    await maia?.close();
  });

  it('drains, closes sockets with 1001, exits fast, and the other replica takes over polling', async () => {
    const projects = (await (await fetch(`${replicaA.url}/api/v1/projects`)).json()) as {
      results: { id: string; name: string }[];
    };
    const projectId = projects.results.find((p) => p.name === 'Analytics Warehouse')?.id as string;
    const started = await fetch(`${replicaA.url}/api/v1/projects/${projectId}/pipeline-executions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pipelineName: LONG_PIPELINE, environmentName: 'Dev' }),
    });
    expect(started.status).toBe(201);
    const { pipelineExecutionId: executionId } = (await started.json()) as { pipelineExecutionId: string };

    // Subscribers on both replicas; A started the run, so A polls it.
    for (let i = 0; i < 4; i += 1) sockets.push(watchOver(replicaA.url, projectId, executionId));
    const onB = [
      watchOver(replicaB.url, projectId, executionId),
      watchOver(replicaB.url, projectId, executionId),
    ];
    sockets.push(...onB);
    const onA = sockets.filter((s) => !onB.includes(s));
    let sseText = '';
    const sse = readSse(
      `${replicaA.url}/api/v1/projects/${projectId}/pipeline-executions/${executionId}/events`,
      (t) => {
        sseText = t;
      },
    );
    await eventually(
      () => {
        expect(sockets.map((s) => s.statuses.includes('RUNNING'))).toEqual(sockets.map(() => true));
        expect(sseText).toContain('RUNNING');
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(await activePollers(replicaA.url)).toBe(1);
    expect(await activePollers(replicaB.url)).toBe(0);

    // Steady load on A: cached lookups and uncached execution reads that Maia answers slowly, so that
    // some are in flight when the signal comes.
    await maia.addFault({ route: 'getExecution', latencyMs: 700 });
    const paths = ['/api/v1/projects', `/api/v1/projects/${projectId}/pipeline-executions/${executionId}`];
    const load = new SteadyLoad({
      concurrency: 6,
      boundMs: 12_000,
      send: async (signal, index) => {
        const response = await fetch(`${replicaA.url}${paths[index % paths.length]}`, { signal });
        await response.arrayBuffer();
        return { status: response.status, ok: response.status === 200 };
      },
    });
    // Enough answered to call it steady; the slow execution reads keep some in flight at any moment.
    await eventually(() => expect(load.records.length).toBeGreaterThan(20), { timeoutMs: 10_000 });

    const signalAtMs = Date.now();
    replicaA.child.kill('SIGTERM');

    // The other replica takes the poller over within one interval (the lease is released, not left to
    // expire).
    const takenOverAtMs = await eventually(
      async () => {
        expect(await activePollers(replicaB.url)).toBe(1);
        return Date.now();
      },
      { timeoutMs: 6_000, intervalMs: 25 },
    );
    const exitCode = await replicaA.exited;
    const exitedAfterMs = Date.now() - signalAtMs;
    // The going-away frames may reach the clients just after the process is gone.
    await eventually(() => expect(onA.map((s) => s.closeCodes)).toEqual(onA.map(() => [1001])));
    const records = await load.stop();
    await maia.clearFaults();

    // Exit: clean, and well under 15 s.
    expect(exitCode).toBe(0);
    expect(exitedAfterMs).toBeLessThan(15_000);

    // Not one request started before the signal failed; some of them were in flight when it came.
    const startedBefore = records.filter((r) => r.startedAtMs < signalAtMs);
    expect(startedBefore.length).toBeGreaterThan(10);
    expect(startedBefore.filter((r) => r.endedAtMs > signalAtMs).length).toBeGreaterThan(0);
    expect(startedBefore.filter((r) => !r.ok)).toEqual([]);

    // Every WebSocket of A closed with 1001 (going away); B's stay open.
    expect(onA.map((s) => s.closeCodes)).toEqual(onA.map(() => [1001]));
    expect(onB.map((s) => s.closeCodes)).toEqual([[], []]);

    // A's SSE stream ended (the fetch body completed) with a retry hint after its last event.
    const finalText = await sse;
    const lastEvent = finalText.lastIndexOf('data: {"cursor"');
    expect(finalText.slice(lastEvent)).toMatch(/\nretry: \d+\n/);
    expect(finalText).toContain('SHUTTING_DOWN');

    expect(takenOverAtMs - signalAtMs).toBeLessThanOrEqual(POLL_INTERVAL_MS);

    // B really polls: a cancel is seen by B's subscribers, which then complete.
    const cancelled = await fetch(
      `${replicaB.url}/api/v1/projects/${projectId}/pipeline-executions/${executionId}`,
      {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'CANCELLED', forceUpdate: true }),
      },
    );
    expect(cancelled.status).toBe(200);
    // Subscribers still open are listed with the statuses they saw.
    await eventually(() => expect(onB.filter((s) => !s.completed).map((s) => s.statuses)).toEqual([]), {
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    for (const s of onB) expect(s.statuses.at(-1)).toBe('CANCELLED');
  });
});
