import { HttpModule } from '@nestjs/axios';
import { Global, Module } from '@nestjs/common';
import { ExecuteReconciler } from './maia-execute.reconciler';
import { MaiaHttpExchange } from './maia-http.exchange';
import { MaiaTokenObserver } from './maia-token.observer';
import { MaiaTokenService } from './maia-token.service';
import { MaiaClient } from './maia.client';
import { MaiaTransport } from './maia.transport';
import { MAIA_API } from './maia.types';

/**
 * The gateway's only door to Maia. Global: every service injects `MAIA_API` (the `MaiaApi` interface)
 * and nothing else of this module. Needs `APP_CONFIG` (ConfigModule) and `RedisService` (RedisModule).
 * Layers: `MaiaClient` (typed operations) → `MaiaTransport` (one request: retries, timeouts, breaker,
 * metrics) → axios → `MaiaHttpExchange` (undici; API calls reach it directly while axios' pipeline would
 * change nothing, ADR 0047); `ExecuteReconciler` beside the client.
 */
@Global()
@Module({
  // A dedicated axios instance per application (registerAsync runs its factory per container; register()
  // would share one across every app of the process, tests included), so no other code sees Maia's tokens.
  imports: [
    HttpModule.registerAsync({
      extraProviders: [MaiaHttpExchange],
      inject: [MaiaHttpExchange],
      useFactory: (exchange: MaiaHttpExchange) => exchange.axiosOptions(),
    }),
  ],
  providers: [
    MaiaTokenService,
    MaiaTransport,
    ExecuteReconciler,
    MaiaClient,
    { provide: MAIA_API, useExisting: MaiaClient },
    MaiaTokenObserver,
  ],
  exports: [MAIA_API],
})
export class MaiaModule {}
