import { HttpModule } from '@nestjs/axios';
import { Global, Module } from '@nestjs/common';
import { MaiaHttpObserver } from './maia-http.observer';
import { MaiaClient } from './maia.client';
import { MaiaTokenService } from './maia-token.service';
import { MaiaTransport } from './maia-transport';
import { MAIA_API } from './maia.types';

/**
 * The gateway's only door to Maia. Global: every service injects `MAIA_API` (the `MaiaApi` interface)
 * and nothing else of this module. Needs `APP_CONFIG` (ConfigModule) and `RedisService` (RedisModule).
 */
@Global()
@Module({
  // A dedicated axios instance, created per application (registerAsync runs its factory per container;
  // register() would create one at import time, shared by every app of the process, tests included).
  // Interceptors added to another instance never see Maia's tokens.
  imports: [HttpModule.registerAsync({ useFactory: () => ({}) })],
  providers: [
    MaiaTokenService,
    MaiaTransport,
    MaiaClient,
    { provide: MAIA_API, useExisting: MaiaClient },
    // Metrics per attempt and the request id sent to Maia, through interceptors on this module's axios.
    MaiaHttpObserver,
  ],
  exports: [MAIA_API],
})
export class MaiaModule {}
