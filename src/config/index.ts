export { APP_CONFIG, ConfigError, loadConfig, type AppConfig } from './app-config';
export { ConfigModule } from './config.module';
export type { GatewayMode, ServerConfig } from './server.config';
export type { MaiaConfig } from './maia.config';
export type { RedisConfig } from './redis.config';
export type { CacheConfig } from './cache.config';
export type { WatchConfig } from './watch.config';
export type { AuthConfig } from './auth.config';
export type { SandboxConfig } from './sandbox.config';
