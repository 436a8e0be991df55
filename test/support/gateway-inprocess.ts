import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGateway } from '../../src/bootstrap';
import { loadConfig, type AppConfig } from '../../src/config';
import { type GatewayEnv } from './gateway-env';

export { gatewayEnv, type GatewayEnv, type MaiaTarget } from './gateway-env';

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
