import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv } from '../support/gateway-env';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';

const CLIENTS = 24;
/** The defaults: what a deployment that sets nothing gets. */
const DRAIN_DELAY_MS = 5_000;
const GRACE_MS = 10_000;
/** How often the balancer checks readiness (HAProxy's `inter`, a kube-proxy's endpoint refresh). */
const HEALTH_CHECK_INTERVAL_MS = 250;
const FAILURE_THRESHOLD = 3;

interface Answer {
  client: number;
  replica: 'A' | 'B';
  startedAtMs: number;
  endedAtMs: number;
  status: number;
  /** The response said `Connection: close`. */
  close: boolean;
  error?: string;
}

/**
 * A balancer as the load balancers in front of the gateway behave: it sends each request to the next
 * replica that passed its last readiness check, checking every `HEALTH_CHECK_INTERVAL_MS`.
 */
class Balancer {
  readonly ready = new Map<string, boolean>();
  /**
   * Consecutive failed checks before a replica leaves the rotation (Kubernetes' `failureThreshold` is 3 by
   * default): A keeps getting requests for a moment after its signal, as behind a real balancer, so the
   * draining answers are seen however fast the first check after the signal comes.
   */
  private readonly failures = new Map<string, number>();
  private readonly probe = new Agent({ connections: 1 });
  private timer: NodeJS.Timeout | undefined;
  private turn = 0;

  constructor(private readonly urls: string[]) {
    for (const url of urls) this.ready.set(url, true);
    this.timer = setInterval(() => void this.check(), HEALTH_CHECK_INTERVAL_MS);
  }

  private async check(): Promise<void> {
    await Promise.all(
      this.urls.map(async (url) => {
        try {
          const response = await request(`${url}/health/ready`, { dispatcher: this.probe });
          await response.body.dump();
          this.observe(url, response.statusCode === 200);
        } catch {
          this.observe(url, false);
        }
      }),
    );
  }

  private observe(url: string, ok: boolean): void {
    const failures = ok ? 0 : (this.failures.get(url) ?? 0) + 1;
    this.failures.set(url, failures);
    this.ready.set(url, failures < FAILURE_THRESHOLD);
  }

  next(): string {
    const candidates = this.urls.filter((url) => this.ready.get(url));
    if (candidates.length === 0) throw new Error('no replica is ready');
    return candidates[this.turn++ % candidates.length];
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.probe.close();
  }
}

/**
 * SIGTERM to one of two replicas while keep-alive clients read steadily through a balancer, with the
 * default drain delay and grace: not one request fails (no client reuses a connection the replica is
 * closing, in-flight requests finish), the replica answers `Connection: close` while it drains, and it
 * exits within its grace period.
 */
