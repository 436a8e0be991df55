import { type INestApplication, Logger } from '@nestjs/common';
import { type AppConfig } from '../config';
import { flushTracing } from '../tracing/tracing';
import { LifecycleService } from './lifecycle.service';

export interface GracefulShutdownOptions {
  signals?: NodeJS.Signals[];
  /** Ends the process once shut down (default `process.exit`); tests pass a spy. */
  exit?: (code: number) => void;
}

/**
 * Replaces Nest's `enableShutdownHooks()`: on SIGTERM/SIGINT it drains first (readiness fails at once,
 * streams are told to end, in-flight requests get `SHUTDOWN_GRACE_MS`), then runs `app.close()` (Nest's
 * hooks: the watcher releases its leases, GraphQL closes its sockets with 1001, Redis closes last), flushes
 * traces and exits. A hard deadline guarantees the exit even if a hook hangs; a second signal exits at once.
 *
 * Returns a function that removes the handlers (also done by `app.close()` through the lifecycle service).
 */
export function installGracefulShutdown(
  app: INestApplication,
  config: AppConfig,
  options: GracefulShutdownOptions = {},
): () => void {
  const logger = new Logger('GracefulShutdown');
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let started = false;

  const hardDeadlineMs =
    config.observability.shutdownDrainDelayMs + config.server.shutdownGraceMs + HOOKS_BUDGET_MS;

  const onSignal = (signal: NodeJS.Signals): void => {
    if (started) {
      logger.warn(`${signal} again during shutdown: exiting now`);
      exit(1);
      return;
    }
    started = true;
    const deadline = setTimeout(() => {
      logger.error(`Shutdown did not finish within ${hardDeadlineMs} ms: exiting`);
      exit(1);
    }, hardDeadlineMs);
    deadline.unref();
    void shutDown(app, signal).then(
      () => {
        clearTimeout(deadline);
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(deadline);
        logger.error(`Shutdown failed: ${(error as Error)?.message ?? String(error)}`);
        exit(1);
      },
    );
  };

  for (const signal of signals) process.on(signal, onSignal);
  const uninstall = (): void => {
    for (const signal of signals) process.off(signal, onSignal);
  };
  app.get(LifecycleService).onStop(uninstall);
  return uninstall;
}

/** Time allowed to Nest's hooks after the drain (lease release, socket close, Redis quit). */
const HOOKS_BUDGET_MS = 5_000;

async function shutDown(app: INestApplication, signal: string): Promise<void> {
  const lifecycle = app.get(LifecycleService);
  await lifecycle.drain(signal);
  await app.close();
  await flushTracing();
}
