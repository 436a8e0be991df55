import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { APP_CONFIG, type AppConfig, type MaiaConfig } from '../config';
import { RedisService } from '../redis/redis.service';
import { SingleFlightLock } from '../redis/single-flight.lock';
import { throwIfAborted, timedOut, waitAtMost } from './maia-async';
import { parseRetryAfterMs } from './maia-errors';
import { credentialFingerprint, TokenSealer, type SharedToken } from './maia-token-crypto';

interface HeldToken extends SharedToken {
  /** The sealed value this token had in Redis, for a compare-and-delete when it is rejected. */
  sealed: string | null;
}

export interface TokenRequestOptions {
  /** Epoch ms after which the caller's call is over; the wait is cut there too. */
  deadlineAtMs?: number;
  signal?: AbortSignal;
}

const tokenBodyLimitBytes = 64 * 1024;
/** How often a replica waiting for another one's refresh looks again when no wake-up arrives. */
const sharedPollMs = 50;
const rejectedMemory = 32;

/**
 * OAuth2 client-credentials tokens for Maia.
 *
 * - Cached until `expires_in` minus a skew (the smaller of 60 s and a tenth of the lifetime), measured
 *   from the moment the token was requested. Past that point the token is still used (while more than
 *   half the skew remains) and one refresh runs in the background.
 * - One refresh at a time per process; concurrent callers share it. With Redis, one per expiry for the
 *   whole fleet: a single-flight lock elects the replica that asks, the others wait for the token it
 *   shares, sealed with AES-256-GCM under a key derived from the client secret.
 * - `invalidate(token)` (after a 401) drops the token only if it is still the current one, here and in
 *   Redis, so concurrent 401s cause one refresh.
 * - Endpoint down: a still-valid token keeps being used; without one callers fail within
 *   `tokenTimeoutMs` with UPSTREAM_AUTH_UNAVAILABLE and the endpoint is asked again at most every
 *   `tokenRetryIntervalMs`. Credentials rejected: UPSTREAM_AUTH_FAILED, at most one attempt per
 *   `tokenRejectedRetryIntervalMs`. Both pauses are shared through Redis when it is there.
 *
 * The secret and tokens are never logged nor put in an error.
 */
