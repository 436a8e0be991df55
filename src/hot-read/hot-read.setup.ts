import type { INestApplication } from '@nestjs/common';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Logger as Pino } from 'pino';
import { AuthGate } from '../auth/auth-gate.service';
import { AuthService } from '../auth/auth.service';
import { rawClientIp } from '../auth/client-ip';
import { CacheService } from '../cache/cache.service';
import type { AppConfig } from '../config';
import { PINO, requestCompletionLogger } from '../logging/logging.module';
import { httpMetricLabels } from '../metrics/http-metrics.hook';
import { MetricsService } from '../metrics/metrics.service';
import { HotReadCache } from './hot-read-cache';

export interface HotReads {
  /** For `FastifyAdapter`'s options: the server whose handler answers hot reads (undefined when off). */
  serverFactory: FastifyServerOptions['serverFactory'];
  /** Fastify's side (body replay, keeping answers): on the instance before Nest registers any route. */
  install(fastify: FastifyInstance): void;
  /** Once the application exists: auth, rate limits, schema, invalidation, metrics and logs. */
  attach(app: INestApplication): void;
}

/**
 * Wires the hot-read cache (see hot-read-cache.ts) into `createGateway`. Until `attach`, every request
 * takes the normal path.
 */
export function hotReads(config: AppConfig): HotReads {
  const cache = new HotReadCache({ ttlMs: config.cache.hotReadTtlMs });
  return {
    serverFactory: cache.serverFactory(),
    install: (fastify) => cache.install(fastify),
    attach(app) {
      if (!cache.enabled) return;
      const auth = app.get(AuthService, { strict: false });
      const gate = app.get(AuthGate, { strict: false });
      const schemaHost = app.get(GraphQLSchemaHost, { strict: false });
      const metrics = app.get(MetricsService, { strict: false });
      const clientIp = rawClientIp(config.server.trustProxy);
      const log = requestCompletionLogger(app.get<Pino>(PINO, { strict: false }), config);
      cache.attach({
        authenticateNow: (headers) => auth.authenticateNow(headers),
        authenticate: (headers) => auth.authenticate(headers),
        charge: (principal, request) =>
          gate.limiting ? gate.charge(principal, clientIp(request)) : undefined,
        schema: () => {
          try {
            return schemaHost.schema;
          } catch {
            return undefined; // not built yet: the normal path serves
          }
        },
        labelsOf: httpMetricLabels,
        served(hit) {
          metrics.recordHttpRequest(
            hit.labels.transport,
            hit.labels.route,
            hit.method,
            hit.statusCode,
            hit.elapsedMs,
          );
          log(hit);
        },
      });
      app.get(CacheService, { strict: false }).onInvalidated(() => cache.clear());
      metrics.setHotReadSource(() => cache.stats());
    },
  };
}
