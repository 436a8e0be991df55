import { Global, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { MetricsController } from './metrics.controller';
import { installHttpMetrics } from './http-metrics.hook';
import { MetricsService } from './metrics.service';
import { UPSTREAM_OBSERVER } from '../maia/maia-observer';

/**
 * Prometheus metrics at /metrics. Global, so the Maia client can take `UPSTREAM_OBSERVER` without
 * importing this module.
 */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, { provide: UPSTREAM_OBSERVER, useExisting: MetricsService }],
  exports: [MetricsService, UPSTREAM_OBSERVER],
})
export class MetricsModule implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    // Hooks must be added before Fastify is ready; Nest readies it in listen(), after every init hook.
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify && typeof fastify.addHook === 'function') installHttpMetrics(fastify, this.metrics);
  }
}
