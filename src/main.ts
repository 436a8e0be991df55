// First: starts OpenTelemetry before anything loads `http` (a no-op unless OTEL_EXPORTER_OTLP_ENDPOINT is set).
import './tracing/register';
import { Logger } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createGateway } from './bootstrap';
import { ConfigError, loadConfig, type AppConfig } from './config';
import { listenProblem, probeListen } from './lifecycle/listen-problem';
import { PINO } from './logging/logging.module';
import type { Logger as PinoLogger } from 'pino';

/** The exit status of a start refused for a setting (sysexits' EX_CONFIG), as for an invalid configuration. */
const EX_CONFIG = 78;

/** A setting that stops the start: one line on stderr naming it (no stack trace), then exit. */
function refuseStart(line: string): never {
  console.error(line);
  process.exit(EX_CONFIG);
}

interface Sandboxed {
  config: AppConfig;
  /** The in-process emulator's root (it answers there with its entry points), in sandbox mode only. */
  emulatorUrl?: string;
}

/**
 * Sandbox mode (no Maia credentials): start the built-in emulator in this process and point the Maia
 * client at it. This is the only place the gateway touches the emulator, through its bootstrap function.
 */
async function withSandbox(config: AppConfig): Promise<Sandboxed> {
  if (config.server.mode !== 'sandbox' || config.maia.clientId) return { config };
  const { startEmulator } = await import('./emulator/emulator');
  const host = '127.0.0.1';
  const port = config.sandbox.emulatorPort;
  const emulator = await startEmulator({
    host,
    port,
    timeScale: config.sandbox.timeScale,
    quiet: true,
  }).catch((error: unknown) => {
    const problem = listenProblem(error, 'SANDBOX_EMULATOR_PORT', host, port);
    if (problem) refuseStart(problem);
    throw error;
  });
  return {
    emulatorUrl: emulator.url,
    config: {
      ...config,
      maia: {
        ...config.maia,
        baseUrl: `${emulator.url}/dpc`,
        tokenUrl: `${emulator.url}/oauth/dpc/token`,
        clientId: emulator.clientId,
        clientSecret: emulator.clientSecret,
      },
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
      process.exit(EX_CONFIG);
    }
    throw error;
  }
  // A busy or forbidden port is said before anything starts (and before Nest says "successfully started").
  const { host: listenHost, port: listenPort } = config.server;
  const busy = await probeListen(listenHost, listenPort);
  const busyProblem = busy && listenProblem(busy, 'PORT', listenHost, listenPort);
  if (busyProblem) refuseStart(busyProblem);
  const sandboxed = await withSandbox(config);
  config = sandboxed.config;
  const app = await createGateway(config);
  await app.listen(listenPort, listenHost).catch((error: unknown) => {
    // Taken between the probe and the listen: the same one line.
    const problem = listenProblem(error, 'PORT', listenHost, listenPort);
    if (problem) refuseStart(problem);
    throw error;
  });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address !== null ? address.port : listenPort;
  const host = listenHost === '0.0.0.0' || listenHost === '::' ? 'localhost' : listenHost;
  logger.log(`maia-gateway (${config.server.mode} mode) listening on http://${host}:${port}`);
  // JSON lines are written once per turn of the event loop (or per 10 ms under load): the start-up's lines
  // go out first, so the banner stays the last thing printed at start.
  app.get<PinoLogger>(PINO).flush();
  // Plain stdout, whatever the log level: what a person (or a test harness) reads to know where to click.
  console.log(banner(config, `http://${host}:${port}`, sandboxed.emulatorUrl));
}

const explorerNames: Record<AppConfig['server']['graphqlExplorer'], string> = {
  graphiql: '   (open it in a browser: GraphiQL, served by the gateway)',
  'apollo-sandbox': '   (open it in a browser: Apollo Sandbox, loaded from Apollo: needs internet)',
  off: '',
};

/** The run console's page, when it is built (`scripts/build-ui.mjs` writes `dist/ui/console/`). */
function consoleBuilt(): boolean {
  return existsSync(join(__dirname, 'ui', 'console', 'index.html'));
}

/** Where to click: every address the README promises, each answering (`test/ops/start-banner.e2e-spec.ts`). */
function banner(config: AppConfig, base: string, emulatorUrl: string | undefined): string {
  const lines = [`maia-gateway (${config.server.mode} mode) listening on ${base}`];
  lines.push(`  GraphQL:  ${base}/graphql${explorerNames[config.server.graphqlExplorer]}`);
  if (config.server.runConsole && consoleBuilt()) lines.push(`  Run console: ${base}/console`);
  lines.push(`  REST:     ${base}/api/v1/projects`);
  lines.push(`  GraphQL subscriptions (graphql-ws): ${base.replace(/^http/, 'ws')}/graphql`);
  lines.push(`  OpenAPI:  ${base}/api/docs-json   (Swagger UI: ${base}/api/docs; committed as openapi.json)`);
  lines.push(
    `  Health:   ${base}/health/ready   (liveness: ${base}/health/live)` +
      (config.observability.metricsEnabled ? `   Metrics: ${base}/metrics` : ''),
  );
  if (emulatorUrl !== undefined) {
    lines.push(
      `  Maia emulator (sandbox): ${emulatorUrl}/   (Maia's API under /dpc, its control API under /__emulator)`,
    );
    lines.push('  Try:');
    lines.push(`    curl -s ${base}/api/v1/projects`);
    lines.push(
      `    curl -s ${base}/graphql -H 'content-type: application/json' -d '{"query":"{ projects { total results { id name } } }"}'`,
    );
  }
  return lines.join('\n');
}

void main();
