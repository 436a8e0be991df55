import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's `chromium` package; `.ci/run` installs it when missing. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Quiet, offline-friendly Chromium: nothing of its own (updates, sync, safe browsing) goes to the network. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Fails (never skips) without Chromium: a browser suite that silently skips proves nothing in CI. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: apt-get install -y chromium (.ci/run does it in CI)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/** What left the page for another origin (each blocked), and what went wrong inside it. */
export interface PageWatch {
  foreignRequests: string[];
  pageErrors: string[];
  cspViolations: string[];
}

/**
 * Every request the page makes to an origin other than `origin` is aborted and recorded; a WebSocket to
 * another host is recorded too (page.route does not see sockets), so a test asserting none holds for both.
 */
export async function watchPage(page: Page, origin: string): Promise<PageWatch> {
  const watch: PageWatch = { foreignRequests: [], pageErrors: [], cspViolations: [] };
  const ownHost = new URL(origin).host;
  await page.route('**/*', async (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    watch.foreignRequests.push(url);
    return route.abort('blockedbyclient');
  });
  page.on('websocket', (socket) => {
    if (new URL(socket.url()).host !== ownHost) watch.foreignRequests.push(socket.url());
  });
  page.on('pageerror', (error) => watch.pageErrors.push(error.message));
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) watch.cspViolations.push(message.text());
  });
  return watch;
}

/** A sandbox gateway (its own emulator, fast runs) on free ports, as the browser suites start it. */
export const SANDBOX_GATEWAY: Readonly<Record<string, string>> = {
  HOST: '127.0.0.1',
  PORT: '0',
  SANDBOX_EMULATOR_PORT: '0',
  SANDBOX_TIME_SCALE: '0.05',
  LOG_LEVEL: 'silent',
};
