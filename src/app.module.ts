import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, type AppConfig } from './config';
import { RedisModule } from './redis/redis.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), RedisModule],
    };
  }
}
