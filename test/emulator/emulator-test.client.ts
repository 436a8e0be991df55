import type { RunningEmulator } from '../../src/emulator/emulator';
import { eventually } from '../support/eventually';

/** A tiny fetch wrapper for the emulator suites: real HTTP, JSON in and out, no retries. */

export interface HttpResult {
  status: number;
  headers: Headers;
  contentType: string;
  /** Parsed JSON when the body is JSON, the raw text otherwise, undefined when empty. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests assert the shape themselves
}

export const seedIds = {
  analytics: '4a8a6162-702b-4efc-b2ec-c986e0bc95e4',
  marketing: '9b6a1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
  testProject: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  sharedSandboxA: 'c0ffee00-1111-4222-8333-444455556666',
  sharedSandboxB: 'c0ffee00-7777-4888-9999-aaaabbbbcccc',
  devAgent: '5f0c1a2b-0001-4000-8000-000000000001',
  prodAgent: '5f0c1a2b-0002-4000-8000-000000000002',
  lockedAgent: '5f0c1a2b-0003-4000-8000-000000000003',
  historyOrdersProd: '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b',
  historyCustomersProd: '1f2e3d4c-5b6a-4798-8a9b-2c3d4e5f6a7b',
  historyMyPipeline: '2a3b4c5d-6e7f-4a8b-9c0d-3e4f5a6b7c8d',
  historyForbidden: '3b4c5d6e-7f80-4a91-8b2c-4d5e6f7a8b9c',
  nightlySchedule: '7d3e2f10-aaaa-4bbb-8ccc-ddddeeeeffff',
} as const;

export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export async function request(
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: unknown;
    form?: Record<string, string>;
  } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  } else if (init.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  }
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body });
  const text = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    headers: res.headers,
    contentType,
    body: text === '' ? undefined : contentType.includes('json') ? JSON.parse(text) : text,
  };
}

export class EmulatorTestClient {
  constructor(readonly emulator: RunningEmulator) {}

  tokenRequest(form: Record<string, string>): Promise<HttpResult> {
    return request(`${this.emulator.url}/oauth/dpc/token`, { method: 'POST', form });
  }

  /** A fresh bearer token for a seed client (default: the sandbox client). */
  async token(clientId = this.emulator.clientId, clientSecret = this.emulator.clientSecret): Promise<string> {
    const res = await this.tokenRequest({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      audience: 'https://api.matillion.com',
    });
    if (res.status !== 200) throw new Error(`token request failed with ${res.status}`);
    return res.body.access_token as string;
  }

  /** A Maia API call: `path` is relative to `${url}/dpc`, e.g. `/v1/projects`. */
  api(
    method: string,
    path: string,
    options: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<HttpResult> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    return request(`${this.emulator.url}/dpc${path}`, { method, headers, body: options.body });
  }

  control(method: string, path: string, body?: unknown): Promise<HttpResult> {
    return request(`${this.emulator.url}/__emulator/${path}`, { method, body });
  }

  async reset(): Promise<void> {
    const res = await this.control('POST', 'reset');
    if (res.status !== 204) throw new Error(`reset failed with ${res.status}`);
  }

  /** Executes a pipeline and returns its id (fails the test on anything but 201). */
  async execute(token: string, projectId: string, body: Record<string, unknown>): Promise<string> {
    const res = await this.api('POST', `/v1/projects/${projectId}/pipeline-executions`, { token, body });
    if (res.status !== 201) throw new Error(`execute answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body.pipelineExecutionId as string;
  }

  /** Polls the light status until `done(status)` or the timeout. */
  async waitForStatus(
    token: string,
    projectId: string,
    executionId: string,
    done: (status: string) => boolean,
    timeoutMs = 5000,
  ): Promise<string> {
    return eventually(
      async () => {
        const res = await this.api(
          'GET',
          `/v1/projects/${projectId}/pipeline-executions/${executionId}/status`,
          { token },
        );
        if (res.status !== 200) throw new Error(`status poll answered ${res.status}`);
        const status = res.body.status as string;
        if (!done(status)) throw new Error(`execution still ${status}`);
        return status;
      },
      { timeoutMs },
    );
  }
}
