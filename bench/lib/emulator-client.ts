import { send } from './http-load';

/** The emulator's control API and the few Maia calls the benchmarks make directly (no gateway between). */

export interface Counters {
  total: number;
  routes: Record<string, { total: number; byStatus: Record<string, number> }>;
}

export class EmulatorClient {
  private token: string | null = null;

  constructor(
    /** e.g. http://127.0.0.1:41234 */
    readonly url: string,
    readonly clientId: string,
    readonly clientSecret: string,
  ) {}

  get apiBaseUrl(): string {
    return `${this.url}/dpc`;
  }

  get tokenUrl(): string {
    return `${this.url}/oauth/dpc/token`;
  }

  private async control(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown) {
    const answer = await send({
      url: `${this.url}/__emulator/${path}`,
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (answer.status >= 300)
      throw new Error(`emulator ${method} ${path} answered ${answer.status}: ${answer.body}`);
    return answer.body === '' ? undefined : (JSON.parse(answer.body) as unknown);
  }

  async counters(): Promise<Counters> {
    return (await this.control('GET', 'counters')) as Counters;
  }

  async count(route: string): Promise<number> {
    return (await this.counters()).routes[route]?.total ?? 0;
  }

  async resetCounters(): Promise<void> {
    await this.control('DELETE', 'counters');
  }

  async patchConfig(patch: { timeScale?: number; rateLimitPerMinute?: number }): Promise<void> {
    await this.control('PATCH', 'config', patch);
  }

  /** A bearer token of the seed client, fetched once. */
  async bearer(): Promise<string> {
    if (this.token) return this.token;
    const answer = await send({
      url: this.tokenUrl,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.clientId,
        client_secret: this.clientSecret,
        audience: 'https://api.matillion.com',
      }).toString(),
    });
    if (answer.status !== 200) throw new Error(`emulator token answered ${answer.status}: ${answer.body}`);
    this.token = (JSON.parse(answer.body) as { access_token: string }).access_token;
    return this.token;
  }

  /** Starts a run straight at the emulator (the gateway learns of it only through its subscribers). */
  async execute(projectId: string, pipelineName: string, environmentName: string): Promise<string> {
    const answer = await send({
      url: `${this.apiBaseUrl}/v1/projects/${projectId}/pipeline-executions`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await this.bearer()}` },
      body: JSON.stringify({ pipelineName, environmentName }),
    });
    if (answer.status >= 300) throw new Error(`emulator execute answered ${answer.status}: ${answer.body}`);
    return (JSON.parse(answer.body) as { pipelineExecutionId: string }).pipelineExecutionId;
  }

  /** Cancels a run straight at the emulator (`force`: it ends at once, CANCELLED). */
  async cancel(projectId: string, executionId: string, force: boolean): Promise<void> {
    const answer = await send({
      url: `${this.apiBaseUrl}/v1/projects/${projectId}/pipeline-executions/${executionId}`,
      method: 'PATCH',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await this.bearer()}` },
      body: JSON.stringify({ status: 'CANCELLED', forceUpdate: force }),
    });
    if (answer.status >= 300) throw new Error(`emulator cancel answered ${answer.status}: ${answer.body}`);
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    return send({
      url: `${this.apiBaseUrl}${path}`,
      headers: { authorization: `Bearer ${await this.bearer()}` },
    });
  }
}
