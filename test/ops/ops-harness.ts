import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGateway } from '../../src/bootstrap';
import { loadConfig, type AppConfig } from '../../src/config';
import { gatewayEnv, type GatewayEnv } from '../support/gateway-env';

/** Environment of a gateway under test: development mode, quiet, its own Redis key prefix, no Maia. */
export function opsEnv(overrides: GatewayEnv = {}): GatewayEnv {
  return gatewayEnv(NO_MAIA, overrides);
}

/** A port nothing listens on: ops suites test the gateway's own surfaces, not Maia. */
const NO_MAIA = { url: 'http://127.0.0.1:9', clientId: 'sandbox-client', clientSecret: 'sandbox-secret' };

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
