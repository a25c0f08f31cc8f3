// The dashboard with --admin-token: the page loads, asks for the token once,
// keeps it in sessionStorage and sends it as a bearer header; /events wants
// the token (header or ?token=); the token never shows in the gateway's log.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';
import { launchBrowser, screenshot, type TestBrowser } from './browser.js';

const TOKEN = 'dashboard-s3cret-token-value';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const UI_TIMEOUT = 10_000;

/** Opens an SSE stream and resolves with its status, content type and the first chunk of body (if 200). */
function openStream(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; first: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      const type = String(res.headers['content-type'] ?? '');
      if (res.statusCode !== 200) {
        res.resume();
        return resolve({ status: res.statusCode ?? 0, type, first: '' });
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        if (buf.includes('event: state')) {
          req.destroy();
          resolve({ status: 200, type, first: buf });
        }
      });
    });
    req.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no state event within 10 s')));
  });
}

describe('dashboard with --admin-token', () => {
  let gw: GatewayProcess;
  let browser: TestBrowser;
  let page: Page;
  let blue: TestUpstream;
  let green: TestUpstream;

  before(async () => {
    browser = await launchBrowser();
    gw = await startGateway({ args: ['--admin-token', TOKEN] });
    blue = await startUpstream('blue');
    green = await startUpstream('green');
    let r = await admin(gw, 'PUT', '/upstreams/shop', { name: 'shop', pools: { blue: { targets: [blue.url] }, green: { targets: [green.url] } }, weights: { blue: 100 } }, AUTH);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await admin(gw, 'PUT', '/routes/shop', { id: 'shop', match: { path: '/shop' }, upstream: 'shop' }, AUTH);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.close();
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await blue?.close();
    await green?.close();
  });

  test('/events is 401 without the token, 200 with it as a header or ?token=', { timeout: 30_000 }, async () => {
    const none = await openStream(`${gw.adminUrl}/events`);
    assert.equal(none.status, 401);
    assert.equal((await openStream(`${gw.adminUrl}/events?token=wrong`)).status, 401);
    assert.equal((await openStream(`${gw.adminUrl}/events?token=${TOKEN}x`)).status, 401);
    assert.equal((await openStream(`${gw.adminUrl}/events`, { authorization: 'Bearer wrong' })).status, 401);
    const r = await admin(gw, 'GET', '/events');
    assert.equal(r.body.error, 'unauthorized');

    const byHeader = await openStream(`${gw.adminUrl}/events`, AUTH);
    assert.equal(byHeader.status, 200);
    assert.match(byHeader.type, /^text\/event-stream/);
    assert.match(byHeader.first, /event: routes\ndata: \{.*"id":"shop"/);
    const byQuery = await openStream(`${gw.adminUrl}/events?token=${encodeURIComponent(TOKEN)}`);
    assert.equal(byQuery.status, 200);
    assert.match(byQuery.first, /event: state\ndata: \{"at":\d+,"self":/);

    // The page's files carry no data and load without the token; the data endpoints still want it.
    for (const p of ['/', '/dashboard/app.js', '/dashboard/app.css', '/dashboard/favicon.svg']) assert.equal((await fetch(gw.adminUrl + p)).status, 200, p);
    for (const p of ['/routes', '/dashboard/nope', '/upstreams/shop/status', '/nodes']) assert.equal((await fetch(gw.adminUrl + p)).status, 401, p);
    assert.equal((await fetch(`${gw.adminUrl}/routes?token=${TOKEN}`)).status, 401, '?token= works for /events only');
  });

  test('the page asks for the token once, then works', { timeout: 60_000 }, async () => {
    const res = await page.goto(`${gw.adminUrl}/`);
    assert.equal(res?.status(), 200);
    await page.waitForSelector('#token-dialog[open]', { timeout: UI_TIMEOUT });
    await page.waitForSelector('#conn[data-state="locked"]', { timeout: UI_TIMEOUT });
    console.log(`screenshot: ${await screenshot(page, 'token', { fullPage: false })}`);

    // A wrong token is refused and the dialog says so.
    await page.fill('#token-input', 'not-the-token');
    await page.click('#token-submit');
    await page.waitForSelector('#token-error:not([hidden])', { timeout: UI_TIMEOUT });
    assert.match((await page.textContent('#token-error'))!, /refused/);

    await page.fill('#token-input', TOKEN);
    await page.click('#token-submit');
    await page.waitForSelector('#token-dialog:not([open])', { state: 'attached', timeout: UI_TIMEOUT });
    await page.waitForSelector('#conn[data-state="live"]', { timeout: UI_TIMEOUT });
    await page.waitForSelector('[data-route="shop"]', { timeout: UI_TIMEOUT });
    await page.waitForSelector('[data-upstream="shop"] [data-pool="blue"][data-state="active"]', { timeout: UI_TIMEOUT });
    assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('switchyard.adminToken')), TOKEN);

    // Actions send the bearer header.
    await page.click('[data-upstream="shop"] [data-pool="green"] button[data-action="flip"]');
    await page.waitForSelector('#confirm-dialog[open]', { timeout: UI_TIMEOUT });
    await page.click('#confirm-ok');
    await waitFor(async () => (await admin(gw, 'GET', '/upstreams/shop', undefined, AUTH)).body.weights?.green === 100, { timeoutMs: UI_TIMEOUT, what: 'the flip made from the page' });
    await page.waitForSelector('[data-upstream="shop"] [data-pool="green"][data-state="active"]', { timeout: UI_TIMEOUT });

    // Asked once: a reload uses the stored token.
    await page.reload();
    await page.waitForSelector('#conn[data-state="live"]', { timeout: UI_TIMEOUT });
    assert.equal(await page.isVisible('#token-dialog'), false, 'no second prompt');
    await page.waitForSelector('[data-upstream="shop"] [data-pool="green"][data-state="active"]', { timeout: UI_TIMEOUT });
    console.log(`screenshot: ${await screenshot(page, 'with-token')}`);

    assert.ok(!gw.output().includes(TOKEN), 'the token never shows in the gateway output');
  });

  test('open dashboard streams do not hold up a SIGTERM', { timeout: 30_000 }, async () => {
    // The page is still connected; add a raw stream too.
    const ended = new Promise<void>((resolve, reject) => {
      const req = http.get(`${gw.adminUrl}/events`, { headers: AUTH }, (res) => {
        assert.equal(res.statusCode, 200);
        res.resume();
        res.once('end', () => resolve());
        res.once('close', () => resolve());
      });
      req.once('error', reject);
    });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    assert.equal(await gw.stop(10_000), 0, gw.output().slice(-2000));
    assert.ok(Date.now() - t0 < 4000, `stopped in ${Date.now() - t0} ms`);
    await ended;
    assert.ok(!gw.output().includes(TOKEN), 'the token never shows in the gateway output');
  });
});
