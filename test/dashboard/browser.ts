// Headless Chromium for the dashboard tests: Debian's /usr/bin/chromium
// driven by playwright-core (no browser download). A missing browser is a
// test failure with the install steps, never a skip.

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { REPO_ROOT, tempDir } from '../helpers/gateway.js';

export const CHROMIUM = process.env.SWITCHYARD_TEST_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');

const INSTALL_HINT =
  'The dashboard tests need Chromium and playwright-core: `apt-get update && apt-get install -y chromium` ' +
  '(Debian; /usr/bin/chromium, or set SWITCHYARD_TEST_CHROMIUM) and `npm ci` (playwright-core is a devDependency).';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  context: BrowserContext;
  /** Console errors and uncaught page errors seen so far, per page. */
  problems: Map<Page, string[]>;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** A fresh browser with a new, empty user data dir. Throws (with the install steps) when Chromium is not there. */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}. ${INSTALL_HINT}`);
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (err) {
    throw new Error(`cannot load playwright-core (${(err as Error).message}). ${INSTALL_HINT}`);
  }
  const userDataDir = tempDir('switchyard-chromium-');
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
      colorScheme: 'dark',
      timeout: 30_000,
    });
  } catch (err) {
    throw new Error(`Chromium at ${CHROMIUM} did not start: ${(err as Error).message}. ${INSTALL_HINT}`);
  }
  const problems = new Map<Page, string[]>();
  const watch = (page: Page) => {
    const list: string[] = [];
    problems.set(page, list);
    page.on('console', (m) => {
      if (m.type() === 'error') list.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => list.push(`pageerror: ${e.message}`));
  };
  for (const p of context.pages()) watch(p);
  context.on('page', watch);
  return {
    context,
    problems,
    async newPage() {
      const blank = context.pages().find((p) => p.url() === 'about:blank');
      return blank ?? (await context.newPage());
    },
    close: () => context.close(),
  };
}

/** Saves a full-page screenshot to test-artifacts/dashboard-<name>.png and returns its path. */
export async function screenshot(page: Page, name: string, opts: { fullPage?: boolean } = {}): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `dashboard-${name}.png`);
  // A full page from the top, so that the sticky header sits where it belongs.
  if (opts.fullPage ?? true) await page.evaluate(() => (globalThis as any).scrollTo({ top: 0, behavior: 'instant' }));
  await page.screenshot({ path: file, fullPage: opts.fullPage ?? true, animations: 'disabled' });
  return file;
}
