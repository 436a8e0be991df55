import { Controller, Get, Inject, NotFoundException, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/public.decorator';
import { PublicOperation } from '../common/http/rest-operation.decorator';
import { APP_CONFIG, type AppConfig } from '../config';
import { MetricsService } from './metrics.service';

/** Prometheus scrape endpoint. Public (no auth, no rate limit): keep it off the public ingress. */
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  @PublicOperation('getMetrics', 'Prometheus metrics (404 when METRICS_ENABLED is off)')
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    if (!this.config.observability.metricsEnabled) throw new NotFoundException();
    const { contentType, body } = await this.metrics.exposition();
    await reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  }
}
