import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';

const sandbox = { HOST: '127.0.0.1', PORT: '0', SANDBOX_EMULATOR_PORT: '0', LOG_LEVEL: 'silent' };

async function browserGet(gateway: GatewayProcess, path: string): Promise<Response> {
  return fetch(`${gateway.url}${path}`, { headers: { accept: 'text/html' } });
}

/** What `GRAPHQL_EXPLORER` shows a browser at /graphql, and what the start banner says about it. */
describe('GRAPHQL_EXPLORER', () => {
  const gateways: GatewayProcess[] = [];
  afterAll(() => Promise.all(gateways.map((gateway) => gateway.stop())));

  async function start(explorer: string): Promise<GatewayProcess> {
    const gateway = await startGatewayProcess({ ...sandbox, GRAPHQL_EXPLORER: explorer });
    gateways.push(gateway);
    return gateway;
  }

  it('apollo-sandbox: Apollo Sandbox as before, and no GraphiQL files', async () => {
    const gateway = await start('apollo-sandbox');
    const page = await browserGet(gateway, '/graphql');
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/apollo/i);
    expect((await browserGet(gateway, '/ui/explorer/explorer.js')).status).toBe(404);
    expect(gateway.output()).toMatch(/graphql {3}\(open it in a browser: Apollo Sandbox/);
  });

  it('off: no page at all; GraphQL still answers', async () => {
    const gateway = await start('off');
    const page = await browserGet(gateway, '/graphql');
    expect(page.headers.get('content-type')).not.toMatch(/text\/html/);
    expect((await browserGet(gateway, '/ui/explorer/index.html')).status).toBe(404);
    const answer = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await answer.json()).toEqual({ data: { __typename: 'Query' } });
    expect(gateway.output()).toMatch(/GraphQL: {2}http:\/\/\S+\/graphql\n/);
  });
});

/** `RUN_CONSOLE`: the run console's page and files are served only when it is on. */
describe('RUN_CONSOLE', () => {
  let gateway: GatewayProcess;
  afterAll(() => gateway?.stop());

  it('false: no console page and no console files; the explorer and GraphQL are unaffected', async () => {
    gateway = await startGatewayProcess({ ...sandbox, RUN_CONSOLE: 'false' });
    expect((await browserGet(gateway, '/console')).status).toBe(404);
    expect((await browserGet(gateway, '/console/runs/a/b')).status).toBe(404);
    expect((await browserGet(gateway, '/ui/console/console.js')).status).toBe(404);
    expect((await browserGet(gateway, '/graphql')).status).toBe(200);
    expect(gateway.output()).not.toContain('Run console');
  });
});
