import { createHash, randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { eventually } from '../support/eventually';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { launchChromium, SANDBOX_GATEWAY, watchPage, type PageWatch } from './support/chromium';
import { executeThroughApi, runLink, SEED, type BrowserGlobals } from './support/console';

const key = () => randomBytes(24).toString('base64url');
const KEYS = { reader: key(), marketing: key(), operator: key() };
const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');
const STORAGE_KEY = 'maia-console.credential';

/**
 * The console with authentication on: it asks for a key, keeps it in sessionStorage only, and shows each
 * caller only the controls its scopes allow and the runs of the projects it may see.
 */
describe('Run console with authentication on', () => {
  let gateway: GatewayProcess;
  let browser: Browser;
  let page: Page;
  let watch: PageWatch;
  let analyticsRun: string;
  let marketingRun: string;

  beforeAll(async () => {
    browser = await launchChromium();
    gateway = await startGatewayProcess({
      ...SANDBOX_GATEWAY,
      AUTH_API_KEYS: JSON.stringify([
        { name: 'reader', sha256: sha256(KEYS.reader), scopes: ['read'], projects: ['*'] },
        {
          name: 'marketing',
          sha256: sha256(KEYS.marketing),
          scopes: ['read', 'execute', 'cancel'],
          projects: [SEED.marketing],
        },
        { name: 'operator', sha256: sha256(KEYS.operator), scopes: ['admin'], projects: ['*'] },
      ]),
    });
    // Runs the callers will look at: a long one in Analytics Warehouse, a short one in Marketing.
    const operator = { 'x-api-key': KEYS.operator };
    analyticsRun = await executeThroughApi(
      gateway,
      { projectId: SEED.analytics, pipelineName: 'FOLDER/long_backfill.orch.yaml', environmentName: 'Dev' },
      operator,
    );
    marketingRun = await executeThroughApi(
      gateway,
      {
        projectId: SEED.marketing,
        pipelineName: 'campaigns/attribution.orch.yaml',
        environmentName: 'Staging',
      },
      operator,
    );
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    watch = await watchPage(page, gateway.url);
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
  });

  const signIn = async (secret: string) => {
    await page.getByLabel('Credential type').selectOption('api-key');
    await page.getByLabel('Key or token').fill(secret);
    await page.getByLabel('Key or token').press('Enter');
  };

  it('asks for a key before showing anything, and says so when the key is refused', async () => {
    await page.goto(`${gateway.url}/console`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await expect(page.locator('table.runs').count()).resolves.toBe(0);
    await signIn('not-a-key-of-this-gateway');
    await page.locator('.error[data-code="UNAUTHENTICATED"]').waitFor();
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await expect(
      page.evaluate((k) => (globalThis as unknown as BrowserGlobals).sessionStorage.getItem(k), STORAGE_KEY),
    ).resolves.toBeNull();
  });

  it('a read-only key sees the runs but no execute, cancel or re-run control; the key stays in sessionStorage only', async () => {
    await signIn(KEYS.reader);
    await runLink(page, SEED.analytics, analyticsRun).waitFor();
    await expect(page.getByRole('link', { name: 'Start a run' }).count()).resolves.toBe(0);
    const stored = await page.evaluate((k) => {
      const browser = globalThis as unknown as BrowserGlobals;
      return { session: browser.sessionStorage.getItem(k), local: browser.localStorage.length };
    }, STORAGE_KEY);
    expect(JSON.parse(stored.session ?? 'null')).toEqual({ kind: 'api-key', value: KEYS.reader });
    expect(stored.local).toBe(0);
    // The run is still running, yet its page offers nothing the key may not do.
    await runLink(page, SEED.analytics, analyticsRun).click();
    await page.getByRole('heading', { name: 'FOLDER/long_backfill.orch.yaml' }).waitFor();
    await page.locator('.run-status [data-status]').waitFor();
    await expect(page.locator('.run-status').textContent()).resolves.toContain('(live)');
    await expect(page.locator('.actions button').count()).resolves.toBe(0);
    for (const name of ['Cancel run', 'Force cancel', 'Re-run']) {
      await expect(page.getByRole('button', { name }).count()).resolves.toBe(0);
    }
    // Nor does the start form open for it by its address.
    await page.goto(`${gateway.url}/console/start`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await expect(page.getByLabel('Pipeline').count()).resolves.toBe(0);
  });

  it("a key for another project sees that project's runs and none of this project's", async () => {
    await page.goto(`${gateway.url}/console`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await expect(
      page.evaluate((k) => (globalThis as unknown as BrowserGlobals).sessionStorage.getItem(k), STORAGE_KEY),
    ).resolves.toBeNull();
    await signIn(KEYS.marketing);
    await runLink(page, SEED.marketing, marketingRun).waitFor();
    await page
      .getByRole('status')
      .filter({ hasText: /^Live:/ })
      .waitFor();
    const projects = await page.locator('tbody tr td:nth-child(2)').allTextContents();
    expect(projects.length).toBeGreaterThan(0);
    expect(new Set(projects)).toEqual(new Set(['Marketing']));
    await expect(runLink(page, SEED.analytics, analyticsRun).count()).resolves.toBe(0);
    const options = await page.getByLabel('Project').locator('option').allTextContents();
    expect(options).toEqual(['All', 'Marketing']);
    // A new run in the other project, started now, does not reach this list either; one of its own does.
    const hidden = await executeThroughApi(
      gateway,
      { projectId: SEED.test, pipelineName: 'Pipeline 1', environmentName: 'Dev Environment' },
      { 'x-api-key': KEYS.operator },
    );
    const own = await executeThroughApi(
      gateway,
      {
        projectId: SEED.marketing,
        pipelineName: 'campaigns/attribution.orch.yaml',
        environmentName: 'Staging',
      },
      { 'x-api-key': KEYS.operator },
    );
    await runLink(page, SEED.marketing, own).waitFor({ timeout: 5_000 });
    await expect(page.locator(`tr[data-execution-id="${hidden}"]`).count()).resolves.toBe(0);
    // Its own controls are there: this key may execute.
    await eventually(async () =>
      expect(await page.getByRole('link', { name: 'Start a run' }).count()).toBe(1),
    );
  });

  it('asked nothing of another origin, broke no policy and threw nothing', () => {
    expect(watch.foreignRequests).toEqual([]);
    expect(watch.cspViolations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  });
});
