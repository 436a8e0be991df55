import type { FastifyRequest } from 'fastify';
import { type MaiaExecution } from '../maia/maia.types';
import { type ExecutionWatchService } from './execution-watch.service';
import { identityOfHttpRequest } from './watch-identity';

/**
 * The long-poll behind `GET …/pipeline-executions/{id}?waitSeconds=N`: the execution as soon as it is
 * terminal, or after N seconds its latest state as the shared poller saw it (no extra upstream call per
 * waiting client). Null when nothing was seen (N = 0, or the client went away): the caller then reads
 * the execution itself. Stops waiting when the client disconnects.
 */
export async function waitForExecution(
  watch: ExecutionWatchService,
  request: FastifyRequest,
  projectId: string,
  executionId: string,
  waitSeconds: number | undefined,
): Promise<MaiaExecution | null> {
  if (!waitSeconds || waitSeconds <= 0) return null;
  const abort = new AbortController();
  const onClose = () => abort.abort();
  request.raw.once('close', onClose);
  try {
    return await watch.waitForTerminal(projectId, executionId, waitSeconds * 1000, {
      ...identityOfHttpRequest(request),
      transport: 'wait',
      signal: abort.signal,
    });
  } finally {
    request.raw.off('close', onClose);
  }
}
