import { Agent } from 'node:http';
import type { SpawnedServer } from '../lib/child-process';
import type { EmulatorClient } from '../lib/emulator-client';
import { send } from '../lib/http-load';
import { PROJECTS_QUERY, expectData, graphqlBody } from '../lib/queries';
import type { StampedeResult } from '../lib/results';
import { round, summarize } from '../lib/stats';

/**
 * A cold-cache stampede: `size` identical `projects` queries sent at once (each on its own connection) to a
 * gateway that has never loaded projects. Single-flight must turn them into exactly one upstream call.
 */
export async function runStampede(
  gateway: SpawnedServer,
  emulator: EmulatorClient,
  size: number,
  expectedTotal: number,
): Promise<StampedeResult> {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  await emulator.resetCounters();
  const start = performance.now();
  try {
    const answers = await Promise.all(
      Array.from({ length: size }, async () => {
        const sentAt = performance.now();
        const answer = await send(
          {
            url: `${gateway.url}/graphql`,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: graphqlBody(PROJECTS_QUERY),
          },
          agent,
        );
        return { ...answer, ms: performance.now() - sentAt };
      }),
    );
    const totalMs = performance.now() - start;
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
    };
  } finally {
    agent.destroy();
  }
}
