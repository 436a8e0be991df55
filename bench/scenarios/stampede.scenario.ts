import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { SpawnedServer } from '../lib/child-process';
import type { EmulatorClient } from '../lib/emulator-client';
import { PROJECTS_QUERY, expectData, graphqlBody } from '../lib/queries';
import type { RecordingProxy } from '../lib/recording-proxy';
import type { StampedeResult } from '../lib/results';
import { round, summarize } from '../lib/stats';

/** One answer as the stampede's client read it. */
interface RawAnswer {
  status: number;
  body: string;
  /** `performance.now()` when its first bytes were read from the socket: on receipt, before any parsing. */
  receivedAt: number;
}

/**
 * A kept-alive HTTP/1.1 connection that sends prepared request bytes and reads one answer at a time, with
 * as little work per answer as the protocol allows: the harness shares a core, and with `node:http`'s
 * client (parser, events, a stream per answer) the 500th answer's timestamp also waited for the client's
 * work on the 499 before it. The timestamp is taken when an answer's first bytes arrive.
 */
class RawConnection {
  private pending?: { resolve(a: RawAnswer): void; reject(e: Error): void };
  private chunks: Buffer[] = [];
  private receivedAt = 0;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed before the answer')));
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  send(request: Buffer): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.chunks = [];
      this.receivedAt = 0;
      this.socket.write(request);
    });
  }

  close(): void {
    this.pending = undefined;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.receivedAt === 0) this.receivedAt = performance.now();
    this.chunks.push(chunk);
    const data = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
    const headEnd = data.indexOf('\r\n\r\n');
    if (headEnd === -1) return;
    const head = data.subarray(0, headEnd).toString('latin1');
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) {
      this.fail(new Error(`answer without content-length: ${head.slice(0, 200)}`));
      return;
    }
    const bodyEnd = headEnd + 4 + Number(length[1]);
    if (data.length < bodyEnd) return;
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve({
      status: Number(head.slice(9, 12)),
      body: data.subarray(headEnd + 4, bodyEnd).toString('utf8'),
      receivedAt: this.receivedAt,
    });
  }

  private fail(error: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }
}

/**
 * A `performance.now()` reading on CLOCK_MONOTONIC in whole microseconds, the clock V8's CPU profiles
 * stamp their samples with (`process.hrtime` reads it too).
 */
function monotonicUs(performanceMs: number): number {
  const offsetUs = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
  return Math.round(offsetUs + performanceMs * 1000);
}

