import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { eventually } from '../support/eventually';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { launchChromium, SANDBOX_GATEWAY, watchPage, type PageWatch } from './support/chromium';
import {
  emulatorExecutions,
  executeThroughApi,
  graphql,
  runLink,
  SEED,
  type BrowserGlobals,
} from './support/console';

const IMAGES = resolve(__dirname, '..', '..', 'docs', 'images');
const DIST = resolve(__dirname, '..', '..', 'dist', 'ui', 'console');
const FIRST_LOAD_BUDGET_BYTES = 200 * 1024;

/**
 * The run console as a person uses it: `npm start`'s sandbox gateway (authentication off), Debian's
 * Chromium, every request to another origin blocked and counted. Runs are started through the API (as
 * another client would) and through the console's own form; the emulator says what reached "Maia".
 */
describe('Run console at /console in Chromium', () => {
  let gateway: GatewayProcess;
  let browser: Browser;
  let page: Page;
  let watch: PageWatch;
  /** A long run (10 min of emulated work) started through the API while the list is open. */
  let longRun: string;
  /** The run the start form launched, with version, runner, variables and tag. */
  let formRun: string;

  beforeAll(async () => {
    browser = await launchChromium();
    gateway = await startGatewayProcess({ ...SANDBOX_GATEWAY });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    watch = await watchPage(page, gateway.url);
  });

  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
  });

  it('is served at /console and at every route below it, under a strict Content-Security-Policy', async () => {
    for (const path of ['/console', `/console/runs/${SEED.test}/${randomUUID()}`, '/console/start?x=1']) {
      const response = await fetch(`${gateway.url}${path}`, { headers: { accept: 'text/html' } });
      expect(response.status).toBe(200);
      const policy = response.headers.get('content-security-policy') ?? '';
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("style-src 'self'");
      expect(policy).toContain("connect-src 'self'");
      expect(policy).not.toContain('unsafe-inline');
      const html = await response.text();
      expect(html).toContain('/ui/console/console.js');
      expect(html).not.toMatch(/<script>|<script [^>]*>[^<]|<style|style=/); // nothing inline
      expect(html).not.toMatch(/https?:\/\//);
    }
  });

  it('loads at most 200 KB compressed on first load', async () => {
    const transferred: Record<string, number> = {};
    const fresh = await browser.newPage();
    const freshWatch = await watchPage(fresh, gateway.url);
    fresh.on('requestfinished', (request) => {
      void request.sizes().then((sizes) => {
        transferred[new URL(request.url()).pathname] = sizes.responseBodySize;
      });
    });
    await fresh.goto(`${gateway.url}/console`, { waitUntil: 'networkidle' });
    await fresh.getByRole('heading', { name: 'Runs' }).waitFor();
    const assets = await eventually(() => {
      const files = Object.keys(transferred).filter(
        (path) => path.startsWith('/ui/console/') || path === '/console',
      );
      expect(files.sort()).toEqual(['/console', '/ui/console/console.css', '/ui/console/console.js']);
      return files;
    });
    const total = assets.reduce((sum, path) => sum + transferred[path], 0);
    // What the browser received for the page, its script and its style (gzip, as the gateway sends them).
    expect(total).toBeGreaterThan(1_000);
    expect(total).toBeLessThanOrEqual(FIRST_LOAD_BUDGET_BYTES);
    // The same files compressed with brotli, for the record (the gateway sends gzip).
    const files = ['index.html', 'console.js', 'console.css'].map((file) =>
      readFileSync(resolve(DIST, file)),
    );
    const raw = files.reduce((sum, body) => sum + body.length, 0);
    const gzip = files.reduce((sum, body) => sum + gzipSync(body, { level: 9 }).length, 0);
    const brotli = files.reduce((sum, body) => sum + brotliCompressSync(body).length, 0);
    expect(brotli).toBeLessThanOrEqual(FIRST_LOAD_BUDGET_BYTES);
    console.log(
      `console first load: ${total} B over the wire; raw ${raw} B, gzip ${gzip} B, brotli ${brotli} B`,
    );
    expect(freshWatch.foreignRequests).toEqual([]);
    await fresh.close();
  });

  it('shows a run started through the API within 2 s, without a reload, as a link to its page', async () => {
    await page.goto(`${gateway.url}/console`);
    await page
      .getByRole('status')
      .filter({ hasText: /^Live:/ })
      .waitFor();
    // A mark on the window: a reload would wipe it.
    await page.evaluate(() => {
      (globalThis as unknown as BrowserGlobals).consoleMark = 'kept';
    });
    const started = Date.now();
    longRun = await executeThroughApi(gateway, {
      projectId: SEED.analytics,
      pipelineName: 'FOLDER/long_backfill.orch.yaml',
      environmentName: 'Dev',
    });
    await runLink(page, SEED.analytics, longRun).waitFor({ timeout: 2_000 });
    const shownAfterMs = Date.now() - started;
    console.log(`run shown in the list ${shownAfterMs} ms after executePipeline was sent`);
    expect(shownAfterMs).toBeLessThanOrEqual(2_000);
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).consoleMark)).toBe('kept');
    const row = page.locator(`tr[data-execution-id="${longRun}"]`);
    await expect(row.locator('td').nth(2).textContent()).resolves.toBe('Dev');
    await expect(row.locator('td').nth(1).textContent()).resolves.toBe('Analytics Warehouse');
    await expect(row.locator('[data-status]').textContent()).resolves.toMatch(/RUNNING|STARTING|QUEUED/);
  });

  it('opens the run page by keyboard and cancels the run from it: it ends CANCELLED', async () => {
    await runLink(page, SEED.analytics, longRun).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'FOLDER/long_backfill.orch.yaml' }).waitFor();
    expect(page.url()).toBe(`${gateway.url}/console/runs/${SEED.analytics}/${longRun}`);
    const cancel = page.getByRole('button', { name: 'Cancel run', exact: true });
    await expect(page.getByRole('button', { name: 'Force cancel' }).isVisible()).resolves.toBe(true);
    await cancel.focus();
    await page.keyboard.press('Enter');
    await page.locator('.run-status [data-status="CANCELLED"]').waitFor({ timeout: 15_000 });
    // The gateway's own answer agrees, and the controls that no longer apply are gone.
    const read = await graphql<{ pipelineExecution: { status: string } }>(
      gateway,
      'query ($p: ID!, $e: ID!) { pipelineExecution(projectId: $p, executionId: $e) { status } }',
      { p: SEED.analytics, e: longRun },
    );
    expect(read.data?.pipelineExecution.status).toBe('CANCELLED');
    await expect(cancel.count()).resolves.toBe(0);
  });

  it('shows a run on the restricted runner as FORBIDDEN, and finds it with the status filter (kept in the URL)', async () => {
    const forbidden = await executeThroughApi(gateway, {
      projectId: SEED.marketing,
      pipelineName: 'campaigns/attribution.orch.yaml',
      environmentName: 'Restricted',
    });
    await page.getByRole('link', { name: 'Runs', exact: true }).click();
    await page.locator(`tr[data-execution-id="${forbidden}"] [data-status="FORBIDDEN"]`).waitFor();
    await page.getByLabel('Status').selectOption('FORBIDDEN');
    await eventually(() => expect(new URL(page.url()).searchParams.get('status')).toBe('FORBIDDEN'));
    await page.locator(`tr[data-execution-id="${forbidden}"]`).waitFor();
    // Only FORBIDDEN runs are left, and the long run (CANCELLED) is not among them.
    await eventually(async () => {
      const statuses = await page.locator('tbody [data-status]').allTextContents();
      expect(statuses.length).toBeGreaterThan(0);
      expect(new Set(statuses)).toEqual(new Set(['FORBIDDEN']));
    });
    await expect(page.locator(`tr[data-execution-id="${longRun}"]`).count()).resolves.toBe(0);
    // The URL is the filter: opened afresh it shows the same.
    await page.reload();
    await page.locator(`tr[data-execution-id="${forbidden}"] [data-status="FORBIDDEN"]`).waitFor();
    await expect(page.getByLabel('Status').inputValue()).resolves.toBe('FORBIDDEN');
    // Project and environment filters narrow the same way.
    await page.getByLabel('Project').selectOption(SEED.marketing);
    await page.getByLabel('Environment').selectOption('Restricted');
    const url = new URL(page.url());
    expect(Object.fromEntries(url.searchParams)).toEqual({
      project: SEED.marketing,
      environment: 'Restricted',
      status: 'FORBIDDEN',
    });
    await page.locator(`tr[data-execution-id="${forbidden}"]`).waitFor();
    // By keyboard: arrowing through a filter's options changes the list and keeps the focus on the filter.
    const focused = () =>
      page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.activeElement?.id);
    await page.getByLabel('Status').focus();
    await page.keyboard.press('ArrowUp');
    await eventually(() => expect(new URL(page.url()).searchParams.get('status')).toBe('FAILED'));
    await expect(focused()).resolves.toBe('filter-status');
    await page.keyboard.press('ArrowDown');
    await eventually(() => expect(new URL(page.url()).searchParams.get('status')).toBe('FORBIDDEN'));
    await page.locator(`tr[data-execution-id="${forbidden}"]`).waitFor();
    await expect(focused()).resolves.toBe('filter-status');
  });

  it('starts a run from the form with the version and runner pickers, variables and tag; an error shows its code and message', async () => {
    const tag = `console-${randomUUID().slice(0, 8)}`;
    // A run holding the tag in Analytics Warehouse/Dev: the form's run with the same tag is refused.
    const holder = await executeThroughApi(gateway, {
      projectId: SEED.analytics,
      pipelineName: 'FOLDER/long_backfill.orch.yaml',
      environmentName: 'Dev',
      executionTag: tag,
    });
    await page.getByRole('link', { name: 'Start a run' }).click();
    const pick = async (label: string, value: string) => {
      await eventually(async () =>
        expect(
          await page
            .getByLabel(label)
            .locator('option')
            .evaluateAll((all) => all.map((o) => (o as unknown as { value: string }).value)),
        ).toContain(value),
      );
      await page.getByLabel(label).selectOption(value);
    };
    await pick('Project', SEED.analytics);
    await pick('Environment', 'Dev');
    await pick('Pipeline', 'FOLDER/load_orders.orch.yaml');
    await page.getByLabel('Tag').fill(tag);
    await page.getByRole('button', { name: 'Start run' }).click();
    const shown = page.locator('.errors .error');
    await shown.waitFor();
    // The same call made directly: the console shows exactly the API's code and message.
    const direct = await graphql(
      gateway,
      'mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId } }',
      {
        input: {
          projectId: SEED.analytics,
          environmentName: 'Dev',
          pipelineName: 'FOLDER/load_orders.orch.yaml',
          executionTag: tag,
        },
      },
    );
    const expected = direct.errors?.[0];
    expect(expected?.extensions?.code).toBe('CONFLICT');
    await expect(shown.getAttribute('data-code')).resolves.toBe('CONFLICT');
    await expect(shown.textContent()).resolves.toBe(`CONFLICT ${expected?.message}`);
    await graphql(
      gateway,
      'mutation ($input: CancelPipelineExecutionInput!) { cancelPipelineExecution(input: $input) { pipelineExecutionId } }',
      {
        input: { projectId: SEED.analytics, executionId: holder, force: true },
      },
    );

    await pick('Project', SEED.test);
    await pick('Environment', 'Dev Environment');
    await pick('Pipeline', 'My pipeline');
    // The pickers hold what the gateway lists: the pipeline's versions and the runners.
    await pick('Version', '1.0.0');
    await pick('Runner', SEED.devAgent);
    await page.getByLabel('Variables').fill('region=eu\nbatch = 7');
    await page.getByRole('button', { name: 'Start run' }).click();
    await page.waitForURL(new RegExp(`/console/runs/${SEED.test}/[0-9a-f-]{36}$`));
    formRun = page.url().split('/').pop() as string;
    await page.locator('.run-status [data-status="SUCCESS"]').waitFor({ timeout: 15_000 });
    const recorded = (await emulatorExecutions(gateway)).find((e) => e.pipelineExecutionId === formRun);
    expect(recorded).toMatchObject({
      pipelineName: 'My pipeline',
      versionName: '1.0.0',
      agentId: SEED.devAgent,
      executionTag: tag,
      scalarVariables: { region: 'eu', batch: '7' },
    });
    // Its steps arrived with the live updates.
    await page.getByRole('heading', { name: /^Steps \([1-9]/ }).waitFor();
  });

  it('re-runs from the run page: a new run with the same parameters (as the emulator recorded them)', async () => {
    const rerun = page.getByRole('button', { name: 'Re-run' });
    // The launch parameters the gateway kept are on the page.
    await page.getByRole('heading', { name: 'Launch parameters' }).waitFor();
    await expect(page.locator('dl.launch').textContent()).resolves.toContain('region');
    await rerun.click();
    await page.waitForURL((url) => /\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(formRun));
    const second = page.url().split('/').pop() as string;
    await page.getByRole('heading', { name: 'My pipeline' }).waitFor();
    const runs = await emulatorExecutions(gateway);
    const first = runs.find((e) => e.pipelineExecutionId === formRun);
    const again = runs.find((e) => e.pipelineExecutionId === second);
    expect(first).toBeDefined();
    expect(again).toBeDefined();
    const keys = [
      'pipelineName',
      'environmentName',
      'versionName',
      'agentId',
      'executionTag',
      'scalarVariables',
      'gridVariables',
    ] as const;
    for (const key of keys) expect([key, again?.[key]]).toEqual([key, first?.[key]]);
  });

  it('labels every control on every page', async () => {
    const unlabelled = () =>
      page.evaluate(() => {
        interface Control {
          tagName: string;
          id: string;
          labels?: { length: number } | null;
          textContent: string | null;
          getAttribute(name: string): string | null;
        }
        const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Control[] } })
          .document;
        return [...doc.querySelectorAll('select, input, textarea, button')]
          .filter(
            (c) =>
              !c.labels?.length &&
              !c.getAttribute('aria-label') &&
              !(c.tagName === 'BUTTON' && c.textContent?.trim()),
          )
          .map((c) => `${c.tagName}#${c.id}`);
      });
    for (const path of ['/console', '/console/start', `/console/runs/${SEED.test}/${formRun}`]) {
      await page.goto(`${gateway.url}${path}`);
      await page.locator('main h1').first().waitFor();
      await page.locator('main select, main button').first().waitFor();
      await expect(unlabelled()).resolves.toEqual([]);
    }
  });

  it('writes the screenshots of the runs list and a run page', async () => {
    mkdirSync(IMAGES, { recursive: true });
    await page.setViewportSize({ width: 1280, height: 720 });
    await page.goto(`${gateway.url}/console/runs/${SEED.test}/${formRun}`);
    await page.getByRole('heading', { name: /^Steps \([1-9]/ }).waitFor();
    await page.mouse.move(0, 0);
    await page.screenshot({
      path: resolve(IMAGES, 'console-run.png'),
      caret: 'hide',
      animations: 'disabled',
    });
    await page.goto(`${gateway.url}/console`);
    await page.locator(`tr[data-execution-id="${formRun}"]`).waitFor();
    await page.mouse.move(0, 0);
    await page.screenshot({
      path: resolve(IMAGES, 'console-runs.png'),
      caret: 'hide',
      animations: 'disabled',
    });
    for (const image of ['console-runs.png', 'console-run.png']) {
      expect(readFileSync(resolve(IMAGES, image)).length).toBeGreaterThan(10_000);
    }
  });

  it('asked nothing of another origin, broke no policy and threw nothing', () => {
    expect(watch.foreignRequests).toEqual([]);
    expect(watch.cspViolations).toEqual([]);
    expect(watch.pageErrors).toEqual([]);
  });
});
