import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { eventually } from '../../support/eventually';

/** Starts a run directly on the emulator (not through a gateway), so no gateway watches it from launch. */
export async function startRunOnEmulator(
  emulatorUrl: string,
  credentials: { clientId: string; clientSecret: string },
  projectId: string,
  pipelineName: string,
  environmentName = 'Dev',
): Promise<string> {
  const tokenResponse = await fetch(`${emulatorUrl}/oauth/dpc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
      audience: 'https://api.matillion.com',
    }),
  });
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
  const response = await fetch(`${emulatorUrl}/dpc/v1/projects/${projectId}/pipeline-executions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pipelineName, environmentName }),
  });
  if (response.status !== 201)
    throw new Error(`execute answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { pipelineExecutionId: string }).pipelineExecutionId;
}

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export interface SseConnection {
  status: Promise<number>;
  headers: Promise<IncomingMessage['headers']>;
  events: SseEvent[];
  /** Comment lines (`: keep-alive`) and `retry:` values seen. */
  comments: string[];
  retries: number[];
  /** Resolves when the server ends the response (or the connection closes). */
  ended: Promise<void>;
  /** The whole body when the answer is not an event stream (e.g. problem+json). */
  body(): string;
  close(): void;
}

/** A minimal SSE client over node:http (EventSource semantics: `id`, `event`, `data`, `retry`, comments). */
export function openSse(url: string, headers: Record<string, string> = {}): SseConnection {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  let raw = '';
  let buffer = '';
  let resolveStatus!: (status: number) => void;
  let resolveHeaders!: (headers: IncomingMessage['headers']) => void;
  let resolveEnded!: () => void;
  const status = new Promise<number>((r) => (resolveStatus = r));
  const responseHeaders = new Promise<IncomingMessage['headers']>((r) => (resolveHeaders = r));
  const ended = new Promise<void>((r) => (resolveEnded = r));
  const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
    resolveStatus(res.statusCode ?? 0);
    resolveHeaders(res.headers);
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      raw += chunk;
      buffer += chunk;
      let split: number;
      while ((split = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, split);
        buffer = buffer.slice(split + 2);
        const event: SseEvent = { event: 'message', data: '' };
        let hasData = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments.push(line.slice(1).trim());
          else if (line.startsWith('retry:')) retries.push(Number(line.slice(6).trim()));
          else if (line.startsWith('id:')) event.id = line.slice(3).trim();
          else if (line.startsWith('event:')) event.event = line.slice(6).trim();
          else if (line.startsWith('data:')) {
            event.data += (hasData ? '\n' : '') + line.slice(5).trim();
            hasData = true;
          }
        }
        if (hasData) events.push(event);
      }
    });
    res.on('end', () => resolveEnded());
    res.on('close', () => resolveEnded());
  });
  req.on('error', () => {
    resolveStatus(0);
    resolveEnded();
  });
  req.end();
  return {
    status,
    headers: responseHeaders,
    events,
    comments,
    retries,
    ended,
    body: () => raw,
    close: () => req.destroy(),
  };
}

export interface GqlResult {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export interface GqlSubscription {
  results: GqlResult[];
  /** Resolves when the server completes the operation; rejects on a socket-level error. */
  done: Promise<void>;
  unsubscribe(): void;
}

/** The official graphql-ws client, with `ws` as its WebSocket implementation. */
export function wsClient(
  gatewayUrl: string,
  options: { connectionParams?: Record<string, unknown> } = {},
): Client {
  return createClient({
    url: `${gatewayUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    // A socket that dies with its server is an expected outcome in these suites; subscriptions report it.
    onNonLazyError: () => undefined,
    connectionParams: options.connectionParams,
  });
}

export function subscribe(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
): GqlSubscription {
  const results: GqlResult[] = [];
  let unsubscribe: () => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    unsubscribe = client.subscribe(
      { query, variables },
      {
        next: (result) => results.push(result as GqlResult),
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => resolve(),
      },
    );
  });
  return { results, done, unsubscribe: () => unsubscribe() };
}

export const EXECUTION_UPDATED = `subscription Watch($projectId: ID!, $executionId: ID!, $after: String) {
  pipelineExecutionUpdated(projectId: $projectId, executionId: $executionId, after: $after) {
    cursor at kind execution { id projectId status isTerminal message finishedAt }
  }
}`;

export const PROJECT_EVENTS = `subscription Feed($projectId: ID!, $filter: PipelineExecutionFilter) {
  pipelineExecutionEvents(projectId: $projectId, filter: $filter) {
    cursor kind execution { id status pipelineName environmentName }
  }
}`;

/** `eventually` with the suites' longer default and a message that says what was awaited. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  await eventually(
    async () => {
      if (!(await check())) throw new Error(`${what} not met within ${timeoutMs} ms`);
    },
    { timeoutMs, intervalMs: 20 },
  );
}
