import { randomUUID } from 'node:crypto';
import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGateway } from '../../src/bootstrap';
import { loadConfig, type AppConfig } from '../../src/config';

export type GatewayEnv = Record<string, string | undefined>;

/** Where a gateway finds its Maia: an emulator's URL and seed client, or any Maia-compatible server. */
export interface MaiaTarget {
  url: string;
  clientId: string;
  clientSecret: string;
}

/**
 * The environment of a gateway under test against `maia` (e.g. a `RunningEmulator`): development mode,
 * quiet, a random port and its own Redis key prefix (pass `REDIS_URL` in `overrides` to use Redis, and the
 * same `REDIS_KEY_PREFIX` for replicas that must share state).
 */
export function gatewayEnv(maia: MaiaTarget, overrides: GatewayEnv = {}): GatewayEnv {
  return {
    GATEWAY_MODE: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
    MAIA_BASE_URL: `${maia.url}/dpc`,
    MAIA_TOKEN_URL: `${maia.url}/oauth/dpc/token`,
    MAIA_CLIENT_ID: maia.clientId,
    MAIA_CLIENT_SECRET: maia.clientSecret,
    ...overrides,
  };
}

export interface InProcessGateway {
  app: NestFastifyApplication;
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  config: AppConfig;
  close(): Promise<void>;
}

/** A gateway built by `createGateway` (exactly what `main.ts` runs) in this process, on a random port. */
export async function startGateway(env: GatewayEnv): Promise<InProcessGateway> {
  const config = loadConfig(env);
  const app = await createGateway(config);
  await app.listen(config.server.port, config.server.host);
  const address = app.getHttpServer().address();
  if (address === null || typeof address === 'string') throw new Error('the gateway has no TCP address');
  return {
    app,
    url: `http://${config.server.host}:${address.port}`,
    config,
    close: () => app.close(),
  };
}
