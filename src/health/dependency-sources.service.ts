import { Injectable, Logger, Optional, type OnApplicationBootstrap, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { CacheService } from '../cache/cache.service';
import { ExecutionWatchService } from '../watch/execution-watch.service';
import { MaiaTokenService } from '../maia/maia-token.service';
import { MaiaTransport } from '../maia/maia.transport';
import { MetricsService } from '../metrics/metrics.service';
import { MaiaHealthIndicator } from './maia-health.indicator';
import { type MaiaStatusSample } from './dependency-status';

/**
 * Connects readiness and metrics to the parts they report on, read when probed or scraped: the Maia
 * transport (breaker, rate-limit cooldown), the cache's counters and the watcher's activity; what a
 * gateway is assembled without (a unit context) is not reported. The watcher is injected (its module is
 * global); the others are looked up: the health module imports neither the cache's module nor Maia's,
 * and Maia's exports neither its transport nor its token service.
 */
@Injectable()
export class DependencySourcesService implements OnApplicationBootstrap {
  private readonly logger = new Logger(DependencySourcesService.name);

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly metrics: MetricsService,
    private readonly maiaHealth: MaiaHealthIndicator,
    @Optional() private readonly watch?: ExecutionWatchService,
  ) {}

  onApplicationBootstrap(): void {
    const transport = this.find(MaiaTransport);
    if (transport) {
      const tokens = this.find(MaiaTokenService);
      const maiaStatus = (): MaiaStatusSample => {
        const token = tokens?.tokenState();
        return {
          breakerState: transport.breakerFor().state,
          cooldownActive: transport.cooldown.remainingMs() > 0,
          tokenValid: token?.valid,
          tokenFailing: token?.failing,
        };
      };
      this.maiaHealth.setSource(maiaStatus);
      this.metrics.setMaiaSource(() => {
        const { breakerState, cooldownActive } = maiaStatus();
        return { breakerState, cooldownActive: cooldownActive ?? false };
      });
    }
    const cache = this.find(CacheService);
    if (cache) {
      this.metrics.setCacheSource(() =>
        Object.entries(cache.stats()).map(([resource, c]) => ({
          resource,
          hits: c.hits,
          misses: c.misses,
          stale: c.stale,
          staleWhileRevalidate: c.staleWhileRevalidate,
          loadsSaved: c.loadsSaved,
        })),
      );
    }
    const watch = this.watch;
    if (watch) {
      this.metrics.setWatchSource(() => {
        const activity = watch.activity();
        // The leader of an execution polls it and holds its lease: one of each per leadership.
        return {
          subscriptions: activity.byTransport,
          pollers: activity.leaderships,
          leases: activity.leaderships,
        };
      });
    }
  }

  private find<T>(type: Type<T>): T | null {
    try {
      return this.moduleRef.get(type, { strict: false });
    } catch {
      this.logger.debug(`${type.name} is not part of this application: not reported`);
      return null;
    }
  }
}
