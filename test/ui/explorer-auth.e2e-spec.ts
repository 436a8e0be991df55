import { createHash, randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { launchChromium, SANDBOX_GATEWAY, watchPage, type PageWatch } from './support/chromium';
import { GRAPHIQL, resultShows, setEditorText } from './support/graphiql';

const PROJECT_ID = '3fa85f64-5717-4562-b3fc-2c963f66afa6';
const KEY = randomBytes(24).toString('base64url');
/** With authentication on, the key typed into the explorer's headers editor is what admits its operations. */
describe('GraphiQL with authentication on', () => {
  let gateway: GatewayProcess;
  let browser: Browser;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    browser = await launchChromium();
    gateway = await startGatewayProcess({
      ...SANDBOX_GATEWAY,
      AUTH_API_KEYS: JSON.stringify([
        {
          name: 'explorer',
          sha256: createHash('sha256').update(KEY, 'utf8').digest('hex'),
          scopes: ['read', 'execute'],
          projects: ['*'],
        },
      ]),
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    watch = await watchPage(page, gateway.url);
    await page.goto(`${gateway.url}/graphql`);
    await page.waitForSelector(GRAPHIQL.container);
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
  });

  it('refuses a query while the prefilled key is empty, and answers it once the key is filled in', async () => {
    await page.locator(GRAPHIQL.run).click();
    await resultShows(page, '"code": "UNAUTHENTICATED"');

    await setEditorText(
      page,
      GRAPHIQL.toolEditor,
      JSON.stringify({ 'X-API-Key': KEY, Authorization: '' }, null, 2),
    );
    await page.locator(GRAPHIQL.run).click();
    await resultShows(page, '"name": "Test-project"');
  });

  it('sends the key as graphql-ws connection parameters: a subscription runs', async () => {
    const executed = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({
        query: `mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }`,
        variables: {
          input: { projectId: PROJECT_ID, pipelineName: 'Pipeline 1', environmentName: 'Dev Environment' },
        },
      }),
    });
    const body = (await executed.json()) as { data: { executePipeline: { pipelineExecutionId: string } } };
    const executionId = body.data.executePipeline.pipelineExecutionId;

    await page.locator(GRAPHIQL.tabButton).nth(2).click();
    await page.locator(GRAPHIQL.activeTab, { hasText: 'PipelineExecutionUpdated' }).waitFor();
    // A tab keeps its own headers: this one still holds the empty hint.
    await setEditorText(page, GRAPHIQL.toolEditor, JSON.stringify({ 'X-API-Key': KEY }, null, 2));
    await setEditorText(
      page,
      GRAPHIQL.queryEditor,
      `subscription WatchRun { pipelineExecutionUpdated(projectId: "${PROJECT_ID}", executionId: "${executionId}") { kind execution { id status } } }`,
    );
    await page.locator(GRAPHIQL.activeTab, { hasText: 'WatchRun' }).waitFor();
    await page.locator(GRAPHIQL.run).click();
    await resultShows(page, `"id": "${executionId}"`);
  });

  it('asked nothing of another origin and threw nothing', () => {
    expect(watch.foreignRequests).toEqual([]);
    expect(watch.cspViolations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  });
});
