// The dashboard end to end (issue 9): a real gateway, real upstreams, the page
// in headless Chromium. Screenshots go to test-artifacts/dashboard-*.png.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { putRoute } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';
import { launchBrowser, screenshot, type TestBrowser } from './browser.js';

const HEALTH = { path: '/healthz', intervalMs: 150, timeoutMs: 1000, healthy: 1, unhealthy: 2 };
const UI_TIMEOUT = 10_000;

async function put(gw: GatewayProcess, path: string, body: unknown): Promise<any> {
  const r = await admin(gw, 'PUT', path, body);
  assert.ok(r.status === 200 || r.status === 201, `PUT ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** The pool card of the page. */
const pool = (upstream: string, name: string) => `[data-upstream="${upstream}"] [data-pool="${name}"]`;

describe('dashboard in headless Chromium', () => {
  let gw: GatewayProcess;
  let browser: TestBrowser;
  let page: Page;
  const ups: TestUpstream[] = [];
  let dead: TestUpstream;
  let runningDeployment = '';

  before(async () => {
    // Fails (never skips) with the install steps when Chromium is missing.
    browser = await launchBrowser();
    gw = await startGateway();
    const mk = async (name: string) => {
      const u = await startUpstream(name);
      ups.push(u);
      return u;
    };
    const [blue, green1, green2, v1, v2, s1, c1, c2] = await Promise.all(['blue', 'green-1', 'green-2', 'v1', 'v2', 'search-1', 'cart-blue', 'cart-green'].map(mk));
    // A target that is down: its health checks fail.
    dead = await startUpstream('dead');
    const deadUrl = dead.url;
    await dead.close();

    await put(gw, '/upstreams/shop', { name: 'shop', pools: { blue: { targets: [blue!.url] }, green: { targets: [green1!.url, green2!.url] } }, weights: { blue: 100, green: 0 } });
    await put(gw, '/upstreams/api', { name: 'api', pools: { v1: { targets: [v1!.url] }, v2: { targets: [v2!.url] } }, weights: { v1: 100 }, healthCheck: HEALTH, balancer: 'least-request' });
    await put(gw, '/upstreams/search', { name: 'search', pools: { main: { targets: [s1!.url, deadUrl] } }, weights: { main: 100 }, healthCheck: HEALTH });
    await put(gw, '/upstreams/cart', { name: 'cart', pools: { blue: { targets: [c1!.url] }, green: { targets: [c2!.url] } }, weights: { blue: 100 }, healthCheck: HEALTH });
    await putRoute(gw, 'shop', { path: '/shop' }, 'shop');
    await putRoute(gw, 'api', { host: 'api.example.com', path: '/v1', methods: ['GET', 'POST'] }, 'api');
    await putRoute(gw, 'search', { path: '/search' }, 'search');
    await putRoute(gw, 'cart', { path: '/cart' }, 'cart');
    await putRoute(gw, 'legacy-billing', { path: '/billing' }, 'billing'); // no such upstream: unresolved

    // A finished deployment for the history, and one that holds its first step (live view).
    await waitFor(async () => (await admin(gw, 'GET', '/upstreams/cart/status')).body.nodes?.[0]?.pools?.green?.healthy === 1, { what: 'cart green healthy' });
    const done = await admin(gw, 'POST', '/deployments', { upstream: 'cart', pool: 'green', steps: [{ weight: 100 }], minRequests: 0, drainTimeoutMs: 1000 });
    assert.equal(done.status, 201, JSON.stringify(done.body));
    await waitFor(async () => (await admin(gw, 'GET', `/deployments/${done.body.id}`)).body.phase === 'succeeded', { timeoutMs: 15000, intervalMs: 100, what: 'cart deployment to succeed' });
    await waitFor(async () => (await admin(gw, 'GET', '/upstreams/api/status')).body.nodes?.[0]?.pools?.v2?.healthy === 1, { what: 'api v2 healthy' });
    const running = await admin(gw, 'POST', '/deployments', {
      upstream: 'api', pool: 'v2', steps: [{ weight: 10, holdMs: 600_000 }, { weight: 50, holdMs: 600_000 }, { weight: 100 }], minRequests: 1_000_000,
    });
    assert.equal(running.status, 201, JSON.stringify(running.body));
    runningDeployment = running.body.id;
    await waitFor(async () => (await admin(gw, 'GET', `/deployments/${runningDeployment}`)).body.phase === 'flooding', { timeoutMs: 15000, intervalMs: 100, what: 'api deployment to reach its first step' });
    await waitFor(async () => (await admin(gw, 'GET', '/upstreams/search/status')).body.nodes?.[0]?.pools?.main?.targets?.some((t: any) => t.state === 'unhealthy'), { what: 'the dead search target to be unhealthy' });

    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    for (const u of ups) await u.close();
  });

  test('loads and lists the routes and upstreams of the running gateway', { timeout: 60_000 }, async () => {
    const res = await page.goto(`${gw.adminUrl}/`);
    assert.equal(res?.status(), 200);
    assert.match(res!.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await page.waitForSelector('#conn[data-state="live"]', { timeout: UI_TIMEOUT });
    await page.waitForSelector('[data-route="legacy-billing"]', { timeout: UI_TIMEOUT });

    // Routes: id, match, upstream, status.
    for (const id of ['shop', 'api', 'search', 'cart', 'legacy-billing']) assert.ok(await page.isVisible(`[data-route="${id}"]`), `route ${id} listed`);
    assert.equal(await page.textContent('[data-route="shop"] .route-status'), 'active');
    assert.equal(await page.textContent('[data-route="legacy-billing"] .route-status'), 'unresolved');
    assert.equal(await page.textContent('[data-route="api"] .route-match'), 'api.example.com/v1');
    assert.match((await page.textContent('[data-route="api"]'))!, /GET POST/);

    // Upstreams with their pools, effective weights and target health.
    for (const name of ['shop', 'api', 'search', 'cart']) assert.ok(await page.isVisible(`[data-upstream="${name}"]`), `upstream ${name} shown`);
    await page.waitForSelector(`${pool('shop', 'blue')}[data-state="active"] .pool-weight[data-weight="100"]`, { timeout: UI_TIMEOUT });
    assert.equal(await page.getAttribute(`${pool('shop', 'green')} .pool-weight`, 'data-weight'), '0');
    assert.equal(await page.locator(`${pool('shop', 'green')} .target`).count(), 2);
    await page.waitForSelector(`${pool('search', 'main')} .target[data-state="unhealthy"]`, { timeout: UI_TIMEOUT });
    await page.waitForSelector(`${pool('search', 'main')} .target[data-state="healthy"]`, { timeout: UI_TIMEOUT });

    // Deployments: the running one live, the finished one in the history; the node with its lag.
    await page.waitForSelector(`#live-deployments [data-deployment="${runningDeployment}"][data-phase="flooding"]`, { timeout: UI_TIMEOUT });
    assert.equal(await page.locator('#live-deployments .step.current .step-w').textContent(), '10%');
    await page.waitForSelector('#deployments tr[data-phase="succeeded"]', { timeout: UI_TIMEOUT });
    await page.waitForSelector('#nodes .node-lag[data-lag="0"]', { timeout: UI_TIMEOUT });

    console.log(`screenshot: ${await screenshot(page, 'overview')}`);
    assert.deepEqual(browser.problems.get(page), [], 'no console errors (CSP violations included)');
  });

  test('shows a flip made through the admin API live, without a reload', { timeout: 60_000 }, async () => {
    await page.evaluate(() => ((globalThis as any).__sameDocument = 'yes'));
    const before = await admin(gw, 'GET', '/upstreams/shop');
    assert.deepEqual(before.body.weights, { blue: 100, green: 0 });

    const flip = await admin(gw, 'POST', '/upstreams/shop/flip', { to: 'green' });
    assert.equal(flip.status, 200, JSON.stringify(flip.body));

    await page.waitForSelector(`${pool('shop', 'green')}[data-state="active"] .pool-weight[data-weight="100"]`, { timeout: UI_TIMEOUT });
    await page.waitForSelector(`${pool('shop', 'blue')} .pool-weight[data-weight="0"]`, { timeout: UI_TIMEOUT });
    const blueState = await page.getAttribute(pool('shop', 'blue'), 'data-state');
    assert.ok(blueState === 'draining' || blueState === 'drained', `blue is ${blueState}`);
    await page.waitForSelector(`${pool('shop', 'blue')}[data-state="drained"]`, { timeout: UI_TIMEOUT });
    assert.equal(await page.evaluate(() => (globalThis as any).__sameDocument), 'yes', 'the page was not reloaded');
    console.log(`screenshot: ${await screenshot(page, 'flip-live')}`);
  });

  test('the flip button flips after confirmation, and does nothing when cancelled', { timeout: 60_000 }, async () => {
    const flipBlue = `${pool('shop', 'blue')} button[data-action="flip"]`;
    const revisionBefore = (await admin(gw, 'GET', '/upstreams/shop')).body.revision;

    // Cancel: nothing is written.
    await page.click(flipBlue);
    await page.waitForSelector('#confirm-dialog[open]', { timeout: UI_TIMEOUT });
    assert.match((await page.textContent('#confirm-title'))!, /Flip shop to blue\?/);
    console.log(`screenshot: ${await screenshot(page, 'confirm-flip', { fullPage: false })}`);
    await page.click('#confirm-cancel');
    await page.waitForSelector('#confirm-dialog:not([open])', { state: 'attached', timeout: UI_TIMEOUT });
    // Escape cancels too.
    await page.click(flipBlue);
    await page.waitForSelector('#confirm-dialog[open]', { timeout: UI_TIMEOUT });
    await page.keyboard.press('Escape');
    await page.waitForSelector('#confirm-dialog:not([open])', { state: 'attached', timeout: UI_TIMEOUT });
    await new Promise((r) => setTimeout(r, 1500));
    const unchanged = await admin(gw, 'GET', '/upstreams/shop');
    assert.equal(unchanged.body.revision, revisionBefore, 'a cancelled flip writes nothing');
    assert.deepEqual(unchanged.body.weights, { blue: 0, green: 100 });

    // Confirm: the flip is written and shows on the page.
    await page.click(flipBlue);
    await page.waitForSelector('#confirm-dialog[open]', { timeout: UI_TIMEOUT });
    await page.click('#confirm-ok');
    await waitFor(async () => {
      const u = await admin(gw, 'GET', '/upstreams/shop');
      return u.body.weights?.blue === 100 && u.body.flip?.to === 'blue';
    }, { timeoutMs: UI_TIMEOUT, what: 'the confirmed flip to be written' });
    await page.waitForSelector(`${pool('shop', 'blue')}[data-state="active"] .pool-weight[data-weight="100"]`, { timeout: UI_TIMEOUT });
    await page.waitForSelector(`${pool('shop', 'green')}[data-state="drained"]`, { timeout: UI_TIMEOUT });
    await page.waitForSelector('.toast-ok', { timeout: UI_TIMEOUT });
    console.log(`screenshot: ${await screenshot(page, 'flip-confirmed')}`);
  });

  test('drains a target and aborts a deployment, each after confirmation', { timeout: 60_000 }, async () => {
    const green2 = ups.find((u) => u.name === 'green-2')!;
    const drainBtn = `${pool('shop', 'green')} .target[data-target="${green2.url}"] button[data-action="drain"]`;
    await page.click(drainBtn);
    await page.waitForSelector('#confirm-dialog[open]', { timeout: UI_TIMEOUT });
    await page.click('#confirm-ok');
    await waitFor(async () => ((await admin(gw, 'GET', '/upstreams/shop')).body.drainTargets ?? []).includes(green2.url), { timeoutMs: UI_TIMEOUT, what: 'drainTargets to list green-2' });
    await page.waitForSelector(`${pool('shop', 'green')} .target[data-target="${green2.url}"][data-state="draining"] button[data-action="undrain"]`, { timeout: UI_TIMEOUT });

    const abortBtn = `#live-deployments [data-deployment="${runningDeployment}"] button[data-action="abort"]`;
    await page.click(abortBtn);
    await page.waitForSelector('#confirm-dialog[open]', { timeout: UI_TIMEOUT });
    assert.match((await page.textContent('#confirm-body'))!, /v1 100/, 'the dialog says what the rollback restores');
    console.log(`screenshot: ${await screenshot(page, 'confirm-abort', { fullPage: false })}`);
    await page.click('#confirm-ok');
    await waitFor(async () => ['rolling-back', 'rolled-back'].includes((await admin(gw, 'GET', `/deployments/${runningDeployment}`)).body.phase), { timeoutMs: 15000, intervalMs: 100, what: 'the abort to roll the deployment back' });
    await page.waitForSelector(`#deployments tr[data-deployment="${runningDeployment}"][data-phase="rolled-back"]`, { timeout: 15000 });
    await page.click(`#deployments tr[data-deployment="${runningDeployment}"] td:first-child`);
    await page.waitForSelector('#deployments .history-row .timeline li', { timeout: UI_TIMEOUT });
    console.log(`screenshot: ${await screenshot(page, 'after-actions')}`);
    assert.deepEqual(browser.problems.get(page), [], 'no console errors');
  });

  test('light colour scheme and a phone-sized screen', { timeout: 30_000 }, async () => {
    await page.emulateMedia({ colorScheme: 'light' });
    await page.waitForSelector('#conn[data-state="live"]', { timeout: UI_TIMEOUT });
    console.log(`screenshot: ${await screenshot(page, 'light')}`);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 400, height: 860 });
    await page.waitForTimeout(300);
    const overflow = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling on a narrow screen (overflow ${overflow}px)`);
    console.log(`screenshot: ${await screenshot(page, 'narrow')}`);
    await page.setViewportSize({ width: 1440, height: 900 });
  });
});