@Injectable()
export class MaiaTokenService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(MaiaTokenService.name);
  private readonly config: MaiaConfig;
  private current: HeldToken | null = null;
  private refreshing: Promise<HeldToken> | null = null;
  private blockedUntilMs = 0;
  /** Why attempts are paused; each caller gets its own error instance. */
  private blockedReason: { code: ErrorCode; message: string } | null = null;
  private readonly rejected: string[] = [];
  private readonly sealer: TokenSealer | null;
  private readonly tokenKey: string;
  private readonly lockKey: string;
  private readonly pauseKey: string;
  private readonly flights: SingleFlightLock;

  constructor(
    @Inject(APP_CONFIG) appConfig: AppConfig,
    private readonly http: HttpService,
    private readonly redis: RedisService,
  ) {
    this.config = appConfig.maia;
    const { clientId, clientSecret, tokenUrl, audience } = this.config;
    const fingerprint = credentialFingerprint(clientId ?? '', tokenUrl, audience);
    this.sealer = clientSecret ? new TokenSealer(clientSecret, fingerprint) : null;
    this.tokenKey = redis.key('maia', 'token', fingerprint);
    this.lockKey = redis.key('maia', 'token-lock', fingerprint);
    this.pauseKey = redis.key('maia', 'token-pause', fingerprint);
    this.flights = new SingleFlightLock(redis, 'maia:token:flights');
  }

  async onModuleInit(): Promise<void> {
    await this.flights.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.flights.stop();
  }

  /** For readiness and metrics, without a call: a usable token is held; the token endpoint is paused. */
  tokenState(nowMs: number = Date.now()): { valid: boolean; failing: boolean } {
    return {
      valid: this.current !== null && nowMs < this.current.expiresAtMs,
      failing: nowMs < this.blockedUntilMs,
    };
  }

  /** Strings to scrub from anything upstream-provided: the secret and every token this process holds. */
  knownSecrets(): string[] {
    const secrets = [...this.rejected];
    if (this.config.clientSecret) secrets.push(this.config.clientSecret);
    if (this.current) secrets.push(this.current.accessToken);
    return secrets;
  }

  /** A token that is valid now. */
  async getToken(options: TokenRequestOptions = {}): Promise<string> {
    throwIfAborted(options.signal);
    const now = Date.now();
    const held = this.current;
    if (held && now < held.refreshAtMs) return held.accessToken;
    const usable = held && this.isUsable(held, now) ? held : null;

    if (usable) {
      // Past the refresh point but still good: refresh in the background, nobody waits.
      if (now >= this.blockedUntilMs) this.startRefresh().catch(() => undefined);
      return usable.accessToken;
    }
    if (now < this.blockedUntilMs && this.blockedReason) {
      throw new GatewayError(this.blockedReason.code, this.blockedReason.message);
    }

    const waitMs = Math.min(
      this.config.tokenTimeoutMs,
      (options.deadlineAtMs ?? Number.POSITIVE_INFINITY) - now,
    );
    const result = await waitAtMost(this.startRefresh(), Math.max(0, waitMs), options.signal);
    if (result === timedOut) throw this.unavailable('Timed out waiting for a Maia access token');
    return result.accessToken;
  }

  /**
   * Called with the token a 401 rejected. Drops it only if it is still the current one (a concurrent
   * caller may already have replaced it), here and in Redis.
   */
  async invalidate(rejectedToken: string): Promise<void> {
    this.rememberRejected(rejectedToken);
    const held = this.current;
    if (!held || held.accessToken !== rejectedToken) return;
    this.current = null;
    this.logger.warn('Maia rejected the access token (401): dropping it and refreshing once');
    if (held.sealed && this.redis.available) {
      await this.redis.deleteIfEquals(this.tokenKey, held.sealed).catch(() => undefined);
    }
  }

  private isUsable(token: SharedToken, now: number): boolean {
    // Keep a margin before the real expiry, so a token is never sent just as it lapses.
    const marginMs = Math.min(5_000, (token.expiresAtMs - token.refreshAtMs) / 2);
    return now < token.expiresAtMs - marginMs && !this.rejected.includes(token.accessToken);
  }

  private startRefresh(): Promise<HeldToken> {
    if (!this.refreshing) {
      this.refreshing = this.refresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async refresh(): Promise<HeldToken> {
    if (!this.config.clientId || !this.config.clientSecret || !this.sealer) {
      throw new GatewayError(ErrorCode.UPSTREAM_AUTH_FAILED, 'Maia credentials are not configured');
    }
    if (this.redis.available) {
      try {
        const shared = await this.refreshShared();
        if (shared) return this.adopt(shared);
      } catch (error) {
        if (error instanceof GatewayError) throw error;
        // Redis failed mid-way: carry on alone rather than fail the caller.
        this.logger.warn('Redis unavailable while sharing the Maia token: refreshing locally');
      }
    }
    return this.adopt(await this.fetchToken());
  }

  /**
   * The fleet-wide path: adopt a fresh shared token, or win the lock and fetch one, or wait for the
   * winner. Returns null when Redis is of no help (then the caller fetches locally).
   */
  private async refreshShared(): Promise<HeldToken | null> {
    // A shared token past its refresh point but still usable: returned if the refresher takes too long.
    const seen: { usable?: HeldToken } = {};
    const freshShared = async (): Promise<HeldToken | undefined> => {
      const shared = await this.readShared();
      if (shared && Date.now() < shared.refreshAtMs) return shared;
      if (shared) seen.usable = shared;
      await this.throwIfPaused();
      return undefined;
    };
    const fresh = await freshShared();
    if (fresh) return fresh;
    const outcome = await this.flights.run<HeldToken>({
      lockKey: this.lockKey,
      lockTtlMs: this.config.tokenTimeoutMs + 1_000,
      waitMs: this.config.tokenTimeoutMs,
      pollMs: sharedPollMs,
      lookup: freshShared,
      work: () => this.fetchAndShare(),
      // Waiters fail with the refresher's error instead of asking the endpoint again at once.
      failureOf: (error) =>
        error instanceof GatewayError
          ? JSON.stringify({ code: error.code, message: error.message })
          : undefined,
    });
    switch (outcome.kind) {
      case 'worked':
      case 'found':
        return outcome.value;
      case 'failed': {
        const { code, message } = JSON.parse(outcome.failure) as { code: ErrorCode; message: string };
        throw new GatewayError(code, message);
      }
      case 'busy':
        if (seen.usable && this.isUsable(seen.usable, Date.now())) return seen.usable;
        throw this.unavailable('Timed out waiting for another replica to refresh the Maia access token');
      case 'unavailable':
        return null;
    }
  }

  /** Under the lock: one request to the endpoint, and its token sealed in Redis for the other replicas. */
  private async fetchAndShare(): Promise<HeldToken> {
    const token = await this.fetchToken();
    const ttlMs = token.expiresAtMs - Date.now();
    if (ttlMs > 0) {
      token.sealed = this.sealer?.seal(token, this.tokenKey) ?? null;
      // Unshared, the token still serves this replica; the others fetch their own.
      if (token.sealed) await this.redis.set(this.tokenKey, token.sealed, { ttlMs }).catch(() => false);
    }
    return token;
  }

  private async readShared(): Promise<HeldToken | null> {
    const sealed = await this.redis.get(this.tokenKey);
    if (!sealed || !this.sealer) return null;
    const token = this.sealer.open(sealed, this.tokenKey);
    if (!token || !this.isUsable(token, Date.now())) return null;
    return { ...token, sealed };
  }

  /** A pause another replica (or this one) set after the endpoint failed or refused the credentials. */
  private async throwIfPaused(): Promise<void> {
    const [kind, ttlMs] = await Promise.all([
      this.redis.get(this.pauseKey),
      this.redis.remainingTtlMs(this.pauseKey),
    ]);
    if (!kind || ttlMs <= 0) return;
    const error =
      kind === 'rejected'
        ? this.rejectedError()
        : this.unavailable('The Maia token endpoint is unavailable; it will be asked again shortly');
    this.block(error, ttlMs);
    throw error;
  }

  private adopt(token: HeldToken): HeldToken {
    this.current = token;
    this.blockedUntilMs = 0;
    this.blockedReason = null;
    return token;
  }

  /** One request to the token endpoint. Never logs or echoes the secret or the token. */
  private async fetchToken(): Promise<HeldToken> {
    const { clientId, clientSecret, audience, tokenUrl } = this.config;
    const requestedAtMs = Date.now();
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId ?? '',
      client_secret: clientSecret ?? '',
      audience,
    });
    let status: number;
    let text: string;
    let retryAfterHeader: unknown;
    try {
      const response = await this.http.axiosRef.request<string>({
        url: tokenUrl,
        method: 'POST',
        data: form.toString(),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        timeout: this.config.tokenTimeoutMs,
        responseType: 'text',
        transformResponse: [(data: unknown) => data],
        validateStatus: () => true,
        maxContentLength: tokenBodyLimitBytes,
        maxRedirects: 0,
      });
      status = response.status;
      text = typeof response.data === 'string' ? response.data : '';
      retryAfterHeader = (response.headers as Record<string, unknown>)['retry-after'];
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.logger.warn(
        `Maia token endpoint unreachable (${typeof code === 'string' ? code : 'network error'})`,
      );
      throw this.pause(this.unavailable('The Maia token endpoint is unavailable'));
    }

    if (status >= 200 && status < 300) {
      const token = this.readTokenAnswer(text, requestedAtMs);
      if (!token) {
        this.logger.warn('Maia token endpoint sent an answer without a usable access token');
        throw this.pause(this.unavailable('The Maia token endpoint sent an unreadable answer'));
      }
      this.logger.debug(
        `Maia access token obtained, valid for ${Math.round((token.expiresAtMs - requestedAtMs) / 1000)} s`,
      );
      return token;
    }
    if (this.isRejection(status, text)) {
      this.logger.error(`Maia token endpoint rejected the client credentials (status ${status})`);
      throw this.pause(this.rejectedError(), this.config.tokenRejectedRetryIntervalMs, 'rejected');
    }
    this.logger.warn(`Maia token endpoint failed (status ${status})`);
    const retryAfterMs = status === 429 ? (parseRetryAfterMs(retryAfterHeader) ?? 0) : 0;
    throw this.pause(
      this.unavailable('The Maia token endpoint is unavailable'),
      Math.max(this.config.tokenRetryIntervalMs, retryAfterMs),
    );
  }

  private readTokenAnswer(text: string, requestedAtMs: number): HeldToken | null {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return null;
    }
    if (typeof body !== 'object' || body === null) return null;
    const { access_token: accessToken, expires_in: expiresIn } = body as Record<string, unknown>;
    if (typeof accessToken !== 'string' || accessToken === '') return null;
    const seconds = typeof expiresIn === 'string' ? Number(expiresIn) : expiresIn;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) return null;
    const lifetimeMs = seconds * 1000;
    const skewMs = Math.min(60_000, lifetimeMs / 10);
    const expiresAtMs = requestedAtMs + lifetimeMs;
    return { accessToken, expiresAtMs, refreshAtMs: expiresAtMs - skewMs, sealed: null };
  }

  /** Auth0-style refusals: 401/403, or a 400 whose `error` names the client or the grant. */
  private isRejection(status: number, text: string): boolean {
    if (status === 401 || status === 403) return true;
    if (status !== 400) return false;
    try {
      const error = (JSON.parse(text) as { error?: unknown }).error;
      return typeof error === 'string' && /client|grant|denied|unauthori[sz]ed|invalid_request/i.test(error);
    } catch {
      return false;
    }
  }

  /** Records a failure: no new attempt before `intervalMs`, here and (best effort) on every replica. */
  private pause(
    error: GatewayError,
    intervalMs: number = this.config.tokenRetryIntervalMs,
    kind: 'unavailable' | 'rejected' = 'unavailable',
  ): GatewayError {
    this.block(error, intervalMs);
    if (intervalMs > 0 && this.redis.available) {
      this.redis.set(this.pauseKey, kind, { ttlMs: intervalMs }).catch(() => undefined);
    }
    return error;
  }

  private block(error: GatewayError, intervalMs: number): void {
    this.blockedUntilMs = Date.now() + intervalMs;
    this.blockedReason = { code: error.code, message: error.message };
  }

  private rememberRejected(token: string): void {
    if (this.rejected.includes(token)) return;
    this.rejected.push(token);
    if (this.rejected.length > rejectedMemory) this.rejected.shift();
  }

  private unavailable(message: string): GatewayError {
    return new GatewayError(ErrorCode.UPSTREAM_AUTH_UNAVAILABLE, message);
  }

  private rejectedError(): GatewayError {
    return new GatewayError(ErrorCode.UPSTREAM_AUTH_FAILED, 'Maia rejected the gateway credentials');
  }
}
