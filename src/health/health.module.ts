import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DependencySourcesService } from './dependency-sources.service';
import { HealthController } from './health.controller';
import { MaiaHealthIndicator } from './maia-health.indicator';
import { RedisHealthIndicator } from './redis-health.indicator';

@Module({
  // A failed readiness is expected during every rollout: no error log per probe.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [RedisHealthIndicator, MaiaHealthIndicator, DependencySourcesService],
  exports: [MaiaHealthIndicator],
})
export class HealthModule {}
