import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { ErrorCode, GatewayError } from '../common/errors';
import { REQUEST_ID_HEADER, RequestContext } from '../common/request-context';
import { APP_CONFIG, type AppConfig, type MaiaConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { abortedError, sleep, throwIfAborted } from './maia-async';
import { directAdapter, directConfig, leanAxiosDefaults } from './maia-http.exchange';
import { CircuitBreaker, type BreakerOutcome } from './maia-breaker';
import { RateCooldown } from './maia-cooldown';
import {
  badResponseError,
  errorFromStatus,
  neverSentCodes,
  parseRetryAfterMs,
  rateLimitedError,
  timeoutError,
  toRetryAfterSeconds,
  unavailableError,
} from './maia-errors';
import { UPSTREAM_OBSERVER, type UpstreamCallObservation, type UpstreamObserver } from './maia-observer';
import { fullJitterDelayMs, RetryBudget } from './maia-retry';
import { MaiaTokenService } from './maia-token.service';
import { type CallOptions } from './maia.types';

/**
 * How a request may be repeated:
 * - `idempotent`: GETs, up to `maxAttempts` on network errors, timeouts, 429 and 5xx;
 * - `once`: the cancel PATCH, at most one retry;
 * - `never-after-send`: execute; repeated only when the bytes certainly never left (connection refused,
 *   DNS), and an unknown outcome is reported as `OutcomeUnknownError` for the caller to reconcile.
 * A 401 is replayed once in every mode (Maia refused the request before acting on it).
 */
export type RetryMode = 'idempotent' | 'once' | 'never-after-send';

/** Maia's operations, named as the emulator names its routes: metrics labels and log lines use them. */
export type MaiaRoute =
  | 'listProjects'
  | 'listEnvironments'
  | 'listPublishedPipelines'
  | 'executePipeline'
  | 'getExecution'
  | 'getExecutionStatus'
  | 'listSteps'
  | 'cancelExecution'
  | 'listExecutions'
  | 'listArtifacts'
  | 'getArtifactDetails'
  | 'listAgents';

export type QueryValue = string | number | boolean | readonly string[] | undefined;

export interface MaiaRequest {
  /** Which operation this is, given by the caller (never parsed back from the URL). */
  route: MaiaRoute;
  method: 'GET' | 'POST' | 'PATCH';
  /** Path under the API base, already URL-encoded (`/v1/projects/...`). */
  path: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  retry: RetryMode;
  options?: CallOptions;
  /** Facts echoed in a CONFLICT error. */
  executionTag?: string;
  /** Overrides the configured deadline (reconciliation uses its own). */
  deadlineMs?: number;
  /**
   * Sent even while the circuit breaker is open (its outcome still counts): only reconciliation listings,
   * the one way to learn which run an unanswered execute POST created. A burst of such POSTs opens the
   * breaker; refused, every caller got UPSTREAM_OUTCOME_UNKNOWN for runs that existed. Bounded by the
   * reconciler's schedule (a few listings per unanswered POST).
   */
  passOpenBreaker?: boolean;
}

export interface MaiaResponse {
  status: number;
  /** The parsed JSON body; `undefined` when empty. */
  body: unknown;
  /** False when a non-empty body was not JSON. */
  readable: boolean;
}

/** Execute only: the POST may have reached Maia, but its answer never came back. */
export class OutcomeUnknownError extends Error {
  constructor(readonly reason: 'timeout' | 'connection-lost' | 'gateway-error') {
    super(`Outcome of the call is unknown (${reason})`);
    this.name = 'OutcomeUnknownError';
  }
}

type AttemptResult =
  | { kind: 'response'; response: AxiosResponse<string> }
  | { kind: 'timeout' }
  | { kind: 'network'; sent: boolean; code: string }
  | { kind: 'too-large' }
  | { kind: 'aborted' };

const timeoutCodes = new Set(['ECONNABORTED', 'ETIMEDOUT']);
/** The body as received (the transport parses it itself), and every status an answer (judged here). */
const keepBody = (data: unknown) => data;
const anyStatus = () => true;

/**
 * The only code that sends requests to the Maia API. Per attempt: rate-limit cooldown, circuit breaker,
 * token, one HTTP exchange with a timeout, reported to the metrics under the caller's route name. Around
 * attempts: an overall deadline, full-jitter retries within a budget, Retry-After, one replay after a 401.
 * Errors come out as `GatewayError`s whose messages carry no URL, body, token or secret.
 */
@Injectable()
export class MaiaTransport implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(MaiaTransport.name);
  private readonly config: MaiaConfig;
  private readonly baseUrl: string;
  /** The origin of `baseUrl`, parsed once (every API call goes there). */
  private readonly baseOrigin: string;
  readonly budget: RetryBudget;
  readonly cooldown: RateCooldown;
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly random: () => number = Math.random;

  constructor(
    @Inject(APP_CONFIG) appConfig: AppConfig,
    private readonly http: HttpService,
    private readonly tokens: MaiaTokenService,
    redis: RedisService,
    @Optional() @Inject(UPSTREAM_OBSERVER) private readonly observer?: UpstreamObserver,
  ) {
    this.config = appConfig.maia;
    // The instance is this module's own (MaiaModule): its defaults are trimmed once for every call.
    leanAxiosDefaults(this.http.axiosRef);
    this.baseUrl = this.config.baseUrl.replace(/\/+$/, '');
    this.baseOrigin = new URL(this.baseUrl).origin;
    this.budget = new RetryBudget({
      ratio: this.config.retryBudgetRatio,
      minRetries: this.config.retryBudgetMinRetries,
      windowMs: this.config.retryBudgetWindowMs,
    });
    this.cooldown = new RateCooldown(redis);
  }

  async onModuleInit(): Promise<void> {
    await this.cooldown.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.cooldown.stop();
  }

  /** The breaker of the upstream host a path goes to (one per origin). */
  breakerFor(url: string = this.baseUrl): CircuitBreaker {
    // Under the base URL (every API call): its origin, without parsing the URL again.
    const origin =
      url === this.baseUrl || url.startsWith(`${this.baseUrl}/`) ? this.baseOrigin : new URL(url).origin;
    let breaker = this.breakers.get(origin);
    if (!breaker) {
      breaker = new CircuitBreaker(
        { failureThreshold: this.config.breakerFailureThreshold, openMs: this.config.breakerOpenMs },
        Date.now,
        (from, to) => {
          const log = to === 'open' ? 'warn' : 'log';
          // The origin is configuration, not a secret, but stays out of logs like every URL.
          this.logger[log](`Maia circuit breaker ${from} → ${to}`);
        },
      );
      this.breakers.set(origin, breaker);
    }
    return breaker;
  }

  async request(request: MaiaRequest): Promise<MaiaResponse> {
    const signal = request.options?.signal;
    const deadlineAtMs = Date.now() + (request.deadlineMs ?? this.config.deadlineMs);
    const url = this.baseUrl + request.path + this.queryString(request.query);
    const breaker = this.breakerFor(url);
    const maxAttempts =
      request.retry === 'idempotent'
        ? this.config.maxAttempts
        : request.retry === 'once'
          ? Math.min(2, this.config.maxAttempts)
          : this.config.maxAttempts; // never-after-send: only for attempts that certainly never left
    this.budget.recordCall();
    let attempts = 0;
    let authReplayed = false;

    for (;;) {
      throwIfAborted(signal);
      await this.waitForCooldown(deadlineAtMs, signal);
      const permit = breaker.tryAcquire() ?? (request.passOpenBreaker ? breaker.passThrough() : null);
      if (!permit) {
        throw unavailableError('Maia is unavailable; calls are paused for a moment', {
          retryAfterSeconds: toRetryAfterSeconds(breaker.retryInMs),
        });
      }
      let token: string;
      try {
        token = await this.tokens.getToken({ deadlineAtMs, signal });
      } catch (error) {
        permit.report('neutral');
        throw error;
      }
      const remainingMs = deadlineAtMs - Date.now();
      if (remainingMs <= 0) {
        permit.report('neutral');
        throw timeoutError();
      }
      attempts += 1;
      const result = await this.attempt(
        request,
        url,
        token,
        Math.min(this.config.attemptTimeoutMs, remainingMs),
      );
      permit.report(this.judge(result));

      if (result.kind === 'aborted') throw abortedError();
      if (result.kind === 'too-large')
        throw badResponseError('Maia sent a response larger than the gateway accepts');

      if (result.kind === 'response') {
        const { status } = result.response;
        if (status >= 200 && status < 300) return this.toResponse(result.response);
        if (status === 401) {
          if (authReplayed) throw this.statusError(request, result.response);
          authReplayed = true;
          attempts -= 1; // the replay is not a retry: Maia refused before acting
          await this.tokens.invalidate(token);
          continue;
        }
        if (status === 429) {
          const waitMs =
            parseRetryAfterMs(result.response.headers['retry-after']) ?? this.config.defaultRetryAfterMs;
          await this.cooldown.note(waitMs);
          const retryable = request.retry !== 'never-after-send' && attempts < maxAttempts;
          if (retryable && this.fits(waitMs, deadlineAtMs) && this.budget.tryRetry()) {
            this.logger.debug(`${request.route}: 429, retrying after ${waitMs} ms as Maia asked`);
            await sleep(waitMs, signal);
            continue;
          }
          throw errorFromStatus(429, this.bodyOf(result.response), {
            retryAfterSeconds: toRetryAfterSeconds(waitMs),
            knownSecrets: this.tokens.knownSecrets(),
          });
        }
        if (status >= 500) {
          if (request.retry === 'never-after-send') {
            // A proxy's 502/504 may hide an upstream that acted; 500/503 are Maia saying it did not.
            if (status === 502 || status === 504) throw new OutcomeUnknownError('gateway-error');
            throw this.statusError(request, result.response);
          }
          if (await this.backoff(request, attempts, maxAttempts, deadlineAtMs, `status ${status}`)) continue;
        }
        throw this.statusError(request, result.response);
      }

      // timeout or network error
      const maybeSent = result.kind === 'timeout' || result.sent;
      if (request.retry === 'never-after-send' && maybeSent) {
        throw new OutcomeUnknownError(result.kind === 'timeout' ? 'timeout' : 'connection-lost');
      }
      const what = result.kind === 'timeout' ? 'timeout' : result.code;
      if (await this.backoff(request, attempts, maxAttempts, deadlineAtMs, what)) continue;
      if (result.kind === 'timeout') throw timeoutError();
      throw unavailableError('Maia could not be reached');
    }
  }

  /** Sleeps before a retry if one is allowed (attempts, deadline, budget); false when none is. */
  private async backoff(
    request: MaiaRequest,
    attempts: number,
    maxAttempts: number,
    deadlineAtMs: number,
    what: string,
  ): Promise<boolean> {
    if (attempts >= maxAttempts) return false;
    const delayMs = fullJitterDelayMs(
      attempts - 1,
      this.config.retryBaseDelayMs,
      this.config.retryMaxDelayMs,
      this.random,
    );
    if (!this.fits(delayMs, deadlineAtMs)) return false;
    if (!this.budget.tryRetry()) {
      this.logger.debug(`${request.route}: ${what}, not retried (retry budget spent)`);
      return false;
    }
    this.logger.debug(`${request.route}: ${what}, retry ${attempts} in ${delayMs} ms`);
    await sleep(delayMs, request.options?.signal);
    return true;
  }

  /** A wait fits when an attempt still has a useful slice of the deadline after it. */
  private fits(waitMs: number, deadlineAtMs: number): boolean {
    const usefulMs = Math.min(this.config.attemptTimeoutMs, 250);
    return Date.now() + waitMs + usefulMs <= deadlineAtMs;
  }

  private async waitForCooldown(deadlineAtMs: number, signal?: AbortSignal): Promise<void> {
    const waitMs = this.cooldown.remainingMs();
    if (waitMs <= 0) return;
    if (!this.fits(waitMs, deadlineAtMs)) throw rateLimitedError(waitMs);
    await sleep(waitMs, signal);
  }

  private judge(result: AttemptResult): BreakerOutcome {
    switch (result.kind) {
      case 'response':
        return result.response.status >= 500 ? 'failure' : 'success';
      case 'too-large':
        return 'success'; // the host answered; the answer was the problem
      case 'aborted':
        return 'neutral';
      case 'timeout':
      case 'network':
        return 'failure';
    }
  }

  private async attempt(
    request: MaiaRequest,
    url: string,
    token: string,
    timeoutMs: number,
  ): Promise<AttemptResult> {
    // Accept first: where axios' merge with the instance's default `Accept` puts it, so both paths of
    // `exchange` send the headers in one order.
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Authorization: `Bearer ${token}`,
    };
    if (request.body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.config.accountId) headers['account-id'] = this.config.accountId;
    // Joins Maia's logs and ours: the caller's id, else the id of the request being served.
    const requestId = request.options?.requestId ?? RequestContext.current()?.requestId;
    if (requestId) headers[REQUEST_ID_HEADER] = requestId;
    const startedAtMs = Date.now();
    const result = await this.exchange(request, url, headers, timeoutMs);
    this.report(request.route, result, Date.now() - startedAtMs);
    return result;
  }

  private report(route: MaiaRoute, result: AttemptResult, durationMs: number): void {
    if (!this.observer) return;
    let status: UpstreamCallObservation['status'];
    if (result.kind === 'response') status = result.response.status;
    else if (result.kind === 'timeout' || result.kind === 'aborted') status = result.kind;
    else status = 'network_error';
    this.observer.upstreamCall({ endpoint: route, status, durationMs });
    if (status === 429) this.observer.rateLimitCooldown();
  }

  private async exchange(
    request: MaiaRequest,
    url: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<AttemptResult> {
    try {
      const config: AxiosRequestConfig = {
        url,
        method: request.method,
        data: request.body === undefined ? undefined : JSON.stringify(request.body),
        headers,
        timeout: timeoutMs,
        signal: request.options?.signal,
        responseType: 'text',
        // A new list per call: an interceptor may add to it.
        transformResponse: [keepBody],
        validateStatus: anyStatus,
        maxContentLength: this.config.maxResponseBytes,
        maxBodyLength: this.config.maxResponseBytes,
        maxRedirects: 0,
      };
      // Axios' pipeline is skipped while nothing could tell (no interceptor but the gateway's own, defaults
      // as trimmed): the same request to the same adapter, about 50 µs less per exchange (ADR 0047).
      const axiosRef = this.http.axiosRef;
      const direct = directAdapter(axiosRef);
      const response = (
        direct ? await direct(directConfig(config)) : await axiosRef.request<string>(config)
      ) as AxiosResponse<string>;
      // As axios' dispatch does when the adapter answered after the caller gave up.
      if (request.options?.signal?.aborted) return { kind: 'aborted' };
      return { kind: 'response', response };
    } catch (error) {
      // Axios errors carry the request config (Authorization header included): only their code is kept.
      const code =
        typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : '';
      const message = error instanceof Error ? error.message : '';
      if (code === 'ERR_CANCELED' || request.options?.signal?.aborted) return { kind: 'aborted' };
      if (timeoutCodes.has(code)) return { kind: 'timeout' };
      if (code === 'ERR_BAD_RESPONSE' && /maxContentLength/i.test(message)) return { kind: 'too-large' };
      return { kind: 'network', sent: !neverSentCodes.has(code), code: code || 'network error' };
    }
  }

  private toResponse(response: AxiosResponse<string>): MaiaResponse {
    const text = typeof response.data === 'string' ? response.data : '';
    if (text.trim() === '') return { status: response.status, body: undefined, readable: true };
    try {
      return { status: response.status, body: JSON.parse(text) as unknown, readable: true };
    } catch {
      return { status: response.status, body: undefined, readable: false };
    }
  }

  private bodyOf(response: AxiosResponse<string>): unknown {
    return this.toResponse(response).body;
  }

  private statusError(request: MaiaRequest, response: AxiosResponse<string>): GatewayError {
    const error = errorFromStatus(response.status, this.bodyOf(response), {
      executionTag: request.executionTag,
      knownSecrets: this.tokens.knownSecrets(),
    });
    if (error.code === ErrorCode.UPSTREAM_UNAVAILABLE || error.code === ErrorCode.UPSTREAM_AUTH_FAILED) {
      this.logger.warn(`${request.route}: Maia answered ${response.status}`);
    }
    return error;
  }

  private queryString(query?: Record<string, QueryValue>): string {
    if (!query) return '';
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const item of value as readonly string[]) params.append(name, item);
      else params.append(name, String(value));
    }
    const text = params.toString();
    return text === '' ? '' : `?${text}`;
  }
}
