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
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address !== null ? address.port : config.server.port;
  const host =
    config.server.host === '0.0.0.0' || config.server.host === '::' ? 'localhost' : config.server.host;
  logger.log(`maia-gateway (${config.server.mode} mode) listening on http://${host}:${port}`);
  // Plain stdout, whatever the log level: what a person (or a test harness) reads to know where to click.
  console.log(banner(config, `http://${host}:${port}`));
}

const explorerNames: Record<AppConfig['server']['graphqlExplorer'], string> = {
  graphiql: '   (open it in a browser: GraphiQL, served by the gateway)',
  'apollo-sandbox': '   (open it in a browser: Apollo Sandbox, loaded from Apollo: needs internet)',
  off: '',
};

function banner(config: AppConfig, base: string): string {
  const lines = [`maia-gateway (${config.server.mode} mode) listening on ${base}`];
  lines.push(`  GraphQL:  ${base}/graphql${explorerNames[config.server.graphqlExplorer]}`);
  if (config.server.runConsole) lines.push(`  Run console: ${base}/console`);
  lines.push(`  REST:     ${base}/api/v1/projects`);
  lines.push(`  GraphQL subscriptions (graphql-ws): ${base.replace(/^http/, 'ws')}/graphql`);
  lines.push(`  OpenAPI:  ${base}/api/docs-json   (Swagger UI: ${base}/api/docs; committed as openapi.json)`);
  lines.push(`  Health:   ${base}/health/ready   Metrics: ${base}/metrics`);
  if (config.server.mode === 'sandbox') {
    lines.push(`  Maia emulator (sandbox): ${config.maia.baseUrl}`);
    lines.push('  Try:');
    lines.push(`    curl -s ${base}/api/v1/projects`);
    lines.push(
      `    curl -s ${base}/graphql -H 'content-type: application/json' -d '{"query":"{ projects { total results { id name } } }"}'`,
    );
  }
  return lines.join('\n');
}

void main();
