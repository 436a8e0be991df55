import { HttpService } from '@nestjs/axios';
import { Logger, type LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { ConfigModule, loadConfig } from '../../../src/config';
import { MaiaClient } from '../../../src/maia/maia.client';
import { MaiaModule } from '../../../src/maia/maia.module';
import { MAIA_API, type MaiaApi } from '../../../src/maia/maia.types';
import { UPSTREAM_OBSERVER, type UpstreamObserver } from '../../../src/maia/maia-observer';
import { MaiaTokenService } from '../../../src/maia/maia-token.service';
import { MaiaTransport } from '../../../src/maia/maia.transport';
import { RedisModule } from '../../../src/redis/redis.module';
import { RedisService } from '../../../src/redis/redis.service';
import { type EmulatorFixture } from '../../support/emulator-fixture';
import { eventually } from '../../support/eventually';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Seed ids (src/emulator/seed.json). */
export const seed = {
  analytics: '4a8a6162-702b-4efc-b2ec-c986e0bc95e4',
  marketing: '9b6a1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
  testProject: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  historyRun: '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b',
  orders: 'FOLDER/load_orders.orch.yaml',
  backfill: 'FOLDER/long_backfill.orch.yaml',
  disabled: 'legacy/old_export.orch.yaml',
};

/**
 * Captures every log line (all levels, every argument, deeply inspected), every error a test saw, and
 * every token the token endpoint issued, so a suite can assert that neither the client secret nor any
 * token ever appears in them. One per test file; `install()` in beforeAll.
 */
export class SecretWatch {
  readonly lines: string[] = [];
  readonly errors: string[] = [];
  /** Every access token the token endpoint answered with (seen through an axios interceptor). */
  readonly issuedTokens = new Set<string>();
  readonly secrets = new Set<string>();

  readonly logger: LoggerService = {
    log: (...args: unknown[]) => this.capture('log', args),
    error: (...args: unknown[]) => this.capture('error', args),
    warn: (...args: unknown[]) => this.capture('warn', args),
    debug: (...args: unknown[]) => this.capture('debug', args),
    verbose: (...args: unknown[]) => this.capture('verbose', args),
    fatal: (...args: unknown[]) => this.capture('fatal', args),
  };

  install(): void {
    Logger.overrideLogger(this.logger);
  }

  addSecret(secret: string): void {
    this.secrets.add(secret);
  }

  /** Keeps everything an error exposes: message, details, stack, cause, own properties. */
  recordError(error: unknown): void {
    this.errors.push(inspect(error, { depth: 8, showHidden: true, breakLength: Infinity }));
    if (error instanceof Error) this.errors.push(JSON.stringify({ ...error, message: error.message }));
  }

  /** Runs a call and records the error it threw, if any (rethrown). */
  async observe<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (error) {
      this.recordError(error);
      throw error;
    }
  }

  /** Every captured line and error that contains the secret or an issued token. */
  leaks(): string[] {
    const needles = [...this.secrets, ...this.issuedTokens].filter((s) => s.length > 0);
    return [...this.lines, ...this.errors].filter((text) => needles.some((needle) => text.includes(needle)));
  }

  private capture(level: string, args: unknown[]): void {
    this.lines.push(
      `${level}: ${args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 8 }))).join(' ')}`,
    );
  }
}

export interface SentRequest {
  atMs: number;
  method: string;
  url: string;
  /** The bearer token sent, if any. */
  token: string | null;
  headers: Record<string, string>;
}

export interface IssuedToken {
  token: string;
  /** When the token request was sent (before the emulator started the lifetime). */
  requestedAtMs: number;
  expiresInSeconds: number;
}

export interface MaiaHarness {
  moduleRef: TestingModule;
  api: MaiaApi;
  client: MaiaClient;
  transport: MaiaTransport;
  tokens: MaiaTokenService;
  redis: RedisService;
  /** Every request the client sent (recorded when axios is about to send it). */
  sent: SentRequest[];
  issued: IssuedToken[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
  /** Use the real Redis with this key prefix (share it between harnesses to simulate replicas). */
  redisPrefix?: string;
  watch?: SecretWatch;
  /** Receives what the client reports, as the metrics service does in the gateway. */
  observer?: UpstreamObserver;
}

/** Short timings so the suites stay fast. */
export const fastEnv: Record<string, string> = {
  MAIA_ATTEMPT_TIMEOUT_MS: '1000',
  MAIA_DEADLINE_MS: '4000',
  MAIA_RETRY_BASE_DELAY_MS: '20',
  MAIA_RETRY_MAX_DELAY_MS: '200',
  MAIA_BREAKER_OPEN_MS: '500',
  LOG_LEVEL: 'silent',
  // Not production: no edge credentials are needed to build the Maia module alone.
  GATEWAY_MODE: 'development',
};

/** A MaiaModule in its own Nest testing module, pointed at the emulator; like one gateway replica. */
export async function createMaiaHarness(
  maia: EmulatorFixture,
  options: HarnessOptions = {},
): Promise<MaiaHarness> {
  const env: Record<string, string> = {
    ...maia.gatewayEnv(),
    ...fastEnv,
    REDIS_KEY_PREFIX: options.redisPrefix ?? `test:${randomUUID()}:`,
    ...(options.redisPrefix ? { REDIS_URL } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const observerModule = options.observer && {
    module: class ObserverModule {},
    global: true,
    providers: [{ provide: UPSTREAM_OBSERVER, useValue: options.observer }],
    exports: [UPSTREAM_OBSERVER],
  };
  const builder = Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(config),
      RedisModule,
      MaiaModule,
      ...(observerModule ? [observerModule] : []),
    ],
  });
  if (options.watch) {
    builder.setLogger(options.watch.logger);
    options.watch.addSecret(config.maia.clientSecret ?? '');
  }
  const moduleRef = await builder.compile();
  if (options.watch) Logger.overrideLogger(options.watch.logger);

