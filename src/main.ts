// First: starts OpenTelemetry before anything loads `http` (a no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set).
import './tracing/register';
import { Logger } from '@nestjs/common';
import { createGateway } from './bootstrap';
import { ConfigError, loadConfig, type AppConfig } from './config';

/**
 * Sandbox mode (no Maia credentials): start the built-in emulator in this process and point the Maia
 * client at it. This is the only place the gateway touches the emulator, through its bootstrap function.
 */
async function withSandbox(config: AppConfig): Promise<AppConfig> {
  if (config.server.mode !== 'sandbox' || config.maia.clientId) return config;
  const { startEmulator } = await import('./emulator/emulator');
  const emulator = await startEmulator({
    host: '127.0.0.1',
    port: config.sandbox.emulatorPort,
    timeScale: config.sandbox.timeScale,
    quiet: true,
  });
  return {
    ...config,
    maia: {
      ...config.maia,
      baseUrl: `${emulator.url}/dpc`,
      tokenUrl: `${emulator.url}/oauth/dpc/token`,
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
    },
  };
}

async function main(): Promise<void> {
  const logger = new Logger('maia-gateway');
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  config = await withSandbox(config);
  const app = await createGateway(config);
  await app.listen(config.server.port, config.server.host);
  const base = `http://${config.server.host === '0.0.0.0' ? 'localhost' : config.server.host}:${config.server.port}`;
  logger.log(`maia-gateway (${config.server.mode} mode) listening on ${base}`);
  if (config.server.mode === 'sandbox') {
    logger.log(`Maia emulator: ${config.maia.baseUrl}`);
  }
}

void main();