describe('SIGTERM behind keep-alive clients', () => {
  let maia: EmulatorFixture;
  let replicaA: GatewayProcess;
  let replicaB: GatewayProcess;

  beforeAll(async () => {
    maia = await startEmulatorFixture({ rateLimitPerMinute: 1_000_000 });
    const shared = {
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
      RATE_LIMIT_ENABLED: 'false',
      // The gateway's defaults, not the test harness's.
      SHUTDOWN_DRAIN_DELAY_MS: undefined,
      SHUTDOWN_GRACE_MS: undefined,
      LOG_LEVEL: 'warn',
    };
    [replicaA, replicaB] = await Promise.all([
      startGatewayProcess(gatewayEnv(maia, shared)),
      startGatewayProcess(gatewayEnv(maia, shared)),
    ]);
  });
  afterAll(async () => {
    await Promise.all([replicaA?.stop('SIGKILL'), replicaB?.stop('SIGKILL')]);
    await maia?.close();
  });

  it('fails no request, says Connection: close while draining, and exits within the grace period', async () => {
    const projects = (await (await fetch(`${replicaA.url}/api/v1/projects`)).json()) as {
      results: { id: string; name: string }[];
    };
    const projectId = projects.results.find((p) => p.name === 'Analytics Warehouse')?.id as string;
    const started = await fetch(`${replicaA.url}/api/v1/projects/${projectId}/pipeline-executions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pipelineName: 'FOLDER/long_backfill.orch.yaml', environmentName: 'Dev' }),
    });
    expect(started.status).toBe(201);
    const { pipelineExecutionId: executionId } = (await started.json()) as { pipelineExecutionId: string };
    // Uncached execution reads that Maia answers slowly (simulated latency), so that some requests are
    // in flight when the signal comes; cached reads through the hot-read front and through Fastify.
    await maia.addFault({ route: 'getExecution', latencyMs: 400 });
    const graphqlProjects = JSON.stringify({ query: '{ projects { total results { id name } } }' });
    const send = (agent: Agent, url: string, index: number) => {
      switch (index % 3) {
        case 0:
          return request(`${url}/api/v1/projects`, { dispatcher: agent });
        case 1:
          return request(`${url}/graphql`, {
            dispatcher: agent,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: graphqlProjects,
          });
        default:
          return request(`${url}/api/v1/projects/${projectId}/pipeline-executions/${executionId}`, {
            dispatcher: agent,
          });
      }
    };

    const balancer = new Balancer([replicaA.url, replicaB.url]);
    const answers: Answer[] = [];
    let running = true;
    // Each client keeps one connection per replica alive and sends its next request as soon as the
    // previous one is answered.
    const agents = Array.from({ length: CLIENTS }, () => new Agent({ connections: 1, pipelining: 1 }));
    const clients = agents.map(async (agent, client) => {
      for (let index = client; running; index += 1) {
        const url = balancer.next();
        const answer: Answer = {
          client,
          replica: url === replicaA.url ? 'A' : 'B',
          startedAtMs: Date.now(),
          endedAtMs: 0,
          status: 0,
          close: false,
        };
        try {
          const response = await send(agent, url, index);
          await response.body.dump();
          answer.status = response.statusCode;
          answer.close = String(response.headers.connection ?? '').toLowerCase() === 'close';
        } catch (error) {
          const cause = error as { code?: string; message?: string };
          answer.error = cause.code ?? cause.message ?? String(error);
        }
        answer.endedAtMs = Date.now();
        answers.push(answer);
      }
    });

    let signalAtMs = 0;
    let exitedAfterMs = 0;
    let exitCode: number | string = 'not exited';
    try {
      await eventually(() => expect(answers.length).toBeGreaterThan(300), { timeoutMs: 20_000 });
      signalAtMs = Date.now();
      replicaA.child.kill('SIGTERM');
      exitCode = await replicaA.exited;
      exitedAfterMs = Date.now() - signalAtMs;
      // B goes on serving after A is gone.
      const countAtExit = answers.length;
      await eventually(() => expect(answers.length).toBeGreaterThan(countAtExit + 50), { timeoutMs: 10_000 });
    } finally {
      running = false;
      await Promise.all(clients);
      await balancer.close();
      await Promise.all(agents.map((agent) => agent.close()));
      await maia.clearFaults();
    }

    const failed = answers.filter((a) => a.error !== undefined || a.status !== 200);
    const fromA = answers.filter((a) => a.replica === 'A');
    const inFlightAtSignal = fromA.filter((a) => a.startedAtMs < signalAtMs && a.endedAtMs > signalAtMs);
    const servedWhileDraining = fromA.filter((a) => a.startedAtMs >= signalAtMs);
    const closeSeenBy = new Set(servedWhileDraining.filter((a) => a.close).map((a) => a.client));
    console.log(
      `${answers.length} requests from ${CLIENTS} keep-alive clients, ${failed.length} failed; A exited ` +
        `${exitCode} after ${exitedAfterMs} ms; ${inFlightAtSignal.length} in flight at the signal, ` +
        `${servedWhileDraining.length} served by A while draining (${closeSeenBy.size} clients told ` +
        'Connection: close)',
    );

    expect(failed).toEqual([]);
    expect(exitCode).toBe(0);
    // The drain delay is waited in full (balancers get their time); the exit comes within the grace.
    expect(exitedAfterMs).toBeGreaterThanOrEqual(DRAIN_DELAY_MS);
    expect(exitedAfterMs).toBeLessThan(DRAIN_DELAY_MS + GRACE_MS);
    expect(inFlightAtSignal.length).toBeGreaterThan(0);
    // Requests that reached A after the signal were answered, each with `Connection: close`.
    expect(servedWhileDraining.length).toBeGreaterThan(0);
    // (A request sent within a moment of the signal may be answered before the process has read it.)
    const sentAfterSignalRead = servedWhileDraining.filter((a) => a.startedAtMs > signalAtMs + 100);
    expect(sentAfterSignalRead.filter((a) => !a.close)).toEqual([]);
    expect(closeSeenBy.size).toBeGreaterThan(0);
    // Nothing reached A once the balancer saw it unready.
    const lastStartOnA = Math.max(...fromA.map((a) => a.startedAtMs));
    expect(lastStartOnA - signalAtMs).toBeLessThan(DRAIN_DELAY_MS);
  });
});