  const http = moduleRef.get(HttpService, { strict: false });
  const sent: SentRequest[] = [];
  const issued: IssuedToken[] = [];
  const tokenUrl = config.maia.tokenUrl;
  const requestedAt = new WeakMap<object, number>();
  http.axiosRef.interceptors.request.use((request) => {
    const atMs = Date.now();
    requestedAt.set(request, atMs);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers.toJSON()))
      headers[name.toLowerCase()] = String(value);
    const authorization = headers.authorization;
    sent.push({
      atMs,
      method: (request.method ?? 'get').toUpperCase(),
      url: request.url ?? '',
      token: authorization?.startsWith('Bearer ') ? authorization.slice(7) : null,
      headers,
    });
    return request;
  });
  http.axiosRef.interceptors.response.use((response) => {
    if (response.config.url === tokenUrl && typeof response.data === 'string') {
      try {
        const body = JSON.parse(response.data) as { access_token?: unknown; expires_in?: unknown };
        if (typeof body.access_token === 'string') {
          options.watch?.issuedTokens.add(body.access_token);
          issued.push({
            token: body.access_token,
            requestedAtMs: requestedAt.get(response.config) ?? Date.now(),
            expiresInSeconds: Number(body.expires_in),
          });
        }
      } catch {
        // not JSON: nothing issued
      }
    }
    return response;
  });

  await moduleRef.init();
  return {
    moduleRef,
    api: moduleRef.get<MaiaApi>(MAIA_API),
    client: moduleRef.get(MaiaClient),
    transport: moduleRef.get(MaiaTransport),
    tokens: moduleRef.get(MaiaTokenService),
    redis: moduleRef.get(RedisService),
    sent,
    issued,
    close: () => moduleRef.close(),
  };
}

/** The requests sent to API routes (not the token endpoint). */
export function apiRequests(harness: MaiaHarness): SentRequest[] {
  return harness.sent.filter((r) => r.url.includes('/dpc/v1/'));
}

/** The GatewayError a promise rejects with (fails the test when it resolves). */
export async function failureOf(
  promise: Promise<unknown>,
): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { code?: string; message: string; details?: Record<string, unknown> };
    return { code: e.code ?? 'not-a-gateway-error', message: e.message, details: e.details ?? {} };
  }
  throw new Error('expected the call to fail, it succeeded');
}

/** The pause between calls of a traffic generator: it sets the call rate and waits for nothing. */
export function pace(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once the clock reaches `atMs`: for tests whose condition is a point in a token's lifetime. */
export async function clockReaches(atMs: number): Promise<void> {
  await eventually(() => Date.now() >= atMs, { timeoutMs: Math.max(0, atMs - Date.now()) + 1_000 });
}

/** What a Maia client suite shares: one emulator, the secret watch, and harnesses closed after each test. */
export interface MaiaSuite {
  /** The emulator (set once `beforeAll` has run). */
  readonly maia: EmulatorFixture;
  readonly watch: SecretWatch;
  /** A harness closed after the test; with `warm`, its token is fetched first so only the calls under test count. */
  harness(options?: HarnessOptions & { warm?: boolean }): Promise<MaiaHarness>;
}

/**
 * Registers the lifecycle every Maia client suite repeats: the secret watch installed, one fast emulator
 * with no rate limit, a reset before each test, every harness closed after it, the emulator closed last.
 */
export function useMaiaSuite(): MaiaSuite {
  const watch = new SecretWatch();
  const harnesses: MaiaHarness[] = [];
  let maia: EmulatorFixture | undefined;

  beforeAll(async () => {
    watch.install();
    // Imported here so the harness module stays usable without an emulator (unit-style suites).
    const { startEmulatorFixture } = await import('../../support/emulator-fixture');
    maia = await startEmulatorFixture({ timeScale: 0.02, rateLimitPerMinute: 1_000_000 });
  });
  beforeEach(async () => {
    await maia?.reset();
  });
  afterEach(async () => {
    await Promise.all(harnesses.splice(0).map((h) => h.close()));
  });
  afterAll(async () => {
    await maia?.close();
  });

  return {
    get maia(): EmulatorFixture {
      if (!maia) throw new Error('the emulator starts in beforeAll');
      return maia;
    },
    watch,
    async harness(options = {}) {
      const { warm, ...rest } = options;
      const h = await createMaiaHarness(this.maia, { watch, ...rest });
      harnesses.push(h);
      if (warm) await h.api.listEnvironments(seed.analytics);
      return h;
    },
  };
}
