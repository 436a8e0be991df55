/** Small fetch helpers for the API suites: real HTTP, JSON in and out, nothing hidden. */

export interface GraphqlResult {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests assert the shape themselves
  data: any;
  errors?: { message: string; path?: string[]; extensions: Record<string, unknown> & { code: string } }[];
  extensions?: Record<string, unknown>;
}

export async function gql(
  baseUrl: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GraphqlResult> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphqlResult, 'status' | 'headers'>;
  return { status: response.status, headers: response.headers, ...body };
}

/** The data of a GraphQL answer that must have no errors (fails with the errors otherwise). */
export async function gqlData(
  baseUrl: string,
  query: string,
  variables?: Record<string, unknown>,
  headers?: Record<string, string>,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
): Promise<any> {
  const result = await gql(baseUrl, query, variables, headers);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data;
}

export interface RestResult {
  status: number;
  headers: Headers;
  contentType: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
  body: any;
}

export async function rest(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; rawBody?: string } = {},
): Promise<RestResult> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  return {
    status: response.status,
    headers: response.headers,
    contentType,
    body: text === '' ? undefined : contentType.includes('json') ? JSON.parse(text) : text,
  };
}

export const seed = {
  analytics: '4a8a6162-702b-4efc-b2ec-c986e0bc95e4',
  marketing: '9b6a1f2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
  testProject: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  sharedSandboxA: 'c0ffee00-1111-4222-8333-444455556666',
  sharedSandboxB: 'c0ffee00-7777-4888-9999-aaaabbbbcccc',
  devAgent: '5f0c1a2b-0001-4000-8000-000000000001',
  lockedAgent: '5f0c1a2b-0003-4000-8000-000000000003',
} as const;

export const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
