// Admin API CRUD over a real gateway process: revisions and etags,
// conditional writes, 404/409, route status, OpenAPI, bearer-token auth.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FileStore } from '../../src/control/file-store.js';
import { admin, removeDir, startGateway, tempDir, type GatewayProcess } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

const UPSTREAM = {
  name: 'orders',
  pools: { blue: { targets: ['http://127.0.0.1:3001'] }, green: { registry: true } },
  weights: { blue: 100, green: 0 },
};
const ROUTE = { id: 'orders', match: { path: '/api/orders' }, upstream: 'orders' };

describe('admin API CRUD', () => {
  let gw: GatewayProcess;
  before(async () => {
    // Seed values the API would refuse, the way another tool sharing the store could.
    const dir = tempDir();
    const store = await FileStore.open(dir);
    await store.put('routes', 'garbage', { id: 'garbage', match: 'everything', upstream: 7 });
    await store.put('routes', 'scalar', 'not an object');
    await store.put('upstreams', 'broken', { name: 'broken', pools: { blue: { targets: ['nope'] } } });
    await store.close();
    gw = await startGateway({ storeDir: dir });
  });
  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
  });

  test('healthz and readyz', async () => {
    assert.deepEqual((await admin(gw, 'GET', '/healthz')).body, { status: 'ok' });
    const r = await waitFor(async () => {
      const x = await admin(gw, 'GET', '/readyz');
      return x.status === 200 ? x : null;
    }, { what: 'readyz 200' });
    assert.equal(r.body.ready, true);
    assert.equal(r.body.store, 'connected');
    assert.equal(typeof r.body.appliedRevision, 'number');
  });

  test('metrics are Prometheus text', async () => {
    const res = await fetch(gw.adminUrl + '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    await res.text();
  });

  test('upstream: create 201, replace 200, revision and etag, defaults applied', async () => {
    const created = await admin(gw, 'PUT', '/upstreams/orders', UPSTREAM);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const rev1 = created.body.revision;
    assert.equal(typeof rev1, 'number');
    assert.equal(created.headers.get('etag'), `"${rev1}"`);
    assert.equal(created.body.name, 'orders');
    assert.equal(created.body.balancer, 'round-robin');
    assert.deepEqual(created.body.weights, { blue: 100, green: 0 });

    // The name may be omitted from the body: it comes from the URL.
    const { name: _n, ...noName } = UPSTREAM;
    const replaced = await admin(gw, 'PUT', '/upstreams/orders', { ...noName, balancer: 'least-request' });
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
    assert.ok(replaced.body.revision > rev1);
    assert.equal(replaced.body.name, 'orders');

    const got = await admin(gw, 'GET', '/upstreams/orders');
    assert.equal(got.status, 200);
    assert.equal(got.body.revision, replaced.body.revision);
    assert.equal(got.headers.get('etag'), `"${replaced.body.revision}"`);
    assert.equal(got.body.balancer, 'least-request');
    assert.deepEqual(got.body.pools, UPSTREAM.pools);
    assert.equal(got.body.errors, undefined);

    const list = await admin(gw, 'GET', '/upstreams');
    assert.equal(list.status, 200);
    assert.ok(list.body.revision >= replaced.body.revision);
    assert.deepEqual(list.body.upstreams.map((u: { name: string }) => u.name), ['broken', 'orders']);
  });

  test('route: create, get with status active, list, defaults', async () => {
    const created = await admin(gw, 'PUT', '/routes/orders', ROUTE);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.headers.get('etag'), `"${created.body.revision}"`);
    assert.deepEqual(
      { stripPrefix: created.body.stripPrefix, timeoutMs: created.body.timeoutMs, retries: created.body.retries },
      { stripPrefix: false, timeoutMs: 30000, retries: 1 },
    );
    const got = await waitFor(async () => {
      const r = await admin(gw, 'GET', '/routes/orders');
      return r.body.status === 'active' ? r : null;
    }, { what: 'route orders active' });
    assert.equal(got.body.id, 'orders');
    assert.equal(got.body.revision, created.body.revision);
    assert.deepEqual(got.body.match, ROUTE.match);

    const list = await admin(gw, 'GET', '/routes');
    assert.equal(list.status, 200);
    const ids = list.body.routes.map((r: { id: string }) => r.id);
    assert.deepEqual(ids, ['garbage', 'orders', 'scalar']);
    assert.equal(list.body.routes[1].status, 'active');
    assert.ok(list.body.revision >= created.body.revision);
  });

  test('a route whose upstream does not exist is accepted and unresolved', async () => {
    const r = await admin(gw, 'PUT', '/routes/ghost', { match: { path: '/ghost' }, upstream: 'nobody' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const got = await waitFor(async () => {
      const x = await admin(gw, 'GET', '/routes/ghost');
      return x.body.status === 'unresolved' ? x : null;
    }, { what: 'route ghost unresolved' });
    assert.equal(typeof got.body.reason, 'string');
    assert.equal((await admin(gw, 'DELETE', '/routes/ghost')).status, 200);
  });

  test('stored values that are not valid resources: 200 with status invalid and errors', async () => {
    const g = await admin(gw, 'GET', '/routes/garbage');
    assert.equal(g.status, 200);
    assert.equal(g.body.status, 'invalid');
    assert.ok(g.body.errors.some((e: { field: string }) => e.field === '/match'), JSON.stringify(g.body.errors));
    const s = await admin(gw, 'GET', '/routes/scalar');
    assert.equal(s.status, 200);
    assert.equal(s.body.status, 'invalid');
    assert.equal(s.body.raw, '"not an object"');
    assert.ok(s.body.errors.length > 0);
    const u = await admin(gw, 'GET', '/upstreams/broken');
    assert.equal(u.status, 200);
    assert.ok(u.body.errors.some((e: { field: string }) => e.field === '/pools/blue/targets/0'), JSON.stringify(u.body));
  });

  test('If-Match: stale revision -> 412 with currentRevision, current -> 200, quoted or not', async () => {
    const cur = await admin(gw, 'GET', '/routes/orders');
    const rev = cur.body.revision as number;
    const stale = await admin(gw, 'PUT', '/routes/orders', ROUTE, { 'if-match': String(rev - 1) });
    assert.equal(stale.status, 412, JSON.stringify(stale.body));
    assert.equal(stale.body.error, 'precondition_failed');
    assert.equal(stale.body.currentRevision, rev);
    assert.equal(typeof stale.body.message, 'string');
    assert.equal((await admin(gw, 'GET', '/routes/orders')).body.revision, rev, 'nothing written');

    const ok = await admin(gw, 'PUT', '/routes/orders', { ...ROUTE, retries: 2 }, { 'if-match': `"${rev}"` });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const ok2 = await admin(gw, 'PUT', '/routes/orders', { ...ROUTE, retries: 3 }, { 'if-match': String(ok.body.revision) });
    assert.equal(ok2.status, 200, JSON.stringify(ok2.body));

    // The etag of a GET is what If-Match takes.
    const etag = (await admin(gw, 'GET', '/routes/orders')).headers.get('etag')!;
    const del412 = await admin(gw, 'DELETE', '/routes/orders', undefined, { 'if-match': `"${Number(etag.replace(/"/g, '')) - 1}"` });
    assert.equal(del412.status, 412);

    // If-None-Match: * = create only.
    const again = await admin(gw, 'PUT', '/routes/orders', ROUTE, { 'if-none-match': '*' });
    assert.equal(again.status, 412);
    const fresh = await admin(gw, 'PUT', '/routes/fresh', { match: { path: '/fresh' }, upstream: 'orders' }, { 'if-none-match': '*' });
    assert.equal(fresh.status, 201, JSON.stringify(fresh.body));
    const bad = await admin(gw, 'PUT', '/routes/fresh', { match: { path: '/fresh' }, upstream: 'orders' }, { 'if-match': 'W/abc' });
    assert.equal(bad.status, 400);
    assert.equal((await admin(gw, 'DELETE', '/routes/fresh', undefined, { 'if-match': etagOf(fresh) })).status, 200);
  });

  test('404s', async () => {
    for (const [method, p] of [
      ['GET', '/routes/missing'],
      ['DELETE', '/routes/missing'],
      ['GET', '/upstreams/missing'],
      ['DELETE', '/upstreams/missing'],
      ['GET', '/no/such/endpoint'],
    ] as const) {
      const r = await admin(gw, method, p);
      assert.equal(r.status, 404, `${method} ${p}`);
      assert.equal(r.body.error, 'not_found');
      assert.equal(typeof r.body.message, 'string');
    }
  });

  test('deleting an upstream a route uses -> 409; after the route is gone -> 200', async () => {
    const before = (await admin(gw, 'GET', '/upstreams')).body.revision;
    const c = await admin(gw, 'DELETE', '/upstreams/orders');
    assert.equal(c.status, 409, JSON.stringify(c.body));
    assert.equal(c.body.error, 'conflict');
    assert.match(c.body.message, /orders/);
    assert.equal((await admin(gw, 'GET', '/upstreams')).body.revision, before, 'nothing written');

    // Some clients send a JSON content type with an empty DELETE body.
    const dr = await admin(gw, 'DELETE', '/routes/orders', undefined, { 'content-type': 'application/json' });
    assert.equal(dr.status, 200, JSON.stringify(dr.body));
    assert.equal(dr.body.id, 'orders');
    assert.ok(dr.body.revision > before);
    assert.equal(dr.headers.get('etag'), `"${dr.body.revision}"`);
    assert.equal((await admin(gw, 'GET', '/routes/orders')).status, 404);

    const du = await admin(gw, 'DELETE', '/upstreams/orders');
    assert.equal(du.status, 200, JSON.stringify(du.body));
    assert.equal(du.body.name, 'orders');
    assert.ok(du.body.revision > dr.body.revision);
    assert.equal((await admin(gw, 'GET', '/upstreams/orders')).status, 404);
  });

  test('/openapi.json documents the endpoints with the real schemas', async () => {
    const r = await admin(gw, 'GET', '/openapi.json');
    assert.equal(r.status, 200);
    assert.match(String(r.body.openapi), /^3\./);
    for (const p of ['/healthz', '/readyz', '/metrics', '/routes', '/routes/{id}', '/upstreams', '/upstreams/{name}']) {
      assert.ok(r.body.paths[p], `path ${p} documented`);
    }
    assert.ok(r.body.paths['/routes/{id}'].put && r.body.paths['/routes/{id}'].delete && r.body.paths['/routes/{id}'].get);
    const route = r.body.components.schemas.Route;
    assert.equal(route.additionalProperties, false);
    assert.deepEqual([...route.required].sort(), ['match', 'upstream']);
    assert.equal(route.properties.match.properties.path.pattern, '^/');
    const up = r.body.components.schemas.Upstream;
    assert.ok(up.properties.pools && up.properties.weights && up.properties.healthCheck);
    assert.deepEqual(up.properties.balancer.enum, ['round-robin', 'least-request']);
    const body = r.body.paths['/upstreams/{name}'].put.requestBody.content['application/json'].schema;
    assert.equal(body.$ref, '#/components/schemas/Upstream');
  });
});

