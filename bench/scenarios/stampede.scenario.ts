import { Agent } from 'node:http';
import type { SpawnedServer } from '../lib/child-process';
import type { EmulatorClient } from '../lib/emulator-client';
import { send } from '../lib/http-load';
import { PROJECTS_QUERY, expectData, graphqlBody } from '../lib/queries';
import type { RecordingProxy } from '../lib/recording-proxy';
import type { StampedeResult } from '../lib/results';
import { round, summarize } from '../lib/stats';

/**
 * A cold-cache stampede: `size` identical `projects` queries sent at once to a gateway that has never
 * loaded projects. Single-flight must turn them into exactly one upstream call, and every answer should
 * follow that call's end closely.
 *
 * Opening `size` TCP connections at once is a cost of its own (the listen backlog, the accept loop, the
 * TLS-less handshake of each), paid by the harness as much as the gateway, and it is not what single-flight
 * is about: the connections are opened first, each with one cheap request (`/health/live`), and measured
 * apart (`connectionSetup`); the queries then go out on those kept-alive connections.
 */
export async function runStampede(
  gateway: SpawnedServer,
  emulator: EmulatorClient,
  proxy: RecordingProxy,
  size: number,
  expectedTotal: number,
  headers: Record<string, string>,
): Promise<StampedeResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity });
  try {
    const setupStart = performance.now();
    const opened = await Promise.all(
      Array.from({ length: size }, async () => {
        const sentAt = performance.now();
        const answer = await send({ url: `${gateway.url}/health/live` }, agent);
        if (answer.status !== 200) throw new Error(`/health/live answered ${answer.status}`);
        return performance.now() - sentAt;
      }),
    );
    const connectionSetupMs = performance.now() - setupStart;
    const sockets = Object.values(agent.freeSockets).reduce((n, list) => n + (list?.length ?? 0), 0);

    await emulator.resetCounters();
    proxy.calls.length = 0;
    const cpuBefore = gateway.cpuTimeMs();
    // The gateway's CPU time when the upstream call reaches the proxy and when its answer went back.
    const cpuAt: { start?: number; end?: number } = {};
    proxy.onCall = (phase, method, path) => {
      if (method === 'GET' && /\/v1\/projects$/.test(path) && cpuAt[phase] === undefined)
        cpuAt[phase] = gateway.cpuTimeMs() - cpuBefore;
    };
    const start = performance.now();
    const answers = await Promise.all(
      Array.from({ length: size }, async () => {
        const sentAt = performance.now();
        const answer = await send(
          {
            url: `${gateway.url}/graphql`,
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: graphqlBody(PROJECTS_QUERY),
          },
          agent,
        );
        const at = performance.now();
        return { ...answer, at, ms: at - sentAt };
      }),
    );
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
    };
  } finally {
    proxy.onCall = undefined;
    agent.destroy();
  }
}
