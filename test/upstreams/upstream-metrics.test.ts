// Upstream metrics (CONTRACT §5 and the issue): upstream_inflight,
// target_healthy, pool_state_changes_total, target_ejections_total and
// retries_total appear with the values the scenario implies.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

describe('upstream metrics', () => {
  let gw: GatewayProcess;
  let ok1: TestUpstream;
  let bad: TestUpstream;
  let ok2: TestUpstream;
  let resetter: TestUpstream;
  let ok3: TestUpstream;
  const held: ServerResponse[] = [];

  before(async () => {
    ok1 = await startUpstream('ok1', (req, res) => (req.url === '/m/slow' ? void held.push(res) : void res.end('ok1')));
    bad = await startUpstream('bad', (_req, res) => void res.writeHead(500).end('bad'));
    ok2 = await startUpstream('ok2');
    resetter = await startUpstream('resetter', (req) => req.socket.resetAndDestroy());
    ok3 = await startUpstream('ok3');
    gw = await startGateway();
    let r = await admin(gw, 'PUT', '/upstreams/m', { pools: { blue: { targets: [ok1.url, bad.url] }, green: { targets: [ok2.url] } }, weights: { blue: 100, green: 0 }, drainTimeoutMs: 2000 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await putRoute(gw, 'm', { path: '/m' }, 'm', { retries: 0 });
    await putUpstream(gw, 'rr', [resetter.url, ok3.url]);
    await putRoute(gw, 'rr', { path: '/rr' }, 'rr', { retries: 1 });
  });

  after(async () => {
    for (const h of held) h.destroy();
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await Promise.all([ok1, bad, ok2, resetter, ok3].map((u) => u?.close()));
  });

  it('reports in-flight, health, ejections, retries and pool state changes', async () => {
    const base = gw.dataUrls[0]!;
    let text = await scrape(gw);
    assert.equal(metricValue(text, 'switchyard_target_healthy', { upstream: 'm', pool: 'blue', target: bad.url }), 1, 'bad starts healthy');
    assert.equal(metricValue(text, 'switchyard_target_ejections_total', { target: bad.url }) ?? 0, 0);

    // Passive health: 5 consecutive 5xx eject `bad` (round-robin with ok1: 10 requests).
    const codes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await fetch(`${base}/m/x`);
      await r.text();
      codes.push(r.status);
    }
    assert.equal(codes.filter((c) => c === 500).length, 5, `codes ${codes}`);
    text = await scrape(gw);
    assert.equal(metricValue(text, 'switchyard_target_ejections_total', { target: bad.url }), 1, 'one ejection of bad');
    assert.equal(metricValue(text, 'switchyard_target_healthy', { upstream: 'm', pool: 'blue', target: bad.url }), 0, 'bad out of rotation');
    assert.equal(metricValue(text, 'switchyard_target_healthy', { upstream: 'm', pool: 'blue', target: ok1.url }), 1);
    assert.equal(metricValue(text, 'switchyard_target_healthy', { upstream: 'm', pool: 'green', target: ok2.url }), 1);

    // In flight: three held requests on ok1 (bad is ejected, so all go there).
    const slow = [0, 1, 2].map(() => fetch(`${base}/m/slow`).then((r) => r.text()));
    await waitFor(() => held.length === 3, { what: 'three requests held' });
    text = await scrape(gw);
    assert.equal(metricValue(text, 'switchyard_upstream_inflight', { upstream: 'm', pool: 'blue' }), 3, 'in flight on blue');
    assert.equal(metricValue(text, 'switchyard_upstream_inflight', { upstream: 'm', pool: 'green' }), 0, 'in flight on green');

    // A flip while they run: blue draining, then drained once they finish.
    const flip = await admin(gw, 'POST', '/upstreams/m/flip', { to: 'green' });
    assert.equal(flip.status, 200, JSON.stringify(flip.body));
    text = await scrape(gw);
    assert.equal(metricValue(text, 'switchyard_pool_state_changes_total', { upstream: 'm', pool: 'blue', state: 'draining' }), 1);
    assert.equal(metricValue(text, 'switchyard_pool_state_changes_total', { upstream: 'm', pool: 'green', state: 'active' }), 1);
    assert.equal(metricValue(text, 'switchyard_pool_state_changes_total', { upstream: 'm', pool: 'blue', state: 'drained' }) ?? 0, 0, 'not drained while requests run');
    for (const h of held.splice(0)) h.end('done');
    assert.deepEqual(await Promise.all(slow), ['done', 'done', 'done']);
    await waitFor(async () => metricValue(await scrape(gw), 'switchyard_pool_state_changes_total', { upstream: 'm', pool: 'blue', state: 'drained' }) === 1, { what: 'blue drained' });
    text = await scrape(gw);
    assert.equal(metricValue(text, 'switchyard_upstream_inflight', { upstream: 'm', pool: 'blue' }), 0, 'nothing in flight after the drain');

    // Retries: a GET reset by `resetter` is retried once on ok3.
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${base}/rr/${i}`);
      assert.equal(r.status, 200);
      await r.text();
    }
    text = await scrape(gw);
    assert.ok(resetter.count >= 1, 'some GET started on the resetting target');
    assert.equal(metricValue(text, 'switchyard_retries_total', { route: 'rr' }), resetter.count, 'every reset GET was retried once');
    assert.equal(metricValue(text, 'switchyard_retries_total', { route: 'm' }) ?? 0, 0, 'retries: 0 route never retried');
  });

  it('connection resets count for passive health like 5xx: 5 in a row eject the target', async () => {
    // Continues the scenario above: every GET to /rr is reset by `resetter` (then retried on ok3).
    const base = gw.dataUrls[0]!;
    for (let i = 0; i < 12 && resetter.count < 5; i++) {
      const r = await fetch(`${base}/rr/more${i}`);
      assert.equal(r.status, 200);
      await r.text();
    }
    assert.ok(resetter.count >= 5, `the resetter saw ${resetter.count} requests`);
    const seen = resetter.count;
    const text = await scrape(gw);
    assert.equal(
      metricValue(text, 'switchyard_target_ejections_total', { target: resetter.url }) ?? 0,
      1,
      'CONTRACT §2 "connection errors and 5xx responses eject a target": a target resetting 5 connections in a row after the request was sent must be ejected',
    );
    for (let i = 0; i < 10; i++) await (await fetch(`${base}/rr/after${i}`)).text();
    assert.equal(resetter.count, seen, 'the ejected target takes no traffic');
  });
});