function etagOf(r: { headers: Headers }): string {
  return r.headers.get('etag')!;
}

describe('admin API auth (--admin-token)', () => {
  let gw: GatewayProcess;
  before(async () => {
    gw = await startGateway({ args: ['--admin-token', 'secret'] });
  });
  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
  });

  test('/healthz and /readyz need no token', async () => {
    assert.equal((await admin(gw, 'GET', '/healthz')).status, 200);
    await waitFor(async () => (await admin(gw, 'GET', '/readyz')).status === 200, { what: 'readyz 200 without a token' });
  });

  test('401 without a token or with a wrong one, on reads and writes', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Bearer secretx' }, { authorization: 'Basic c2VjcmV0' }, { authorization: 'secret' }] as Record<string, string>[]) {
      for (const [method, p, body] of [
        ['GET', '/routes', undefined],
        ['GET', '/routes/x', undefined],
        ['PUT', '/routes/x', { match: { path: '/' }, upstream: 'u' }],
        ['DELETE', '/upstreams/x', undefined],
        ['GET', '/metrics', undefined],
        ['GET', '/openapi.json', undefined],
        ['GET', '/no/such/endpoint', undefined],
      ] as const) {
        const r = await admin(gw, method, p, body, headers);
        assert.equal(r.status, 401, `${method} ${p} with ${JSON.stringify(headers)}`);
        assert.equal(r.body.error, 'unauthorized');
        assert.ok(!JSON.stringify(r.body).includes('secret'), 'the token is not echoed');
      }
    }
    // Nothing was written by the refused PUT.
    const list = await admin(gw, 'GET', '/routes', undefined, { authorization: 'Bearer secret' });
    assert.deepEqual(list.body.routes, []);
  });

  test('200 with the right token', async () => {
    const auth = { authorization: 'Bearer secret' };
    assert.equal((await admin(gw, 'GET', '/routes', undefined, auth)).status, 200);
    const put = await admin(gw, 'PUT', '/routes/x', { match: { path: '/' }, upstream: 'u' }, auth);
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.equal((await admin(gw, 'GET', '/routes/x', undefined, auth)).status, 200);
    assert.equal((await admin(gw, 'GET', '/metrics', undefined, auth)).status, 200);
    assert.equal((await admin(gw, 'DELETE', '/routes/x', undefined, auth)).status, 200);
  });

  test('the token never shows up in the gateway output', () => {
    assert.ok(!gw.output().includes('secret'), gw.output());
  });
});
