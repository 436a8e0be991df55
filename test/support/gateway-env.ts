import { randomUUID } from 'node:crypto';

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
 * same `REDIS_KEY_PREFIX` for replicas that must share state). A module of its own so that suites running
 * gateway processes do not load the whole gateway into the jest worker.
 */
export function gatewayEnv(maia: MaiaTarget, overrides: GatewayEnv = {}): GatewayEnv {
  return {
    GATEWAY_MODE: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    // No load balancer to wait for when a suite stops its gateways; the shutdown suites set their own.
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
    MAIA_BASE_URL: `${maia.url}/dpc`,
    MAIA_TOKEN_URL: `${maia.url}/oauth/dpc/token`,
    MAIA_CLIENT_ID: maia.clientId,
    MAIA_CLIENT_SECRET: maia.clientSecret,
    ...overrides,
  };
}
