// The /events producer keeps its cost bounded: one shared timer whatever the
// number of clients, nothing while no client is connected, the config reads
// only when something changed, and messages only when the state changed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StateProducer, MAX_ROUTES, type Sink } from '../../src/control/dashboard/state-producer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakeGateway() {
  const calls: string[] = [];
  const g = {
    calls,
    applied: 1,
    inflight: 0,
    routes: [{ id: 'r1', match: { path: '/' }, upstream: 'u', status: 'active', revision: 1 }] as any[],
    fetch: async (url: string) => {
      calls.push(url);
      if (url === '/routes') return { status: 200, body: { routes: g.routes, revision: g.applied } };
      if (url === '/upstreams') return { status: 200, body: { upstreams: [{ name: 'u', pools: { a: { targets: ['http://127.0.0.1:1'] } } }], revision: g.applied } };
      if (url === '/upstreams/u/status') return { status: 200, body: { name: 'u', nodes: [{ node: 'n', appliedRevision: g.applied, pools: { a: { weight: 100, inflight: g.inflight } } }] } };
      if (url === '/nodes') return { status: 200, body: { nodes: [{ id: 'n', appliedRevision: g.applied }] } };
      if (url === '/deployments') return { status: 200, body: { deployments: [] } };
      return { status: 404, body: { error: 'not_found', message: url } };
    },
    self: () => ({ node: 'n', version: 't', ready: true, storeConnected: true, appliedRevision: g.applied }),
  };
  return g;
}

function sink() {
  const got: { event: string; data: any }[] = [];
  const s: Sink & { got: typeof got } = { got, send: (event, data) => got.push({ event, data: JSON.parse(data) }) };
  return s;
}

describe('dashboard state producer', () => {
  test('one shared timer for every client; stopped when none is connected', async () => {
    const g = fakeGateway();
    const p = new StateProducer({ fetch: g.fetch, self: g.self, tickMs: 30 });
    const a = sink();
    p.add(a);
    await sleep(200);
    const oneClient = g.calls.filter((c) => c === '/nodes').length;
    assert.ok(oneClient >= 3, `ticks run (${oneClient})`);

    const more = [sink(), sink(), sink(), sink()];
    for (const s of more) p.add(s);
    g.calls.length = 0;
    await sleep(200);
    const fiveClients = g.calls.filter((c) => c === '/nodes').length;
    assert.ok(fiveClients <= oneClient + 2, `5 clients cost what 1 does (${fiveClients} vs ${oneClient} node reads)`);
    assert.equal(p.clientCount, 5);
    // A late joiner got the current state at once.
    for (const s of more) assert.ok(s.got.some((m) => m.event === 'state') && s.got.some((m) => m.event === 'routes'));

    for (const s of [a, ...more]) p.remove(s);
    await sleep(60);
    assert.equal(p.active, false, 'timer stopped with the last client');
    g.calls.length = 0;
    await sleep(150);
    assert.deepEqual(g.calls, [], 'nothing is read while nobody watches');
  });

  test('sends only what changed; reads the config only when it changed (or every 5 s)', async () => {
    const g = fakeGateway();
    const p = new StateProducer({ fetch: g.fetch, self: g.self, tickMs: 25 });
    const s = sink();
    p.add(s);
    await sleep(200);
    assert.equal(s.got.filter((m) => m.event === 'routes').length, 1, 'routes sent once');
    assert.equal(s.got.filter((m) => m.event === 'state').length, 1, 'an unchanged state is not sent again');
    assert.equal(g.calls.filter((c) => c === '/routes').length, 1, 'routes read once while nothing changes');

    g.inflight = 3;
    await sleep(80);
    const states = s.got.filter((m) => m.event === 'state');
    assert.equal(states.length, 2);
    assert.equal(states[1]!.data.upstreams[0].status.nodes[0].pools.a.inflight, 3);
    assert.equal(typeof states[1]!.data.at, 'number');

    g.applied = 2;
    g.routes = [...g.routes, { id: 'r2', match: { path: '/x' }, upstream: 'u', status: 'active', revision: 2 }];
    await sleep(80);
    const routes = s.got.filter((m) => m.event === 'routes');
    assert.equal(routes.length, 2, 'a new applied revision re-reads and re-sends the routes');
    assert.deepEqual(routes[1]!.data.routes.map((r: any) => r.id), ['r1', 'r2']);

    p.markDirty();
    await sleep(60);
    assert.equal(g.calls.filter((c) => c === '/routes').length, 3, 'a write through the API re-reads the config');
    p.stop();
  });

  test('caps the routes it sends and reports read errors', async () => {
    const g = fakeGateway();
    g.routes = Array.from({ length: MAX_ROUTES + 5 }, (_, i) => ({ id: `r${i}`, match: { path: `/${i}` }, upstream: 'u', status: 'active', revision: 1 }));
    const orig = g.fetch;
    g.fetch = async (url: string) => (url === '/nodes' ? { status: 503, body: { error: 'store_unavailable', message: 'etcd down' } } : orig(url));
    const p = new StateProducer({ fetch: g.fetch, self: g.self, tickMs: 25 });
    const s = sink();
    p.add(s);
    await sleep(100);
    const r = s.got.find((m) => m.event === 'routes')!.data;
    assert.equal(r.total, MAX_ROUTES + 5);
    assert.equal(r.truncated, true);
    assert.equal(r.routes.length, MAX_ROUTES);
    const st = s.got.find((m) => m.event === 'state')!.data;
    assert.match(st.errors.nodes, /503 store_unavailable: etcd down/);
    p.stop();
  });
});
