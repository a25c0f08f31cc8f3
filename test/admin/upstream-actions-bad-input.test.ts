// Bad input to the upstream endpoints (CONTRACT §2 "Flip, drain and flood",
// §3): flip to an unknown pool 404, unknown upstream 404, a pool with no
// healthy target 409 unless force, bad weights / health path / drainTimeoutMs
// 400 naming the field, target drain of an unknown target 404. In every case
// nothing is written: the store revision is unchanged and GET shows the old
// resource.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { putRoute } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

/** A loopback port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Case {
  name: string;
  method: 'POST' | 'PUT' | 'GET';
  path: string;
  /** The body, or a function building it once the servers are up. */
  body?: unknown;
  status: number;
  error: string;
  /** a details[].field that must be reported (400s) */
  field?: string;
}

describe('upstream actions reject bad input and write nothing', () => {
  let gw: GatewayProcess;
  let up: TestUpstream;
  let base: Record<string, unknown>;

  before(async () => {
    up = await startUpstream('blue');
    const dead = `http://127.0.0.1:${await deadPort()}`;
    base = {
      name: 'shop',
      pools: { blue: { targets: [up.url] }, green: { targets: [dead] } },
      weights: { blue: 100, green: 0 },
      healthCheck: { path: '/healthz', intervalMs: 100, timeoutMs: 200 },
      drainTimeoutMs: 1000,
    };
    gw = await startGateway();
    const r = await admin(gw, 'PUT', '/upstreams/shop', base);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await putRoute(gw, 'shop', { path: '/' }, 'shop');
    await waitFor(
      async () => {
        const p = (await admin(gw, 'GET', '/upstreams/shop/status')).body.nodes[0].pools;
        return p.blue.healthy === 1 && p.green.healthy === 0;
      },
      { what: 'blue healthy, green not' },
    );
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await up?.close();
  });

  const upstream = (mut: (u: any) => void) => {
    const u = structuredClone(base) as any;
    mut(u);
    return u;
  };
  const flip = (body: unknown): Pick<Case, 'method' | 'path' | 'body'> => ({ method: 'POST', path: '/upstreams/shop/flip', body });
  const put = (mut: (u: any) => void): Pick<Case, 'method' | 'path' | 'body'> => ({ method: 'PUT', path: '/upstreams/shop', body: () => upstream(mut) });
  const drain = (body: unknown): Pick<Case, 'method' | 'path' | 'body'> => ({ method: 'POST', path: '/upstreams/shop/targets/drain', body });

  const CASES: Case[] = [
    { name: 'flip to an unknown pool', ...flip({ to: 'purple' }), status: 404, error: 'not_found' },
    { name: 'flip of an unknown upstream', method: 'POST', path: '/upstreams/nope/flip', body: { to: 'blue' }, status: 404, error: 'not_found' },
    { name: 'flip to a pool with no healthy target', ...flip({ to: 'green' }), status: 409, error: 'conflict' },
    { name: 'flip with force: false to a pool with no healthy target', ...flip({ to: 'green', force: false }), status: 409, error: 'conflict' },
    { name: 'flip without to', ...flip({}), status: 400, error: 'invalid_config', field: '/to' },
    { name: 'flip with no body', ...flip(undefined), status: 400, error: 'invalid_config' },
    { name: 'flip to a number', ...flip({ to: 5 }), status: 400, error: 'invalid_config', field: '/to' },
    { name: 'flip drainTimeoutMs below 0', ...flip({ to: 'blue', drainTimeoutMs: -1 }), status: 400, error: 'invalid_config', field: '/drainTimeoutMs' },
    { name: 'flip drainTimeoutMs above an hour', ...flip({ to: 'blue', drainTimeoutMs: 3_600_001 }), status: 400, error: 'invalid_config', field: '/drainTimeoutMs' },
    { name: 'flip drainTimeoutMs fractional', ...flip({ to: 'blue', drainTimeoutMs: 1.5 }), status: 400, error: 'invalid_config', field: '/drainTimeoutMs' },
    { name: 'flip drainTimeoutMs as a string', ...flip({ to: 'blue', drainTimeoutMs: '500' }), status: 400, error: 'invalid_config', field: '/drainTimeoutMs' },
    { name: 'flip rampMs below 0', ...flip({ to: 'blue', rampMs: -5 }), status: 400, error: 'invalid_config', field: '/rampMs' },
    { name: 'flip force not boolean', ...flip({ to: 'green', force: 'yes' }), status: 400, error: 'invalid_config', field: '/force' },
    { name: 'flip with an unknown field', ...flip({ to: 'blue', weights: { blue: 1 } }), status: 400, error: 'invalid_config', field: '/weights' },
    { name: 'weight below 0', ...put((u) => (u.weights.green = -1)), status: 400, error: 'invalid_config', field: '/weights/green' },
    { name: 'weight fractional', ...put((u) => (u.weights.blue = 99.5)), status: 400, error: 'invalid_config', field: '/weights/blue' },
    { name: 'weight as a string', ...put((u) => (u.weights.blue = '100')), status: 400, error: 'invalid_config', field: '/weights/blue' },
    { name: 'health path without a leading slash', ...put((u) => (u.healthCheck.path = 'healthz')), status: 400, error: 'invalid_config', field: '/healthCheck/path' },
    { name: 'health path empty', ...put((u) => (u.healthCheck.path = '')), status: 400, error: 'invalid_config', field: '/healthCheck/path' },
    { name: 'upstream drainTimeoutMs below 0', ...put((u) => (u.drainTimeoutMs = -1)), status: 400, error: 'invalid_config', field: '/drainTimeoutMs' },
    { name: 'upstream drainTimeoutMs above an hour', ...put((u) => (u.drainTimeoutMs = 3_600_001)), status: 400, error: 'invalid_config', field: '/drainTimeoutMs' },
    { name: 'upstream drainTimeoutMs fractional', ...put((u) => (u.drainTimeoutMs = 2.5)), status: 400, error: 'invalid_config', field: '/drainTimeoutMs' },
    { name: 'upstream drainTimeoutMs as a string', ...put((u) => (u.drainTimeoutMs = '1000')), status: 400, error: 'invalid_config', field: '/drainTimeoutMs' },
    { name: 'target drain of an unknown target', ...drain({ target: 'http://127.0.0.1:1' }), status: 404, error: 'not_found' },
    { name: 'target drain of an unknown upstream', method: 'POST', path: '/upstreams/nope/targets/drain', body: { target: 'http://127.0.0.1:1' }, status: 404, error: 'not_found' },
    { name: 'target drain with a non-URL', ...drain({ target: 'blue' }), status: 400, error: 'invalid_config', field: '/target' },
    { name: 'target drain without target', ...drain({}), status: 400, error: 'invalid_config', field: '/target' },
    { name: 'target drain with drain not boolean', ...drain(() => ({ target: up.url, drain: 'no' })), status: 400, error: 'invalid_config', field: '/drain' },
    { name: 'status of an unknown upstream', method: 'GET', path: '/upstreams/nope/status', status: 404, error: 'not_found' },
  ];

  const revision = async () => {
    const r = await admin(gw, 'GET', '/upstreams');
    assert.equal(r.status, 200);
    return r.body.revision as number;
  };

  for (const c of CASES) {
    test(`${c.name} -> ${c.status} ${c.error}`, async () => {
      const rev = await revision();
      const stored = await admin(gw, 'GET', '/upstreams/shop');
      const res = await admin(gw, c.method, c.path, typeof c.body === 'function' ? c.body() : c.body);
      assert.equal(res.status, c.status, `${c.name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error, c.error, JSON.stringify(res.body));
      assert.equal(typeof res.body.message, 'string');
      if (c.field !== undefined) {
        const fields = (res.body.details ?? []).map((d: { field: string }) => d.field);
        assert.ok(fields.includes(c.field), `a detail names ${c.field}: ${JSON.stringify(res.body.details)}`);
      }
      assert.equal(await revision(), rev, 'nothing was written (store revision)');
      assert.deepEqual((await admin(gw, 'GET', '/upstreams/shop')).body, stored.body, 'GET shows the old resource');
    });
  }

  test('control: force flips onto the unhealthy pool, a plain flip back works; each writes once', async () => {
    const rev = await revision();
    const forced = await admin(gw, 'POST', '/upstreams/shop/flip', { to: 'green', force: true, drainTimeoutMs: 0 });
    assert.equal(forced.status, 200, JSON.stringify(forced.body));
    assert.deepEqual(forced.body.weights, { blue: 0, green: 100 });
    assert.equal(forced.body.revision, rev + 1);
    assert.equal(forced.headers.get('etag'), `"${rev + 1}"`);
    const back = await admin(gw, 'POST', '/upstreams/shop/flip', { to: 'blue' });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.revision, rev + 2);
    const now = await admin(gw, 'GET', '/upstreams/shop');
    assert.deepEqual(now.body.weights, { blue: 100, green: 0 });
    assert.equal(now.body.flip.to, 'blue');
    const r = await fetch(gw.dataUrls[0]!);
    assert.equal(r.status, 200);
    await r.text();
  });
});
