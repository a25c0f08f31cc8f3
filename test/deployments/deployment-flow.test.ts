import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAutocannon } from '../helpers/autocannon.js';
import { putRoute } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

// Probes fast enough for short tests, tolerant enough not to flap on a loaded 2-core machine.
const HEALTH = { path: '/healthz', intervalMs: 150, timeoutMs: 1000, healthy: 1, unhealthy: 3 };

/** An upstream whose /healthz and answers can be switched by the test. */
async function app(name: string, opts: { healthy?: boolean; failEvery?: number } = {}) {
  const state = { healthy: opts.healthy ?? true, failEvery: opts.failEvery ?? 0, served: 0 };
  const up = await startUpstream(name, (req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(state.healthy ? 200 : 503);
      return res.end();
    }
    state.served++;
    res.writeHead(state.failEvery && state.served % state.failEvery === 0 ? 500 : 200);
    res.end(name);
  });
  return { up, state };
}

describe('staged deployments on the embedded store', () => {
  let gw: GatewayProcess;
  const ups: TestUpstream[] = [];

  async function upstream(name: string, pools: Record<string, TestUpstream>) {
    const r = await admin(gw, 'PUT', `/upstreams/${name}`, {
      name,
      pools: Object.fromEntries(Object.entries(pools).map(([p, u]) => [p, { targets: [u.url] }])),
      weights: { blue: 100 },
      healthCheck: HEALTH,
    });
    assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.body));
  }

  async function finished(id: string, timeoutMs = 20000) {
    return waitFor(async () => {
      const d = await admin(gw, 'GET', `/deployments/${id}`);
      return ['succeeded', 'rolled-back', 'failed'].includes(d.body.phase) ? d.body : null;
    }, { timeoutMs, intervalMs: 100, what: `deployment ${id} to finish` });
  }

  before(async () => {
    gw = await startGateway();
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    for (const u of ups) await u.close();
  });

  it('floods a healthy pool step by step, drains the old one, and loses no request', async () => {
    const blue = await app('blue');
    const green = await app('green');
    ups.push(blue.up, green.up);
    await upstream('shop', { blue: blue.up, green: green.up });
    await putRoute(gw, 'shop', { path: '/shop' }, 'shop');
    await waitFor(async () => (await admin(gw, 'GET', '/upstreams/shop/status')).body.nodes?.[0]?.pools?.green?.healthy === 1, { what: 'green healthy' });
    const load = runAutocannon(`${gw.dataUrls[0]}/shop/x`, ['-c', '10', '-d', '5']);
    const created = await admin(gw, 'POST', '/deployments', {
      upstream: 'shop', pool: 'green', steps: [{ weight: 10, holdMs: 600 }, { weight: 50, holdMs: 600 }, { weight: 100 }],
      readyTimeoutMs: 5000, maxErrorRate: 0.05, minRequests: 20, drainTimeoutMs: 5000,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const second = await admin(gw, 'POST', '/deployments', { upstream: 'shop', pool: 'green', steps: [{ weight: 100 }] });
    assert.equal(second.status, 409, 'a second deployment of the same upstream is refused');
    const d = await finished(created.body.id);
    const result = await load.done;
    assert.equal(d.phase, 'succeeded', JSON.stringify(d.history));
    const phases = d.history.map((h: { phase: string }) => h.phase);
    assert.deepEqual(phases.filter((p: string, i: number) => p !== phases[i - 1]), ['pending', 'waiting-ready', 'flooding', 'draining', 'succeeded']);
    const steps = d.history.filter((h: { phase: string }) => h.phase === 'flooding').map((h: { step: number }) => h.step);
    assert.deepEqual(steps, [0, 1, 2], 'each step exactly once');
    assert.ok(d.coordinator, 'names its coordinator');
    const up = await admin(gw, 'GET', '/upstreams/shop');
    assert.deepEqual(up.body.weights, { blue: 0, green: 100 });
    assert.equal(result.errors + result.non2xx + result.timeouts, 0, 'no failed request during the deployment');
    assert.ok(green.state.served > 0);
  });

  it('rolls back a pool that answers 500 to half its requests, restoring the weights exactly', async () => {
    const blue = await app('blue');
    const green = await app('green', { failEvery: 2 });
    ups.push(blue.up, green.up);
    await upstream('cart', { blue: blue.up, green: green.up });
    await putRoute(gw, 'cart', { path: '/cart' }, 'cart');
    const before = (await admin(gw, 'GET', '/upstreams/cart')).body.weights;
    const load = runAutocannon(`${gw.dataUrls[0]}/cart/x`, ['-c', '4', '-d', '4']);
    const created = await admin(gw, 'POST', '/deployments', {
      upstream: 'cart', pool: 'green', steps: [{ weight: 50, holdMs: 2500 }, { weight: 100 }], readyTimeoutMs: 5000, maxErrorRate: 0.1, minRequests: 20, drainTimeoutMs: 2000,
    });
    assert.equal(created.status, 201);
    const d = await finished(created.body.id);
    await load.done;
    assert.equal(d.phase, 'rolled-back');
    const rb = d.history.find((h: { phase: string }) => h.phase === 'rolling-back');
    assert.match(rb.reason, /error rate 0\.\d+ .* above maxErrorRate 0\.1/);
    assert.deepEqual((await admin(gw, 'GET', '/upstreams/cart')).body.weights, before);
  });

  it('rolls back a pool that never becomes healthy at readyTimeoutMs; it never takes traffic', async () => {
    const blue = await app('blue');
    const green = await app('green', { healthy: false });
    ups.push(blue.up, green.up);
    await upstream('pay', { blue: blue.up, green: green.up });
    await putRoute(gw, 'pay', { path: '/pay' }, 'pay');
    const created = await admin(gw, 'POST', '/deployments', { upstream: 'pay', pool: 'green', steps: [{ weight: 100 }], readyTimeoutMs: 800 });
    assert.equal(created.status, 201);
    const d = await finished(created.body.id);
    assert.equal(d.phase, 'rolled-back');
    assert.match(d.history.find((h: { phase: string }) => h.phase === 'rolling-back').reason, /ready timeout/);
    assert.equal(green.state.served, 0, 'green never got a request');
  });

  it('abort rolls back', async () => {
    const blue = await app('blue');
    const green = await app('green');
    ups.push(blue.up, green.up);
    await upstream('news', { blue: blue.up, green: green.up });
    const created = await admin(gw, 'POST', '/deployments', { upstream: 'news', pool: 'green', steps: [{ weight: 10, holdMs: 60000 }, { weight: 100 }] });
    await waitFor(async () => (await admin(gw, 'GET', `/deployments/${created.body.id}`)).body.phase === 'flooding', { what: 'flooding' });
    const ab = await admin(gw, 'POST', `/deployments/${created.body.id}/abort`);
    assert.equal(ab.status, 202);
    const d = await finished(created.body.id);
    assert.equal(d.phase, 'rolled-back');
    assert.match(d.history.find((h: { phase: string }) => h.phase === 'rolling-back').reason, /aborted/);
    assert.deepEqual((await admin(gw, 'GET', '/upstreams/news')).body.weights, { blue: 100, green: 0 });
    assert.equal((await admin(gw, 'POST', `/deployments/${created.body.id}/abort`)).status, 409);
  });

  it('refuses bad input: unknown upstream or pool 404, steps not increasing or above 100 400, negative holds 400', async () => {
    const cases: [unknown, number][] = [
      [{ upstream: 'nope', pool: 'green', steps: [{ weight: 100 }] }, 404],
      [{ upstream: 'shop', pool: 'nope', steps: [{ weight: 100 }] }, 404],
      [{ upstream: 'shop', pool: 'green', steps: [{ weight: 50 }, { weight: 20 }, { weight: 100 }] }, 400],
      [{ upstream: 'shop', pool: 'green', steps: [{ weight: 150 }] }, 400],
      [{ upstream: 'shop', pool: 'green', steps: [{ weight: 10, holdMs: -5 }, { weight: 100 }] }, 400],
      [{ upstream: 'shop', pool: 'green', steps: [] }, 400],
      [{ upstream: 'shop', pool: 'green', steps: [{ weight: 100 }], maxErrorRate: 2 }, 400],
      [{ upstream: 'shop', pool: 'green', steps: [{ weight: 100 }], colour: 'red' }, 400],
      ['not json at all', 400],
    ];
    const beforeList = (await admin(gw, 'GET', '/deployments')).body.deployments.length;
    for (const [body, status] of cases) {
      const r = await admin(gw, 'POST', '/deployments', body);
      assert.equal(r.status, status, `${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.body)}`);
      assert.ok(r.body.message, 'names the problem');
    }
    assert.equal((await admin(gw, 'GET', '/deployments')).body.deployments.length, beforeList, 'nothing written');
    assert.equal((await admin(gw, 'GET', '/deployments/nope')).status, 404);
  });
});
