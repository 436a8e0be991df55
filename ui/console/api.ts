import { createClient, type Client } from 'graphql-ws/client';

/** A failure as the gateway reported it: its stable code and its message (never a stack or a secret). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type CredentialKind = 'api-key' | 'bearer';
export interface Credential {
  kind: CredentialKind;
  value: string;
}

const STORAGE_KEY = 'maia-console.credential';
const ENDPOINT = '/graphql';

/** The credential lives in sessionStorage only: it ends with the tab, and no other page of the origin reads it. */
export function loadCredential(): Credential | null {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Credential | null;
    return stored && (stored.kind === 'api-key' || stored.kind === 'bearer') && stored.value ? stored : null;
  } catch {
    return null;
  }
}

export function saveCredential(credential: Credential | null): void {
  if (credential) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credential));
  else sessionStorage.removeItem(STORAGE_KEY);
  resetSocket();
}

function credentialHeaders(): Record<string, string> {
  const credential = loadCredential();
  if (!credential) return {};
  return credential.kind === 'api-key'
    ? { 'x-api-key': credential.value }
    : { authorization: `Bearer ${credential.value}` };
}

interface GraphqlError {
  message: string;
  extensions?: { code?: string };
}

function errorOf(errors: readonly GraphqlError[]): ApiError {
  const first = errors[0];
  return new ApiError(first?.extensions?.code ?? 'INTERNAL', first?.message ?? 'Unknown error');
}

/** One query or mutation over HTTP; any GraphQL error rejects with its code and message. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(ENDPOINT, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...credentialHeaders() },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('NETWORK', 'The gateway could not be reached');
  }
  let body: { data?: T; errors?: GraphqlError[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new ApiError('UPSTREAM_BAD_RESPONSE', `The gateway answered ${response.status} without JSON`);
  }
  if (body.errors?.length) throw errorOf(body.errors);
  if (!body.data) throw new ApiError('INTERNAL', `The gateway answered ${response.status} without data`);
  return body.data;
}

let socket: Client | null = null;

function resetSocket(): void {
  void socket?.dispose();
  socket = null;
}

function client(): Client {
  socket ??= createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${ENDPOINT}`,
    // Read at each (re)connection: a new key takes effect without a reload.
    connectionParams: () => credentialHeaders(),
    lazy: true,
    retryAttempts: 5,
  });
  return socket;
}

/** A subscription over graphql-ws; returns its stop function. Errors end it and reach `onError`. */
export function subscribe<T>(
  query: string,
  variables: Record<string, unknown>,
  onData: (data: T) => void,
  onError: (error: ApiError) => void,
): () => void {
  return client().subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) onError(errorOf(result.errors));
        else if (result.data) onData(result.data);
      },
      error: (error: unknown) => {
        if (Array.isArray(error)) onError(errorOf(error as GraphqlError[]));
        else if (error instanceof CloseEvent)
          onError(
            new ApiError(
              error.code === 4403 ? 'UNAUTHENTICATED' : 'NETWORK',
              error.reason || 'The live connection closed',
            ),
          );
        else onError(new ApiError('NETWORK', 'The live connection failed'));
      },
      complete: () => undefined,
    },
  );
}

/** A new idempotency key for one user action (a retried click replays instead of starting twice). */
export function newIdempotencyKey(): string {
  return `console-${crypto.randomUUID()}`;
}
