import type { FastifyRequest } from 'fastify';
import { type MaiaExecution } from '../maia/maia.types';

/**
 * What executions ask of live status. Declared here and implemented by the watch wing (`src/watch`), so
 * the dependency runs one way: watch imports executions' models, executions imports nothing of watch.
 */
export abstract class ExecutionWatchPort {
  /** A run was just started through this gateway: watch it from its first second. */
  abstract notifyStarted(projectId: string, executionId: string): void;

  /** A cancel was requested: whoever polls the run polls fast again. */
  abstract nudge(projectId: string, executionId: string): Promise<void>;

  /**
   * `?waitSeconds=N`: the run as soon as it is terminal, or after N seconds its latest state as the shared
   * poller saw it. Null when nothing was seen (N = 0, the client went away): the caller reads it itself.
   */
  abstract waitForExecution(
    request: FastifyRequest,
    projectId: string,
    executionId: string,
    waitSeconds: number | undefined,
  ): Promise<MaiaExecution | null>;
}
