import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { launchChromium, SANDBOX_GATEWAY, watchPage, type PageWatch } from './support/chromium';
import { editorText, GRAPHIQL, resultShows, setEditorText } from './support/graphiql';

const SCREENSHOT = resolve(__dirname, '..', '..', 'docs', 'images', 'explorer.png');
const PROJECT_ID = '3fa85f64-5717-4562-b3fc-2c963f66afa6';

/**
 * The self-hosted explorer, as a person on a network without internet access sees it: `npm start`'s
 * sandbox gateway, Debian's Chromium, every request to another origin blocked and counted.
 */
describe('GraphiQL at /graphql in Chromium', () => {
  let gateway: GatewayProcess;
  let browser: Browser;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    browser = await launchChromium();
    gateway = await startGatewayProcess({
      ...SANDBOX_GATEWAY,
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    watch = await watchPage(page, gateway.url);
    await page.goto(`${gateway.url}/graphql`);
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
  });

  it('is served by the gateway under a strict Content-Security-Policy', async () => {
    const response = await fetch(`${gateway.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const policy = response.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("connect-src 'self'");
    expect(policy).not.toContain('unsafe-inline');
    const html = await response.text();
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]/); // no inline script
    expect(html).not.toMatch(/https?:\/\//); // nothing named on another origin
    // Its files come from the gateway, compressed ahead of time for clients that accept gzip.
    const script = await fetch(`${gateway.url}/ui/explorer/explorer.js`, {
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(script.status).toBe(200);
    expect(script.headers.get('content-encoding')).toBe('gzip');
    expect(script.headers.get('content-type')).toMatch(/^application\/javascript/);
    // GraphQL clients still reach Apollo on the same path.
    const answer = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await answer.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('renders with the README operations as tabs, schema docs and a headers hint', async () => {
    await page.waitForSelector(GRAPHIQL.container);
    expect(await page.locator(GRAPHIQL.tab).count()).toBe(3);
    expect(await editorText(page, GRAPHIQL.queryEditor)).toContain('project(name: "Test-project")');
    // The headers editor is open at first and says where a key or token goes.
    const headers = await editorText(page, GRAPHIQL.toolEditor);
    expect(headers).toContain('"X-API-Key"');
    expect(headers).toContain('"Authorization"');
    // The schema's docs (introspection from the same origin).
    await page.getByRole('button', { name: /show documentation explorer/i }).click();
    await page.getByText('Root Types').waitFor();
  });

  it('runs a query from its editor and shows the result', async () => {
    await page.locator(GRAPHIQL.run).click();
    await resultShows(page, '"name": "Test-project"');
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    // Steady pixels, so the committed image changes only when the page does: no hover, caret or animation.
    await page.mouse.move(0, 0);
    await page.screenshot({ path: SCREENSHOT, caret: 'hide', animations: 'disabled' });
  });

  it('runs a subscription over graphql-ws from its editor and shows an event', async () => {
    const executed = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }`,
        variables: {
          input: { projectId: PROJECT_ID, pipelineName: 'Pipeline 1', environmentName: 'Dev Environment' },
        },
      }),
    });
    const body = (await executed.json()) as { data: { executePipeline: { pipelineExecutionId: string } } };
    const executionId = body.data.executePipeline.pipelineExecutionId;

    const sockets: string[] = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));
    await page.locator(GRAPHIQL.tabButton).nth(2).click();
    await page.locator(GRAPHIQL.activeTab, { hasText: 'PipelineExecutionUpdated' }).waitFor();
    await setEditorText(
      page,
      GRAPHIQL.queryEditor,
      `subscription WatchRun { pipelineExecutionUpdated(projectId: "${PROJECT_ID}", executionId: "${executionId}") { kind execution { id status } } }`,
    );
    // GraphiQL reads the operation's name from the editor a moment after an edit: run once it has.
    await page.locator(GRAPHIQL.activeTab, { hasText: 'WatchRun' }).waitFor();
    await page.locator(GRAPHIQL.run).click();
    const event = await resultShows(page, `"id": "${executionId}"`);
    expect(event).toMatch(/"kind": "\w+"/);
    expect(sockets).toEqual([`${gateway.url.replace('http', 'ws')}/graphql`]);
  });

  it('asked nothing of another origin, broke no policy and threw nothing', () => {
    expect(watch.foreignRequests).toEqual([]);
    expect(watch.cspViolations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  });
});
