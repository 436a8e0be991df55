import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { type AppConfig } from './config';

/**
 * Builds the gateway application for a validated configuration. Shared by `main.ts` and the end-to-end
 * suites, so tests run exactly what production runs.
 */
export async function createGateway(config: AppConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: config.server.bodyLimitBytes, trustProxy: true });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    bufferLogs: false,
    logger: config.server.logLevel === 'silent' ? false : undefined,
  });
  app.enableShutdownHooks();
  return app;
}
