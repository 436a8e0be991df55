import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { setupOpenApi } from './common/http/openapi';
import { ProblemJsonExceptionFilter } from './common/http/problem-json.filter';
import { answerClientError } from './common/http/client-error';
import { installConnectionLimit } from './common/http/connection-limit';
import { installStaleWarning } from './common/http/stale-warning';
import { installRequestContext } from './common/request-context';
import { GatewayValidationPipe } from './common/validation';
import { GRAPHQL_PATH } from './graphql/gateway-graphql.module';
import { installUiPages } from './ui/ui-pages';
import { type AppConfig } from './config';
import { installUpgradeClientIp } from './auth/client-ip';
import { installGracefulShutdown } from './lifecycle/graceful-shutdown';
import { installRequestLogging, PINO } from './logging/logging.module';
import { PinoNestLogger } from './logging/pino-nest.logger';
import { MetricsService } from './metrics/metrics.service';

/**
 * Builds the gateway application for a validated configuration. Shared by `main.ts` and the end-to-end
 * suites, so tests run exactly what production runs.
 */
export async function createGateway(config: AppConfig): Promise<NestFastifyApplication> {
  const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = config.server.http;
  const adapter = new FastifyAdapter({
    bodyLimit: config.server.bodyLimitBytes,
    trustProxy: config.server.trustProxy,
    // Node's HTTP server enforces these for every request it parses, so they hold on every path: Fastify's
    // routes, the hot-read front before them, and WebSocket upgrades. Fastify's defaults (0) mean none.
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: keepAliveTimeoutMs,
    // A timed-out or malformed request is answered with problem+json and its code, like any other error.
    clientErrorHandler: answerClientError,
    http: {
      headersTimeout: headersTimeoutMs,
      // Node checks the two timeouts above on this interval (30 s by default, far past a short timeout).
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeoutMs / 4))),
    },
  });
  // Before Nest registers any route, so every request (GraphQL's included) has its RequestContext.
  installRequestContext(adapter.getInstance());
  installStaleWarning(adapter.getInstance());
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    bufferLogs: true, // until pino takes over, just below
    logger: config.server.logLevel === 'silent' ? false : undefined,
  });
  app.useLogger(app.get(PinoNestLogger));
  // WebSocket upgrades bypass Fastify's request: give them the client IP by the same proxy rules.
  installUpgradeClientIp(app.getHttpServer(), config.server.trustProxy);
  app.get(MetricsService).setConnectionLimitSource(
    installConnectionLimit(app.getHttpServer(), {
      perIp: config.server.connectionLimitPerIp,
      trustProxy: config.server.trustProxy,
    }),
  );
  installRequestLogging(adapter.getInstance(), app.get(PINO), config);
  // Instead of enableShutdownHooks(): drain first (readiness, in-flight requests), then Nest's hooks.
  installGracefulShutdown(app, config);
  // One validation pipe and one error filter for every REST route and GraphQL argument.
  app.useGlobalPipes(new GatewayValidationPipe());
  app.useGlobalFilters(new ProblemJsonExceptionFilter());
  setupOpenApi(app);
  // Prebuilt pages (dist/ui): GraphiQL at /graphql for a browser (unless another explorer or none is chosen),
  // the run console at /console (unless RUN_CONSOLE=false).
  installUiPages(
    adapter.getInstance(),
    { explorer: config.server.graphqlExplorer, runConsole: config.server.runConsole },
    GRAPHQL_PATH,
  );
  return app;
}