/** The bytes of one HTTP/1.1 request on a kept-alive connection. */
function requestBytes(method: string, url: URL, headers: Record<string, string>, body?: string): Buffer {
  const payload = body === undefined ? undefined : Buffer.from(body);
  const lines = [`${method} ${url.pathname} HTTP/1.1`, `host: ${url.host}`, 'connection: keep-alive'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (payload) lines.push(`content-length: ${payload.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return payload ? Buffer.concat([head, payload]) : head;
}

/**
 * A cold-cache stampede: `size` identical `projects` queries sent at once to a gateway that has never
 * loaded projects. Single-flight must turn them into exactly one upstream call, and every answer should
 * follow that call's end closely.
 *
 * Opening `size` TCP connections at once is a cost of its own (the listen backlog, the accept loop, the
 * TLS-less handshake of each), paid by the harness as much as the gateway, and it is not what single-flight
 * is about: the connections are opened first, each with one cheap request (`/health/live`), and measured
 * apart (`connectionSetup`); the queries then go out on those kept-alive connections.
 *
 * The client is raw TCP with prepared request bytes (`RawConnection`), and each answer is timed when its
 * first bytes are read, so the figure after the upstream call is the gateway's, not the harness's parsing.
 * `harnessCpuMs` shows what the client itself spent while the answers came in.
 */
export async function runStampede(
  gateway: SpawnedServer,
  emulator: EmulatorClient,
  proxy: RecordingProxy,
  size: number,
  expectedTotal: number,
  headers: Record<string, string>,
): Promise<StampedeResult> {
  const url = new URL(gateway.url);
  const port = Number(url.port);
  const connections: RawConnection[] = [];
  try {
    const setupStart = performance.now();
    const health = requestBytes('GET', new URL('/health/live', url), {});
    const opened = await Promise.all(
      Array.from({ length: size }, async () => {
        const sentAt = performance.now();
        const connection = await RawConnection.open(port);
        connections.push(connection);
        const answer = await connection.send(health);
        if (answer.status !== 200) throw new Error(`/health/live answered ${answer.status}`);
        return performance.now() - sentAt;
      }),
    );
    const connectionSetupMs = performance.now() - setupStart;
    const sockets = connections.length;

    await emulator.resetCounters();
    proxy.calls.length = 0;
    const cpuBefore = gateway.cpuTimeMs();
    // The gateway's CPU time when the upstream call reaches the proxy and when its answer went back.
    const cpuAt: { start?: number; end?: number } = {};
    proxy.onCall = (phase, method, path) => {
      if (method === 'GET' && /\/v1\/projects$/.test(path) && cpuAt[phase] === undefined)
        cpuAt[phase] = gateway.cpuTimeMs() - cpuBefore;
    };
    const query = requestBytes(
      'POST',
      new URL('/graphql', url),
      { 'content-type': 'application/json', ...headers },
      graphqlBody(PROJECTS_QUERY),
    );
    const harnessCpuBefore = process.cpuUsage();
    // How late the harness's own event loop ran while the answers came in: an answer is timed when the
    // harness reads it, so a harness starved of its core (a busy machine) times answers late.
    const harnessDelay = monitorEventLoopDelay({ resolution: 5 });
    harnessDelay.enable();
    const start = performance.now();
    const answers = await Promise.all(
      connections.map(async (connection) => {
        const sentAt = performance.now();
        const answer = await connection.send(query);
        return { ...answer, at: answer.receivedAt, ms: answer.receivedAt - sentAt };
      }),
    );
    const harnessCpu = process.cpuUsage(harnessCpuBefore);
    harnessDelay.disable();
    const totalMs = performance.now() - start;
    const gatewayCpuMs = gateway.cpuTimeMs() - cpuBefore;
    let answeredOk = 0;
    let firstError: string | undefined;
    for (const answer of answers) {
      try {
        const data = expectData(answer.status, answer.body, 'projects') as { projects: { total: number } };
        if (data.projects.total !== expectedTotal)
          throw new Error(`projects.total ${data.projects.total}, want ${expectedTotal}`);
        answeredOk++;
      } catch (error) {
        firstError ??= (error as Error).message;
      }
    }
    const listProjectsCalls = await emulator.count('listProjects');
    const upstream = proxy.calls.filter((c) => c.method === 'GET' && /\/v1\/projects$/.test(c.path));
    const lastEnd = upstream.length ? Math.max(...upstream.map((c) => c.endMs)) : null;
    const firstUpstream = upstream[0];
    const lastAnswer = Math.max(...answers.map((a) => a.at));
    return {
      status: answeredOk === size ? 'ok' : 'error',
      error:
        answeredOk === size
          ? undefined
          : `${size - answeredOk} of ${size} answers wrong (first: ${firstError})`,
      requests: size,
      answeredOk,
      listProjectsCalls,
      latency: summarize(answers.map((a) => a.ms)),
      totalMs: round(totalMs, 1),
      gatewayCpuMs: round(gatewayCpuMs, 0),
      harnessCpuMs: round((harnessCpu.user + harnessCpu.system) / 1000, 0),
      harnessLoopDelayMaxMs: round(harnessDelay.max / 1e6, 1),
      gatewayCpuBeforeUpstreamMs: cpuAt.start,
      gatewayCpuAfterUpstreamMs: cpuAt.end === undefined ? undefined : round(gatewayCpuMs - cpuAt.end, 0),
      connectionSetup: {
        connections: sockets,
        allOpenMs: round(connectionSetupMs, 1),
        firstRequest: summarize(opened),
      },
      upstreamCall: firstUpstream
        ? {
            startAfterMs: round(firstUpstream.startMs - start, 1),
            durationMs: round(firstUpstream.endMs - firstUpstream.startMs, 1),
          }
        : undefined,
      upstreamLog: proxy.calls.map((c) => ({
        call: `${c.method} ${c.path.replace(/[0-9a-f-]{36}/g, '{id}')} ${c.status}`,
        startAfterMs: round(c.startMs - start, 1),
        durationMs: round(c.endMs - c.startMs, 1),
      })),
      afterUpstreamEnd: lastEnd === null ? undefined : summarize(answers.map((a) => a.at - lastEnd)),
      monotonicUs: {
        firstQuery: monotonicUs(start),
        upstreamStart: firstUpstream ? monotonicUs(firstUpstream.startMs) : undefined,
        upstreamEnd: lastEnd === null ? undefined : monotonicUs(lastEnd),
        lastAnswer: monotonicUs(lastAnswer),
      },
    };
  } finally {
    proxy.onCall = undefined;
    for (const connection of connections) connection.close();
  }
}

/**
 * The fresh-gateway stampede the target is judged on, of several on fresh gateways: a run that failed or
 * made other than one upstream call if there is one (a bad run is never outvoted), else the run of median
 * p99 after the upstream call (of an even number, the worse of the two middle ones).
 */
export function medianStampede(runs: StampedeResult[]): StampedeResult | null {
  if (runs.length === 0) return null;
  const bad = runs.find((r) => r.status !== 'ok' || r.listProjectsCalls !== 1 || !r.afterUpstreamEnd);
  if (bad) return bad;
  const byP99 = [...runs].sort(
    (a, b) => (a.afterUpstreamEnd?.p99 ?? Infinity) - (b.afterUpstreamEnd?.p99 ?? Infinity),
  );
  return byP99[Math.floor(byP99.length / 2)];
}
