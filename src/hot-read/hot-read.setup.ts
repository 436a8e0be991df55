import type { INestApplication } from '@nestjs/common';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import type { FastifyInstance } from 'fastify';
import { AuthGate } from '../auth/auth-gate.service';
import { AuthService } from '../auth/auth.service';
import { CacheService } from '../cache/cache.service';
import type { AppConfig } from '../config';
import { MetricsService } from '../metrics/metrics.service';
import { HotReadCache } from './hot-read-cache';

/**
 * Wires the hot-read cache (see hot-read-cache.ts) into `createGateway`: its hooks go on the Fastify
 * instance before Nest registers any route, and it learns the auth, rate-limit, schema and invalidation
 * services once the application exists. Until `attach`, every request takes the normal path.
 */
export function installHotReads(
  fastify: FastifyInstance,
  config: AppConfig,
): { attach(app: INestApplication): void } {
  const cache = new HotReadCache({ ttlMs: config.cache.hotReadTtlMs });
  cache.install(fastify);
  return {
    attach(app) {
      if (!cache.enabled) return;
      const auth = app.get(AuthService, { strict: false });
      const gate = app.get(AuthGate, { strict: false });
      const schemaHost = app.get(GraphQLSchemaHost, { strict: false });
      cache.attach({
        authenticate: (headers) => auth.authenticate(headers),
        charge: (principal, ip) => gate.charge(principal, ip),
        schema: () => {
          try {
            return schemaHost.schema;
          } catch {
            return undefined; // not built yet: the normal path serves
          }
        },
      });
      app.get(CacheService, { strict: false }).onInvalidated(() => cache.clear());
      app.get(MetricsService, { strict: false }).setHotReadSource(() => cache.stats());
    },
  };
}
