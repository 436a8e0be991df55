import { DynamicModule, Module } from '@nestjs/common';
import { CacheModule } from './cache/cache.module';
import { AuthModule } from './auth/auth.module';
import { ConfigModule, type AppConfig } from './config';
import { EnvironmentsModule } from './environments/environments.module';
import { WatchModule } from './watch/watch.module';
import { ExecutionsModule } from './executions/executions.module';
import { GatewayGraphqlModule } from './graphql/gateway-graphql.module';
import { MaiaModule } from './maia/maia.module';
import { PipelinesModule } from './pipelines/pipelines.module';
import { ProjectsModule } from './projects/projects.module';
import { HealthModule } from './health/health.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { RedisModule } from './redis/redis.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        RedisModule,
        AuthModule,
        MaiaModule,
        CacheModule,
        GatewayGraphqlModule.forRoot(config),
        ProjectsModule,
        EnvironmentsModule,
        PipelinesModule,
        WatchModule,
        ExecutionsModule,
        LoggingModule.forRoot(config),
        LifecycleModule,
        MetricsModule,
        HealthModule,
      ],
    };
  }
}
