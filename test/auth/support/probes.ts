import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

/** What one call answered, whatever the transport: enough to compare with an expected outcome. */
export interface Outcome {
  /** HTTP status, or for graphql-ws the close code when the socket was closed. */
  status: number;
  /** `OK`, or the shared error code (`extensions.code`, problem+json `code`), or `CLOSED` for sockets. */
  code: string;
  message?: string;
  /** Everything the caller received, for scanning. */
  body: string;
}

export async function graphqlCall(
  url: string,
  headers: Record<string, string>,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Outcome> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.text();
  const json = JSON.parse(body) as { errors?: { message: string; extensions?: { code?: string } }[] };
  const error = json.errors?.[0];
  return { status: response.status, code: error?.extensions?.code ?? 'OK', message: error?.message, body };
}

export async function restCall(
  url: string,
  headers: Record<string, string>,
  method: string,
  path: string,
  body?: unknown,
): Promise<Outcome> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.ok) return { status: response.status, code: 'OK', body: text };
  return refusal(response.status, text);
}

/** A refused REST/SSE answer (problem+json) as an outcome. */
function refusal(status: number, text: string): Outcome {
  const problem = JSON.parse(text) as { code?: string; detail?: string };
  return { status, code: problem.code ?? `HTTP_${status}`, message: problem.detail, body: text };
}

/** Opens an SSE stream, reads what arrives within `readMs`, then hangs up. */
export async function sseCall(
  url: string,
  headers: Record<string, string>,
  path: string,
  readMs = 300,
): Promise<Outcome> {
  const controller = new AbortController();
  const response = await fetch(`${url}${path}`, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  if (!response.ok) return refusal(response.status, await response.text());
  let body = '';
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  const deadline = Date.now() + readMs;
  try {
    while (reader && Date.now() < deadline) {
      const chunk = await Promise.race([
        reader.read(),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), Math.max(1, deadline - Date.now()))),
      ]);
      if (chunk === null || chunk.done) break;
      body += decoder.decode(chunk.value);
    }
  } finally {
    controller.abort();
  }
  const type = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    code: type.startsWith('text/event-stream') ? 'OK' : `TYPE_${type}`,
    body,
  };
}

/**
 * Subscribes over graphql-ws with the official client and reports the first thing that happens: an event
 * (`OK`), an error message (its code), the socket closing (`CLOSED`, status = close code), or nothing
 * within `quietMs` (`QUIET`).
 */
export async function wsCall(
  url: string,
  connectionParams: Record<string, unknown>,
  query: string,
  variables: Record<string, unknown> = {},
  quietMs = 1_500,
): Promise<Outcome> {
  const wsUrl = `${url.replace(/^http/, 'ws')}/graphql`;
  let closeCode = 0;
  let closeReason = '';
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
    on: {
      closed: (event) => {
        const e = event as { code?: number; reason?: string };
        closeCode = e.code ?? 0;
        closeReason = e.reason ?? '';
      },
    },
  });
  try {
    return await new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => resolve({ status: 0, code: 'QUIET', body: '' }), quietMs);
      const done = (outcome: Outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      client.subscribe(
        { query, variables },
        {
          next: (value) => {
            const errors = (value as { errors?: { message: string; extensions?: { code?: string } }[] })
              .errors;
            const body = JSON.stringify(value);
            if (errors?.length)
              done({
                status: 0,
                code: errors[0].extensions?.code ?? 'ERROR',
                message: errors[0].message,
                body,
              });
            else done({ status: 0, code: 'OK', body });
          },
          error: (error: unknown) => {
            if (Array.isArray(error)) {
              const first = error[0] as { message: string; extensions?: { code?: string } };
              done({
                status: 0,
                code: first.extensions?.code ?? 'ERROR',
                message: first.message,
                body: JSON.stringify(error),
              });
            } else {
              // A CloseEvent: the socket was closed on us.
              setTimeout(
                () => done({ status: closeCode, code: 'CLOSED', message: closeReason, body: closeReason }),
                10,
              );
            }
          },
          complete: () => done({ status: 0, code: 'COMPLETE', body: '' }),
        },
      );
    });
  } finally {
    await client.dispose();
  }
}
