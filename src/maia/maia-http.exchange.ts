import { type HttpModuleOptions } from '@nestjs/axios';
import { type AxiosInstance } from 'axios';
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { createUndiciAdapter, type UndiciAxiosAdapter } from './maia-undici.adapter';

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
