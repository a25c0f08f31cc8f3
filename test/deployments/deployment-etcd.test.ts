import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAutocannon } from '../helpers/autocannon.js';
import { putRoute } from '../helpers/config.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { admin, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

// Probes fast enough for short tests, tolerant enough not to flap on a loaded 2-core machine.
const HEALTH = { path: '/healthz', intervalMs: 150, timeoutMs: 1000, healthy: 1, unhealthy: 3 };
type Hist = { phase: string; step?: number; node: string; reason: string };

describe('staged deployments across two nodes on etcd', () => {
  let etcd: EtcdCluster;
  const nodes: GatewayProcess[] = [];
  const ups: TestUpstream[] = [];

  async function node(id: string) {
    const g = await startGateway({ args: ['--store', `etcd://${etcd.endpoints[0]!.replace('http://', '')}`, '--prefix', '/dep-test/', '--node-id', id] });
    nodes.push(g);
    return g;
  }

  async function finished(gw: GatewayProcess, id: string, timeoutMs = 30000) {
    return waitFor(async () => {
      const d = await admin(gw, 'GET', `/deployments/${id}`);
      return ['succeeded', 'rolled-back', 'failed'].includes(d.body.phase) ? d.body : null;
    }, { timeoutMs, intervalMs: 100, what: `deployment ${id} to finish` });
  }

  before(async () => {
    etcd = await startEtcd();
  });

  after(async () => {
    for (const n of nodes) await n.kill9();
    for (const u of ups) await u.close();
    await etcd?.close();
  });

  it('succeeds with traffic on both nodes, then survives the death of its coordinator mid-flood', async () => {
    const a = await node('node-a');
    const b = await node('node-b');
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    ups.push(blue, green);
    const up = await admin(a, 'PUT', '/upstreams/shop', { name: 'shop', pools: { blue: { targets: [blue.url] }, green: { targets: [green.url] } }, weights: { blue: 100 }, healthCheck: HEALTH });
    assert.equal(up.status, 201);
    await putRoute(a, 'shop', { path: '/' }, 'shop');
    await waitFor(async () => (await admin(b, 'GET', '/nodes')).body.nodes?.length === 2, { what: 'both nodes registered' });
    await waitFor(async () => (await fetch(b.dataUrls[0]!)).status === 200, { what: 'route on node b' });

    // 1. A healthy deployment with traffic on both nodes.
    const loadA = runAutocannon(a.dataUrls[0]!, ['-c', '8', '-d', '6']);
    const loadB = runAutocannon(b.dataUrls[0]!, ['-c', '8', '-d', '6']);
    const created = await admin(b, 'POST', '/deployments', { upstream: 'shop', pool: 'green', steps: [{ weight: 10, holdMs: 700 }, { weight: 50, holdMs: 700 }, { weight: 100 }], readyTimeoutMs: 10000, drainTimeoutMs: 5000 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const d = await finished(a, created.body.id);
    const [ra, rb] = await Promise.all([loadA.done, loadB.done]);
    assert.equal(d.phase, 'succeeded', JSON.stringify(d.history));
    const phases = (d.history as Hist[]).map((h) => h.phase).filter((p, i, all) => p !== all[i - 1]);
    assert.deepEqual(phases, ['pending', 'waiting-ready', 'flooding', 'draining', 'succeeded']);
    assert.deepEqual((await admin(b, 'GET', '/upstreams/shop')).body.weights, { blue: 0, green: 100 });
    for (const r of [ra, rb]) assert.equal(r.errors + r.non2xx + r.timeouts, 0, `no failed request on either node: ${JSON.stringify({ errors: r.errors, non2xx: r.non2xx, timeouts: r.timeouts, total: r.requests.total, codes: (r as unknown as { statusCodeStats?: unknown }).statusCodeStats })} ${JSON.stringify(d.history)}`);
    assert.equal(d.nodes.length, 2, 'per-node view of both nodes');

    // 2. Kill the coordinator while flooding: the other node takes over and finishes.
    const back = await admin(a, 'POST', '/deployments', { upstream: 'shop', pool: 'blue', steps: [{ weight: 20, holdMs: 1500 }, { weight: 60, holdMs: 1500 }, { weight: 100 }], readyTimeoutMs: 10000, drainTimeoutMs: 3000 });
    assert.equal(back.status, 201);
    const flooding = await waitFor(async () => {
      const x = await admin(a, 'GET', `/deployments/${back.body.id}`);
      return x.body.phase === 'flooding' ? x.body : null;
    }, { timeoutMs: 10000, what: 'flooding' });
    const leader = nodes.find((n) => n.output().length >= 0 && flooding.coordinator === (n === a ? 'node-a' : 'node-b'))!;
    const survivor = leader === a ? b : a;
    const killedAt = Date.now();
    await leader.kill9();
    const done = await finished(survivor, back.body.id, 40000);
    assert.equal(done.phase, 'succeeded', JSON.stringify(done.history));
    assert.equal(done.coordinator, survivor === a ? 'node-a' : 'node-b');
    const takeover = (done.history as Hist[]).find((h) => /took over/.test(h.reason));
    assert.ok(takeover, 'history records the takeover');
    assert.ok(Date.parse((takeover as unknown as { at: string }).at) - killedAt < 5000 + 2000, 'takeover within the election TTL');
    const steps = (done.history as Hist[]).filter((h) => h.phase === 'flooding' && h.step !== undefined).map((h) => h.step);
    assert.deepEqual(steps, [0, 1, 2], 'no step twice');
    assert.deepEqual((await admin(survivor, 'GET', '/upstreams/shop')).body.weights, { blue: 100, green: 0 });
  });
});

describe('deployment gates and rollbacks across two nodes on etcd', () => {
  let etcd: EtcdCluster;
  const nodes: GatewayProcess[] = [];
  const ups: TestUpstream[] = [];

  before(async () => {
    etcd = await startEtcd();
    for (const id of ['gate-a', 'gate-b']) {
      nodes.push(await startGateway({ args: ['--store', `etcd://${etcd.endpoints[0]!.replace('http://', '')}`, '--prefix', '/dep-gates/', '--node-id', id] }));
    }
  });

  after(async () => {
    for (const n of nodes) await n.kill9();
    for (const u of ups) await u.close();
    await etcd?.close();
  });

  async function setup(name: string, green: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) {
    const blue = await startUpstream(`${name}-blue`, (req, res) => res.end(req.url === '/healthz' ? 'ok' : 'blue'));
    let served = 0;
    const g = await startUpstream(`${name}-green`, (req, res) => {
      if (req.url !== '/healthz') served++;
      green(req, res);
    });
    ups.push(blue, g);
    const [a] = nodes;
    const r = await admin(a!, 'PUT', `/upstreams/${name}`, { name, pools: { blue: { targets: [blue.url] }, green: { targets: [g.url] } }, weights: { blue: 100 }, healthCheck: HEALTH });
    assert.equal(r.status, 201);
    await putRoute(a!, name, { path: `/${name}` }, name);
    for (const n of nodes) await waitFor(async () => (await fetch(`${n.dataUrls[0]}/${name}/x`)).status === 200, { what: `route ${name} on ${n.adminUrl}` });
    return { greenServed: () => served };
  }

  async function finishedOn(gw: GatewayProcess, id: string) {
    return waitFor(async () => {
      const d = await admin(gw, 'GET', `/deployments/${id}`);
      return ['succeeded', 'rolled-back', 'failed'].includes(d.body.phase) ? d.body : null;
    }, { timeoutMs: 30000, intervalMs: 100, what: `deployment ${id} to finish` });
  }

  it('rolls back a pool answering 500 to half its requests within one hold, weights exactly as before; a second deployment is 409', async () => {
    let n = 0;
    await setup('cart', (req, res) => {
      if (req.url === '/healthz') return res.end('ok');
      res.writeHead(++n % 2 === 0 ? 500 : 200);
      res.end();
    });
    const [a, b] = nodes as [GatewayProcess, GatewayProcess];
    const before = (await admin(a, 'GET', '/upstreams/cart')).body.weights;
    const loads = [a, b].map((g) => runAutocannon(`${g.dataUrls[0]}/cart/x`, ['-c', '4', '-d', '6']));
    const created = await admin(b, 'POST', '/deployments', { upstream: 'cart', pool: 'green', steps: [{ weight: 50, holdMs: 3000 }, { weight: 100 }], readyTimeoutMs: 8000, maxErrorRate: 0.1, minRequests: 20, drainTimeoutMs: 2000 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((await admin(a, 'POST', '/deployments', { upstream: 'cart', pool: 'green', steps: [{ weight: 100 }] })).status, 409);
    const d = await finishedOn(a, created.body.id);
    await Promise.all(loads.map((l) => l.done));
    assert.equal(d.phase, 'rolled-back', JSON.stringify(d.history));
    const flood = (d.history as Hist[]).find((h) => h.phase === 'flooding')!;
    const rb = (d.history as Hist[]).find((h) => h.phase === 'rolling-back')!;
    assert.match(rb.reason, /error rate 0\.\d+ \(\d+ of \d+ requests\) above maxErrorRate 0\.1/);
    const within = Date.parse((rb as unknown as { at: string }).at) - Date.parse((flood as unknown as { at: string }).at);
    assert.ok(within < 3000 + 1500, `rolled back ${within} ms after the step began (hold 3000 ms)`);
    for (const g of [a, b]) assert.deepEqual((await admin(g, 'GET', '/upstreams/cart')).body.weights, before);
  });

  it('rolls back a pool that never becomes healthy at readyTimeoutMs; it never takes traffic; abort rolls back', async () => {
    const never = await setup('pay', (req, res) => {
      res.writeHead(req.url === '/healthz' ? 503 : 200);
      res.end();
    });
    const [a, b] = nodes as [GatewayProcess, GatewayProcess];
    const created = await admin(a, 'POST', '/deployments', { upstream: 'pay', pool: 'green', steps: [{ weight: 100 }], readyTimeoutMs: 1500 });
    assert.equal(created.status, 201);
    const d = await finishedOn(b, created.body.id);
    assert.equal(d.phase, 'rolled-back');
    assert.match((d.history as Hist[]).find((h) => h.phase === 'rolling-back')!.reason, /ready timeout/);
    assert.equal(never.greenServed(), 0, 'green never took traffic');

    await setup('news', (req, res) => res.end(req.url === '/healthz' ? 'ok' : 'green'));
    const slow = await admin(b, 'POST', '/deployments', { upstream: 'news', pool: 'green', steps: [{ weight: 10, holdMs: 60000 }, { weight: 100 }] });
    await waitFor(async () => (await admin(a, 'GET', `/deployments/${slow.body.id}`)).body.phase === 'flooding', { timeoutMs: 15000, what: 'flooding' });
    assert.equal((await admin(a, 'POST', `/deployments/${slow.body.id}/abort`)).status, 202);
    const aborted = await finishedOn(b, slow.body.id);
    assert.equal(aborted.phase, 'rolled-back');
    assert.deepEqual((await admin(b, 'GET', '/upstreams/news')).body.weights, { blue: 100, green: 0 });
  });
});
