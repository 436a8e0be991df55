import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CacheModule } from './cache/cache.module';
import { JsonBodyGuard } from './common/http/json-body.guard';
import { AuthGuard } from './auth/auth.guard';
import { AuthModule } from './auth/auth.module';
import { PROJECT_DIRECTORY } from './auth/project-directory';
import { ConfigModule, type AppConfig } from './config';
import { EnvironmentsModule } from './environments/environments.module';
import { WatchModule } from './watch/watch.module';
import { ExecutionsModule } from './executions/executions.module';
import { GatewayGraphqlModule } from './graphql/gateway-graphql.module';
import { MaiaModule } from './maia/maia.module';
import { NodeModule } from './graphql/node/node.module';
import { PipelinesModule } from './pipelines/pipelines.module';
import { HotReadModule } from './hot-read/hot-read.module';
import { EdgeReadsModule } from './common/http/edge-reads.module';
import { ProjectsModule } from './projects/projects.module';
import { ProjectsService } from './projects/projects.service';
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
        NodeModule,
        LoggingModule.forRoot(config),
        LifecycleModule,
        MetricsModule,
        HealthModule,
        EdgeReadsModule,
        HotReadModule,
      ],
      providers: [
        // The guard of every REST route and GraphQL operation. Here, where the projects are known: a
        // project missing from the directory answers like one the caller may not see.
        { provide: PROJECT_DIRECTORY, useExisting: ProjectsService },
        { provide: APP_GUARD, useClass: AuthGuard },
        // A REST body must be JSON: 415 otherwise, after the caller's refusals and before validation.
        { provide: APP_GUARD, useClass: JsonBodyGuard },
      ],
    };
  }
}
