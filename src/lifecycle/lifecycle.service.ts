import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { APP_CONFIG, type AppConfig } from '../config';

/**
 * `starting`: not listening yet. `ready`: serving. `draining`: SIGTERM (or `app.close()`) received,
 * readiness fails, in-flight requests finish. `stopped`: the listener is closed and Nest's hooks run.
 */
export type LifecyclePhase = 'starting' | 'ready' | 'draining' | 'stopped';

/**
 * The process's place in its life, and the drain that graceful shutdown runs.
 *
 * Long-lived transports (SSE streams, WebSocket subscriptions, `waitSeconds` waits) listen to
 * `shutdownSignal`: it aborts the moment shutdown begins, so they can end cleanly (SSE with a `retry:`
 * hint, graphql-ws with 1001) while short requests still finish.
 */
@Injectable()
export class LifecycleService implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger(LifecycleService.name);
  private phaseValue: LifecyclePhase = 'starting';
  private readonly abortController = new AbortController();
  private readonly inFlight = new Set<ServerResponse>();
  private server: Server | null = null;
  private drainPromise: Promise<void> | null = null;
  private readonly idleWaiters = new Set<() => void>();
  private readonly stopCallbacks: (() => void)[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  get phase(): LifecyclePhase {
    return this.phaseValue;
  }

  /** True between listening and the start of shutdown: what readiness reports. */
  get isReady(): boolean {
    return this.phaseValue === 'ready';
  }

  get isShuttingDown(): boolean {
    return this.phaseValue === 'draining' || this.phaseValue === 'stopped';
  }

  /** Aborts when shutdown begins. Long-lived streams end on it. */
  get shutdownSignal(): AbortSignal {
    return this.abortController.signal;
  }

  /** HTTP requests being served right now (WebSocket connections are not requests). */
  get inFlightRequests(): number {
    return this.inFlight.size;
  }

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (!server || typeof server.on !== 'function') {
      this.markReady();
      return;
    }
    this.server = server;
    // First of the request listeners: the hot-read front answers some requests synchronously, and those
    // answers too must carry `Connection: close` once draining.
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => this.track(res));
    if (server.listening) this.markReady();
    else server.once('listening', () => this.markReady());
  }

  /** Called once the listener is up; a process that is already shutting down stays so. */
  markReady(): void {
    if (this.phaseValue === 'starting') this.phaseValue = 'ready';
  }

  /** Fails readiness and aborts `shutdownSignal`. Idempotent. */
  beginShutdown(reason: string): void {
    if (this.isShuttingDown) return;
    this.phaseValue = 'draining';
    // Answers still to be written close their connection too (later requests get it in track).
    for (const res of this.inFlight) res.shouldKeepAlive = false;
    this.logger.log(`Shutting down (${reason}): readiness fails, in-flight requests finish`);
    this.abortController.abort(new Error(`shutting down: ${reason}`));
  }

  /**
   * The graceful part of shutdown, run once: readiness fails, long-lived streams are told to end, new
   * connections are refused after `SHUTDOWN_DRAIN_DELAY_MS`, and in-flight requests get up to
   * `SHUTDOWN_GRACE_MS` to finish before their connections are cut. Nest's own hooks (lease release,
   * GraphQL stop, Redis last) run after it, in `app.close()`.
   */
  drain(reason = 'shutdown', options: { waitForBalancers?: boolean } = {}): Promise<void> {
    this.drainPromise ??= this.runDrain(reason, options.waitForBalancers ?? true);
    return this.drainPromise;
  }

  /**
   * `app.close()` without the signal handler (tests, embedders) still drains before other hooks run, but
   * without `SHUTDOWN_DRAIN_DELAY_MS`: whoever closes the application directly is not a load balancer to
   * wait for, and wants it closed.
   */
  async onModuleDestroy(): Promise<void> {
    await this.drain('application close', { waitForBalancers: false });
  }

  onApplicationShutdown(): void {
    this.phaseValue = 'stopped';
    for (const callback of this.stopCallbacks.splice(0)) callback();
  }

  /** Runs `callback` once the application has shut down (e.g. to remove process signal handlers). */
  onStop(callback: () => void): void {
    this.stopCallbacks.push(callback);
  }

  private async runDrain(reason: string, waitForBalancers: boolean): Promise<void> {
    this.beginShutdown(reason);
    const { shutdownDrainDelayMs } = this.config.observability;
    // Still listening: balancers that have not noticed the failed readiness yet are served, each answer
    // with `Connection: close`, so every keep-alive client leaves this replica between two requests.
    if (waitForBalancers && shutdownDrainDelayMs > 0) await sleep(shutdownDrainDelayMs);
    const server = this.server;
    if (server?.listening) {
      // Stops accepting connections and closes idle keep-alive ones; answers in flight carry
      // `Connection: close` (see track), so no client reuses a connection that is about to go.
      server.close(() => undefined);
    }
    const graceMs = this.config.server.shutdownGraceMs;
    const finished = await this.waitForIdle(graceMs);
    if (!finished) {
      this.logger.warn(
        `${this.inFlight.size} request(s) still running after SHUTDOWN_GRACE_MS=${graceMs}: closing them`,
      );
    }
    // Whatever is left is either idle or out of time. Upgraded (WebSocket) sockets are not HTTP
    // connections any more and are closed by their own server's shutdown.
    server?.closeAllConnections();
    this.phaseValue = 'stopped';
  }

  private track(res: ServerResponse): void {
    if (this.isShuttingDown) res.shouldKeepAlive = false;
    this.inFlight.add(res);
    // One listener function for every response (no closure or once-wrapper per request): a response
    // closes once.
    res.on('close', this.released);
  }

  private readonly released = ((service: LifecycleService) =>
    function (this: ServerResponse): void {
      service.inFlight.delete(this);
      if (service.inFlight.size === 0) for (const wake of [...service.idleWaiters]) wake();
    })(this);

  private waitForIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight.size === 0) return Promise.resolve(true);
    // Connections kept alive before the signal should not carry new requests once draining.
    for (const res of this.inFlight) res.shouldKeepAlive = false;
    return new Promise((resolve) => {
      const done = (idle: boolean) => {
        clearTimeout(timer);
        this.idleWaiters.delete(wake);
        resolve(idle);
      };
      const wake = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.idleWaiters.add(wake);
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
