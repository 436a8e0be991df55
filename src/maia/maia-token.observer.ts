import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, type OnModuleInit, Optional } from '@nestjs/common';
import type { AxiosError, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { APP_CONFIG, type AppConfig } from '../config';
import { gatewayInterceptor } from './maia-http.exchange';
import { UPSTREAM_OBSERVER, type UpstreamCallObservation, type UpstreamObserver } from './maia-observer';

const startedAt = Symbol('maiaTokenRequestStartedAtMs');
type TimedConfig = InternalAxiosRequestConfig & { [startedAt]?: number };

/**
 * Reports token endpoint calls (as the `token` endpoint, and as refresh outcomes) to the metrics. The
 * token service sends them through the Maia module's axios without a route name, so they are recognised
 * here by their URL, which is configuration; API calls are reported by the transport itself.
 */
@Injectable()
export class MaiaTokenObserver implements OnModuleInit {
  private readonly tokenUrl: string;

  constructor(
    private readonly http: HttpService,
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() @Inject(UPSTREAM_OBSERVER) private readonly observer?: UpstreamObserver,
  ) {
    this.tokenUrl = config.maia.tokenUrl;
  }

  onModuleInit(): void {
    const observer = this.observer;
    if (!observer) return;
    const isToken = (config: InternalAxiosRequestConfig) => config.url === this.tokenUrl;
    const record = (config: TimedConfig, status: UpstreamCallObservation['status']) => {
      const durationMs = Date.now() - (config[startedAt] ?? Date.now());
      observer.upstreamCall({ endpoint: 'token', status, durationMs });
      observer.tokenRefresh(typeof status === 'number' && status < 300 ? 'success' : 'failure');
    };
    // Marked as the gateway's own: they leave API calls alone, so those may skip axios' pipeline (ADR 0047).
    const interceptors = this.http.axiosRef.interceptors;
    interceptors.request.use(
      gatewayInterceptor((config: TimedConfig) => {
        config[startedAt] = Date.now();
        return config;
      }),
      null,
      { runWhen: isToken },
    );
    interceptors.response.use(
      gatewayInterceptor((response: AxiosResponse) => {
        if (isToken(response.config)) record(response.config, response.status);
        return response;
      }),
      gatewayInterceptor((error: AxiosError) => {
        if (error.config && isToken(error.config)) record(error.config, failureKind(error));
        return Promise.reject(error);
      }),
    );
  }
}

function failureKind(error: AxiosError): 'timeout' | 'network_error' | 'aborted' {
  if (error.code === 'ERR_CANCELED') return 'aborted';
  return error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT' ? 'timeout' : 'network_error';
}
