import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisService } from '../redis/redis.service';

/**
 * Redis as readiness sees it: a PING with a short timeout. Always `up` for terminus: an outage is
 * reported as `state: degraded` (the gateway carries on from memory and Maia) and never fails readiness.
 */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async check() {
    const session = this.indicators.check('redis');
    if (!this.redis.enabled) return session.up({ state: 'disabled' });
    const startedAtMs = Date.now();
    const timeoutMs = this.config.observability.healthRedisTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.redis.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return session.up({ state: 'ok', latencyMs: Date.now() - startedAtMs });
    } catch (error) {
      return session.up({
        state: 'degraded',
        connection: this.redis.connectionStatus,
        // ioredis messages name no host or password ("Connection is closed.", "Command timed out").
        reason: (error as Error).message,
      });
    } finally {
      clearTimeout(timer);
    }
  }
}
