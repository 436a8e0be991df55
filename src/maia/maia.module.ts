import { HttpModule, type HttpModuleOptions } from '@nestjs/axios';
import { Global, Injectable, Module, type OnModuleDestroy } from '@nestjs/common';
import { MaiaHttpObserver } from './maia-http.observer';
import { MaiaClient } from './maia.client';
import { MaiaTokenService } from './maia-token.service';
import { MaiaTransport } from './maia-transport';
import { createUndiciAdapter, type UndiciAxiosAdapter } from './maia-undici.adapter';
import { MAIA_API } from './maia.types';

// The variables axios reads (through proxy-from-env) to route a request through a proxy.
const proxyVariables = ['http_proxy', 'https_proxy', 'all_proxy'];

/** True when the environment names an HTTP proxy that axios' own adapter would use. */
export function proxyConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return proxyVariables.some((name) => !!(env[name] || env[name.toUpperCase()]));
}

/**
 * The HTTP exchange under Maia's axios instance: undici, one keep-alive pool per origin, closed when
 * the module is destroyed (graceful shutdown has drained the gateway's own requests by then).
 *
 * Axios keeps its own node http adapter, at its CPU cost, when a proxy variable is set: axios honours
 * HTTP(S)_PROXY / ALL_PROXY / NO_PROXY per request, so corporate proxies keep working; the undici adapter
 * has no proxy support. Tracing works on either: the OpenTelemetry undici instrumentation (`src/tracing/`)
 * makes each Maia call a client span under the gateway span and sends `traceparent` to Maia, as the HTTP
 * instrumentation does on axios' own adapter.
 */
@Injectable()
export class MaiaHttpExchange implements OnModuleDestroy {
  private readonly undici: UndiciAxiosAdapter | null = proxyConfigured() ? null : createUndiciAdapter();

  /** Axios options for Maia's instance. */
  axiosOptions(): HttpModuleOptions {
    if (!this.undici) return {};
    // `proxy: false`: no proxy lookup either (there is none to find).
    return { adapter: this.undici.adapter, proxy: false };
  }

  async onModuleDestroy(): Promise<void> {
    await this.undici?.close();
  }
}

/**
 * The gateway's only door to Maia. Global: every service injects `MAIA_API` (the `MaiaApi` interface)
 * and nothing else of this module. Needs `APP_CONFIG` (ConfigModule) and `RedisService` (RedisModule).
 */
@Global()
@Module({
  // A dedicated axios instance, created per application (registerAsync runs its factory per container;
  // register() would create one at import time, shared by every app of the process, tests included).
  // Interceptors added to another instance never see Maia's tokens.
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
    MaiaClient,
    { provide: MAIA_API, useExisting: MaiaClient },
    // Metrics per attempt and the request id sent to Maia, through interceptors on this module's axios.
    MaiaHttpObserver,
  ],
  exports: [MAIA_API],
})
export class MaiaModule {}
