import axios, { type AxiosAdapter, type AxiosInstance } from 'axios';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Agent, fetch as undiciFetch, Request, Response } from 'undici';
import { pinProcess, tasksetAvailable } from './lib/child-process';
import { ROOT } from './lib/repo';
import { round } from './lib/stats';
import { startEmulatorProcess } from './lib/stack';

/**
 * Maia's axios on three exchanges, same run, same emulator (a child process on its own core):
 * - `undici-adapter`: the gateway's own axios adapter over `undici.Pool` (src/maia/maia-undici.adapter.ts,
 *   loaded compiled from dist/, so the figures are those of the shipped code);
 * - `fetch+agent`: axios' built-in `fetch` adapter on undici's `fetch` with a keep-alive `Agent`;
 * - `fetch+global`: the same adapter on Node's own `fetch` and global dispatcher.
 * Each round sends `--calls` GETs per variant with `--concurrency` in flight, the order rotating between
 * rounds, and reports this process's CPU per call (user + system) and calls per second. The request is
 * the one the transport sends (text body, status never thrown, size cap, timeout, no redirects).
 *
 *   npm run build && npx tsc -p tsconfig.bench.json && node dist/bench/maia-adapter.bench.js
 *   options: --calls 5000 --rounds 5 --concurrency 16 (docs/adr/0010-maia-transport.md has figures)
 */

interface Variant {
  name: string;
  http: AxiosInstance;
  close(): Promise<void>;
}

interface Sample {
  variant: string;
  calls: number;
  cpuMicrosPerCall: number;
  callsPerSecond: number;
}

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

/** The part of the compiled adapter module this benchmark uses (it cannot import src/ directly). */
interface UndiciAdapterModule {
  createUndiciAdapter(): { adapter: AxiosAdapter; close(): Promise<void> };
}

function undiciAdapterVariant(): Variant {
  const compiled = resolve(ROOT, 'dist', 'maia', 'maia-undici.adapter.js');
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run npm run build`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- compiled gateway code, outside bench/
  const { createUndiciAdapter } = require(compiled) as UndiciAdapterModule;
  const exchange = createUndiciAdapter();
  return {
    name: 'undici-adapter',
    http: axios.create({ adapter: exchange.adapter, proxy: false }),
    close: () => exchange.close(),
  };
}

function fetchAgentVariant(): Variant {
  const agent = new Agent({ keepAliveTimeout: 4_000 });
  const fetch = (input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
    undiciFetch(input, { ...init, dispatcher: agent });
  return {
    name: 'fetch+agent',
    // undici's own Request and Response: its fetch does not take the global ones as requests.
    // The cast: axios types `env` with the DOM's fetch types, which undici's mirror but do not equal.
    http: axios.create({ adapter: 'fetch', env: { fetch, Request, Response } as never, proxy: false }),
    close: () => agent.close(),
  };
}

function fetchGlobalVariant(): Variant {
  return {
    name: 'fetch+global',
    http: axios.create({ adapter: 'fetch', proxy: false }),
    close: () => Promise.resolve(),
  };
}

async function send(http: AxiosInstance, url: string, token: string): Promise<void> {
  const response = await http.request<string>({
    url,
    method: 'GET',
    headers: {
      Authorization: `Bearer ${token}`,
      Accept: 'application/json',
      'x-request-id': randomUUID(),
    },
    timeout: 5_000,
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    validateStatus: () => true,
    maxContentLength: 10 * 1024 * 1024,
    maxBodyLength: 10 * 1024 * 1024,
    maxRedirects: 0,
  });
  if (response.status !== 200 || typeof response.data !== 'string' || !response.data.startsWith('{')) {
    throw new Error(`unexpected answer ${response.status}`);
  }
}

async function measure(variant: Variant, calls: number, concurrency: number, url: string, token: string) {
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const startedAt = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < calls) {
        next += 1;
        await send(variant.http, url, token);
      }
    }),
  );
  const elapsedSeconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    variant: variant.name,
    calls,
    cpuMicrosPerCall: (cpu.user + cpu.system) / calls,
    callsPerSecond: calls / elapsedSeconds,
  } satisfies Sample;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function main(): Promise<void> {
  const calls = option('calls', 5_000);
  const rounds = option('rounds', 5);
  const concurrency = option('concurrency', 16);
  const pinned = tasksetAvailable();
  if (pinned) pinProcess(process.pid, 1);
  const emulator = await startEmulatorProcess({
    pinned,
    server: null,
    loadGenerator: pinned ? 1 : null,
    emulator: pinned ? 0 : null,
    note: '',
  });
  const variants = [undiciAdapterVariant(), fetchAgentVariant(), fetchGlobalVariant()];
  try {
    const token = await emulator.client.bearer();
    const url = `${emulator.client.apiBaseUrl}/v1/projects?page=0&size=25`;
    for (const variant of variants) await measure(variant, Math.min(calls, 1_000), concurrency, url, token);
    const samples: Sample[] = [];
    for (let round_ = 0; round_ < rounds; round_++) {
      // Rotate who goes first, so a drift of the machine weighs on every variant alike.
      const shift = round_ % variants.length;
      const order = [...variants.slice(shift), ...variants.slice(0, shift)];
      for (const variant of order) {
        const sample = await measure(variant, calls, concurrency, url, token);
        samples.push(sample);
        console.log(
          `round ${round_ + 1} ${sample.variant.padEnd(15)} ${round(sample.cpuMicrosPerCall, 1)} µs CPU/call  ${round(sample.callsPerSecond, 0)} calls/s`,
        );
      }
    }
    const summary = variants.map((variant) => {
      const own = samples.filter((sample) => sample.variant === variant.name);
      return {
        variant: variant.name,
        cpuMicrosPerCall: median(own.map((sample) => sample.cpuMicrosPerCall)),
        callsPerSecond: median(own.map((sample) => sample.callsPerSecond)),
      };
    });
    const baseline = summary[0];
    console.log(`\nmedians over ${rounds} rounds of ${calls} calls, ${concurrency} in flight:`);
    for (const row of summary) {
      const cpuRatio = round(row.cpuMicrosPerCall / baseline.cpuMicrosPerCall, 2);
      const rateRatio = round(row.callsPerSecond / baseline.callsPerSecond, 2);
      console.log(
        `  ${row.variant.padEnd(15)} ${round(row.cpuMicrosPerCall, 1)} µs CPU/call (×${cpuRatio})  ${round(row.callsPerSecond, 0)} calls/s (×${rateRatio})`,
      );
    }
  } finally {
    await Promise.all(variants.map((variant) => variant.close()));
    await emulator.server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
