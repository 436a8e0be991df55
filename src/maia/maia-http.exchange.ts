import { type HttpModuleOptions } from '@nestjs/axios';
import axios, {
  type AxiosAdapter,
  type AxiosInstance,
  type AxiosRequestConfig,
  type AxiosRequestTransformer,
  type InternalAxiosRequestConfig,
} from 'axios';
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { createUndiciAdapter, isUndiciAdapter, type UndiciAxiosAdapter } from './maia-undici.adapter';

// The variables axios reads (through proxy-from-env) to route a request through a proxy.
const proxyVariables = ['http_proxy', 'https_proxy', 'all_proxy'];

/** True when the environment names an HTTP proxy that axios' own adapter would use. */
export function proxyConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return proxyVariables.some((name) => !!(env[name] || env[name.toUpperCase()]));
}

/**
 * What performs the HTTP exchange under Maia's axios instance: the undici adapter (keep-alive pool per
 * origin, closed with the module), or axios' own node http adapter when a proxy variable is set, since
 * only that one honours HTTP(S)_PROXY / ALL_PROXY / NO_PROXY. Why not axios' `fetch` adapter:
 * docs/adr/0010-maia-transport.md (it costs several times the CPU per call).
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

/** What axios' stock defaults send when a caller sets no `Accept` (both Maia callers set their own). */
const stockAccept = 'application/json, text/plain, */*';

/**
 * Takes off Maia's axios instance the defaults every request would merge again to the same result: the
 * per-method header buckets (all empty; only `common.Accept` has a value, kept as one flat header) and
 * the `transitional` options (their values are axios' own fallbacks, which it reads when the option is
 * absent, so without them it validates nothing per call). Axios merges the instance's defaults into every
 * request (`mergeConfig`, then the method buckets are flattened): with these gone a call costs about a
 * quarter less of axios' own time; what goes on the wire and every error code stay the same
 * (`maia-http.exchange.spec.ts` sends the same calls through a stock instance and this one).
 */
export function leanAxiosDefaults(instance: AxiosInstance): void {
  const defaults = instance.defaults as { headers: unknown; transitional?: unknown };
  defaults.headers = { Accept: stockAccept };
  delete defaults.transitional;
}

/** Interceptor functions of the gateway's own that leave every API call as it is (ADR 0047). */
const gatewayHandlers = new WeakSet<object>();

/**
 * Marks an interceptor function as the gateway's own, one that neither changes nor observes an API call
 * (today: `MaiaTokenObserver`'s, which act on token calls only): the direct exchange may skip it. Any
 * interceptor not marked, request or response, sends API calls through axios' pipeline again.
 */
export function gatewayInterceptor<F extends (...args: never[]) => unknown>(handler: F): F {
  gatewayHandlers.add(handler);
  return handler;
}

interface InterceptorEntry {
  fulfilled?: unknown;
  rejected?: unknown;
}

function onlyGatewayInterceptors(handlers: readonly (InterceptorEntry | null)[] | null | undefined): boolean {
  if (!handlers) return true;
  for (const entry of handlers) {
    if (entry === null) continue; // ejected
    if (entry.fulfilled != null && !gatewayHandlers.has(entry.fulfilled)) return false;
    if (entry.rejected != null && !gatewayHandlers.has(entry.rejected)) return false;
  }
  return true;
}

const stockTransformRequest = ([] as AxiosRequestTransformer[]).concat(axios.defaults.transformRequest ?? []);

/**
 * The instance's defaults the direct exchange honours, by name; any other default with a value sends API
 * calls through axios' pipeline. These are either set by every API call (the transport's `exchange`
 * gives each one, so axios' merge never reads the default) or not read by axios for a call with a string
 * body or none, in node (`xsrf*`, `env`).
 */
const defaultsOverriddenPerCall = new Set([
  'timeout',
  'maxContentLength',
  'maxBodyLength',
  'maxRedirects',
  'validateStatus',
  'transformResponse',
  'responseType',
  'xsrfCookieName',
  'xsrfHeaderName',
  'env',
]);

/**
 * True while the instance's defaults are ones a direct exchange honours: what `leanAxiosDefaults` left
 * (one flat `Accept`, which every API call sets itself; no `transitional`), the undici adapter, no proxy,
 * axios' own request transformer (for a JSON string body it returns the string as it is), and nothing
 * else but the defaults every call overrides.
 */
function defaultsHonoured(defaults: Record<string, unknown>): boolean {
  for (const name in defaults) {
    const value = defaults[name];
    if (value === undefined || defaultsOverriddenPerCall.has(name)) continue;
    switch (name) {
      case 'adapter':
        if (!isUndiciAdapter(value)) return false;
        break;
      case 'proxy':
        if (value !== false) return false;
        break;
      case 'headers':
        if (typeof value !== 'object' || value === null) return false;
        for (const header in value) if (header.toLowerCase() !== 'accept') return false;
        break;
      case 'transformRequest': {
        const list = value as unknown[];
        if (!Array.isArray(list) || list.length !== stockTransformRequest.length) return false;
        for (let i = 0; i < list.length; i += 1) if (list[i] !== stockTransformRequest[i]) return false;
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

/**
 * The adapter an API call may be handed to directly, skipping axios' request pipeline (ADR 0047), or null
 * when the pipeline must run: checked on every call, so an interceptor added or a default changed at any
 * time takes effect from the next call. The direct path is taken only while it is unobservable: the
 * instance's adapter is the undici adapter, its only interceptors are the gateway's own
 * (`gatewayInterceptor`), and its defaults are ones the direct path honours (`defaultsHonoured`).
 */
export function directAdapter(instance: AxiosInstance): AxiosAdapter | null {
  const defaults = instance.defaults as unknown as Record<string, unknown>;
  const adapter = defaults.adapter;
  if (!isUndiciAdapter(adapter)) return null;
  const { request, response } = instance.interceptors;
  if (!onlyGatewayInterceptors(request.handlers) || !onlyGatewayInterceptors(response.handlers)) return null;
  return defaultsHonoured(defaults) ? adapter : null;
}

const methodsWithForm = new Set(['post', 'put', 'patch']);

/**
 * The config axios' pipeline would hand the adapter for an API call, under the defaults the direct path
 * honours. `config` must give every option of `defaultsOverriddenPerCall` it relies on, a `method`, an
 * absolute `url` (no `baseURL`, no `params`), `data` as a string or nothing, no `signal` default, and
 * `headers` as a plain object of strings that sets `Accept`. What axios would add: the lower-case method,
 * and for a POST, PUT or PATCH without `Content-Type` the form type its dispatch sets.
 */
export function directConfig(config: AxiosRequestConfig): InternalAxiosRequestConfig {
  const method = (config.method ?? 'get').toLowerCase();
  let headers = config.headers as Record<string, string>;
  if (methodsWithForm.has(method) && !hasHeader(headers, 'content-type')) {
    headers = { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' };
  }
  return { ...config, method, headers } as unknown as InternalAxiosRequestConfig;
}

function hasHeader(headers: Record<string, string>, lowerName: string): boolean {
  for (const name in headers) if (name.toLowerCase() === lowerName) return true;
  return false;
}
