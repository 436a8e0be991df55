import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { Public } from '../auth/public.decorator';
import { PublicOperation } from '../common/http/rest-operation.decorator';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import { MaiaHealthIndicator } from './maia-health.indicator';
import { RedisHealthIndicator } from './redis-health.indicator';

export type ReadinessBody = Omit<HealthCheckResult, 'status'> & { status: 'ok' | 'degraded' | 'error' };

/**
 * Kubernetes-style probes. Public: no authentication, no rate limit.
 *
 * - `GET /health/live`: the process answers; nothing else is checked (a dependency outage must never
 *   restart the gateway).
 * - `GET /health/ready`: 503 while starting and from the first moment of shutdown, else 200. Redis and
 *   Maia are reported in the body (`degraded` when failing) but do not fail it.
 */
@Public() // probes carry no credentials; no rate limit either (the auth gate is skipped)
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly lifecycle: LifecycleService,
    private readonly redis: RedisHealthIndicator,
    private readonly maia: MaiaHealthIndicator,
  ) {}

  @Get('live')
  @PublicOperation('getLiveness', 'Liveness probe: the process answers')
  live(): { status: 'ok'; uptimeSeconds: number } {
    return { status: 'ok', uptimeSeconds: Math.round(process.uptime()) };
  }

  @Get('ready')
  @PublicOperation(
    'getReadiness',
    'Readiness probe: 503 while starting or draining; dependencies in the body',
  )
  @HealthCheck()
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<ReadinessBody> {
    try {
      const result = await this.health.check([
        () => this.lifecycleCheck(),
        () => this.redis.check(),
        () => this.maia.check(),
      ]);
      return { ...result, status: isDegraded(result) ? 'degraded' : 'ok' };
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      // The terminus body as it is (which check failed, the phase), not a problem+json: probes and
      // operators read it. Set here rather than thrown, so no exception filter rewrites it.
      void reply.status(503);
      return { ...(error.getResponse() as HealthCheckResult), status: 'error' };
    }
  }

  private lifecycleCheck() {
    const session = this.indicators.check('lifecycle');
    const phase = this.lifecycle.phase;
    return this.lifecycle.isReady ? session.up({ phase }) : session.down({ phase });
  }
}

function isDegraded(result: HealthCheckResult): boolean {
  return Object.values(result.details).some((detail) => detail['state'] === 'degraded');
}
