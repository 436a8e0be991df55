import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, type OnModuleInit, Optional } from '@nestjs/common';
import type { AxiosError, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { RequestContext, REQUEST_ID_HEADER } from '../common/request-context';
import { APP_CONFIG, type AppConfig } from '../config';
import { maiaEndpointName } from './maia-endpoint';
import { UPSTREAM_OBSERVER, type UpstreamCallObservation, type UpstreamObserver } from './maia-observer';

const startedAt = Symbol('maiaAttemptStartedAtMs');
type TimedConfig = InternalAxiosRequestConfig & { [startedAt]?: number };

/**
 * Watches every attempt the Maia client sends, through interceptors on the Maia module's own axios
 * instance (this provider is declared in `MaiaModule`, so it gets that instance and no other):
 * - reports each attempt (endpoint name, status or failure kind, duration), token fetches and 429s to
 *   the `UPSTREAM_OBSERVER` (the metrics service);
 * - sends the serving request's id as `x-request-id` when the caller did not set one, so Maia's logs and
 *   ours can be joined.
 */
@Injectable()
export class MaiaHttpObserver implements OnModuleInit {
  private readonly baseUrl: string;
  private readonly tokenUrl: string;

  constructor(
    private readonly http: HttpService,
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() @Inject(UPSTREAM_OBSERVER) private readonly observer?: UpstreamObserver,
  ) {
    this.baseUrl = config.maia.baseUrl.replace(/\/+$/, '');
    this.tokenUrl = config.maia.tokenUrl;
  }

  onModuleInit(): void {
    const axios = this.http.axiosRef;
    axios.interceptors.request.use((config: TimedConfig) => {
      config[startedAt] = Date.now();
      const url = config.url ?? '';
      if (url !== this.tokenUrl && config.headers.get(REQUEST_ID_HEADER) == null) {
        const requestId = RequestContext.current()?.requestId;
        if (requestId) config.headers.set(REQUEST_ID_HEADER, requestId);
      }
      return config;
    });
    axios.interceptors.response.use(
      (response: AxiosResponse) => {
        this.record(response.config as TimedConfig, response.status);
        return response;
      },
      (error: AxiosError) => {
        if (error.config) this.record(error.config as TimedConfig, failureKind(error));
        return Promise.reject(error);
      },
    );
  }

  private record(config: TimedConfig, status: UpstreamCallObservation['status']): void {
    if (!this.observer) return;
    const url = config.url ?? '';
    const isToken = url === this.tokenUrl;
    const endpoint = isToken
      ? 'token'
      : url.startsWith(this.baseUrl)
        ? maiaEndpointName(config.method ?? 'GET', url.slice(this.baseUrl.length))
        : 'other';
    const durationMs = Date.now() - (config[startedAt] ?? Date.now());
    this.observer.upstreamCall({ endpoint, status, durationMs });
    if (isToken)
      this.observer.tokenRefresh(typeof status === 'number' && status < 300 ? 'success' : 'failure');
    else if (status === 429) this.observer.rateLimitCooldown();
  }
}

function failureKind(error: AxiosError): 'timeout' | 'network_error' | 'aborted' {
  if (error.code === 'ERR_CANCELED') return 'aborted';
  return error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT' ? 'timeout' : 'network_error';
}
