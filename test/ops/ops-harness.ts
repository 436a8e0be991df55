import { randomUUID } from 'node:crypto';
import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGateway } from '../../src/bootstrap';
import { loadConfig, type AppConfig } from '../../src/config';

/** Environment of a gateway under test: development mode, quiet, its own Redis key prefix. */
export function opsEnv(
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    GATEWAY_MODE: 'development',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
    MAIA_CLIENT_ID: 'sandbox-client',
    MAIA_CLIENT_SECRET: 'sandbox-secret',
    MAIA_BASE_URL: 'http://127.0.0.1:9/dpc',
    MAIA_TOKEN_URL: 'http://127.0.0.1:9/oauth/dpc/token',
    ...overrides,
  };
}

/** An in-process gateway listening on a random port. */
export async function startInProcessGateway(
  env: Record<string, string | undefined>,
): Promise<{ app: NestFastifyApplication; url: string; config: AppConfig }> {
  const config = loadConfig(env);
  const app = await createGateway(config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { app, url: `http://127.0.0.1:${address.port}`, config };
}
