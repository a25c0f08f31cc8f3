// Bad input to the admin API: every malformed, mistyped or inconsistent body
// gets a 4xx naming the problem, nothing is written, and nothing is ever a 500.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';

const ROUTE = { id: 'orders', match: { path: '/api/orders', methods: ['GET', 'POST'] }, upstream: 'orders', timeoutMs: 5000, retries: 1 };
const UPSTREAM = {
  name: 'orders',
  pools: { blue: { targets: ['http://127.0.0.1:3001'] }, green: { targets: ['http://127.0.0.1:3002'] } },
  weights: { blue: 100, green: 0 },
  balancer: 'round-robin',
};

interface Case {
  name: string;
  path: string;
  body: unknown;
  /** raw text body (sent as is) instead of JSON.stringify(body) */
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  error: string;
  /** a details[].field that must be reported */
  field?: string;
  /** text the message of that field (or the top-level message) must contain */
  says?: string | RegExp;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}
function route(mut: (r: any) => void): unknown {
  const r = clone(ROUTE) as any;
  mut(r);
  return r;
}
function upstream(mut: (u: any) => void): unknown {
  const u = clone(UPSTREAM) as any;
  mut(u);
  return u;
}

const CASES: Case[] = [
  { name: 'malformed JSON', path: '/routes/orders', body: undefined, raw: '{"id": "orders", "match": {', status: 400, error: 'invalid_json', says: /JSON/ },
  { name: 'empty JSON body', path: '/routes/orders', body: undefined, raw: '', status: 400, error: 'invalid_config', field: '', says: 'empty' },
  { name: 'whitespace JSON body', path: '/upstreams/orders', body: undefined, raw: ' \n ', status: 400, error: 'invalid_config', field: '', says: 'required' },
  { name: 'JSON with a charset parameter is JSON', path: '/routes/orders', body: route((r) => (r.match.path = 'nope')), headers: { 'content-type': 'application/json; charset=utf-8' }, status: 400, error: 'invalid_config', field: '/match/path' },
  { name: 'body is an array', path: '/routes/orders', body: [ROUTE], status: 400, error: 'invalid_config', field: '', says: 'must be object' },
  { name: 'body is a JSON string', path: '/upstreams/orders', body: 'orders', status: 400, error: 'invalid_config', field: '', says: 'must be object' },
  { name: 'body is null', path: '/routes/orders', body: null, status: 400, error: 'invalid_config', field: '' },
  { name: 'path of wrong type', path: '/routes/orders', body: route((r) => (r.match.path = 5)), status: 400, error: 'invalid_config', field: '/match/path', says: 'must be string' },
  { name: 'timeoutMs as a string', path: '/routes/orders', body: route((r) => (r.timeoutMs = '100')), status: 400, error: 'invalid_config', field: '/timeoutMs', says: 'integer' },
  { name: 'timeoutMs fractional', path: '/routes/orders', body: route((r) => (r.timeoutMs = 1.5)), status: 400, error: 'invalid_config', field: '/timeoutMs', says: 'integer' },
  { name: 'timeoutMs too large', path: '/routes/orders', body: route((r) => (r.timeoutMs = 3600001)), status: 400, error: 'invalid_config', field: '/timeoutMs', says: '3600000' },
  { name: 'retries too many', path: '/routes/orders', body: route((r) => (r.retries = 11)), status: 400, error: 'invalid_config', field: '/retries', says: '10' },
  { name: 'stripPrefix not boolean', path: '/routes/orders', body: route((r) => (r.stripPrefix = 'yes')), status: 400, error: 'invalid_config', field: '/stripPrefix', says: 'boolean' },
  { name: 'unknown field in match', path: '/routes/orders', body: route((r) => (r.match.colour = 'red')), status: 400, error: 'invalid_config', field: '/match/colour', says: 'unknown field' },
  { name: 'unknown top-level field', path: '/routes/orders', body: route((r) => (r.upstreams = 'x')), status: 400, error: 'invalid_config', field: '/upstreams', says: 'unknown field' },
  { name: '__proto__ key', path: '/routes/orders', body: undefined, raw: '{"__proto__": {"admin": true}, "match": {"path": "/"}, "upstream": "orders"}', status: 400, error: 'invalid_config', field: '/__proto__', says: 'unknown field' },
  { name: 'missing match.path', path: '/routes/orders', body: route((r) => delete r.match.path), status: 400, error: 'invalid_config', field: '/match/path', says: 'required' },
  { name: 'missing upstream', path: '/routes/orders', body: route((r) => delete r.upstream), status: 400, error: 'invalid_config', field: '/upstream', says: 'required' },
  { name: 'path without leading slash', path: '/routes/orders', body: route((r) => (r.match.path = 'api')), status: 400, error: 'invalid_config', field: '/match/path', says: 'must start with "/"' },
  { name: 'lower-case method', path: '/routes/orders', body: route((r) => (r.match.methods = ['get'])), status: 400, error: 'invalid_config', field: '/match/methods/0', says: 'HTTP method' },
  { name: 'empty methods', path: '/routes/orders', body: route((r) => (r.match.methods = [])), status: 400, error: 'invalid_config', field: '/match/methods' },
  { name: 'host with a port', path: '/routes/orders', body: route((r) => (r.match.host = 'shop.example.com:80')), status: 400, error: 'invalid_config', field: '/match/host', says: 'hostname' },
  { name: 'port not an integer', path: '/routes/orders', body: route((r) => (r.match.port = '8080')), status: 400, error: 'invalid_config', field: '/match/port', says: 'integer' },
  { name: 'port out of range', path: '/routes/orders', body: route((r) => (r.match.port = 70000)), status: 400, error: 'invalid_config', field: '/match/port', says: '65535' },
  { name: 'port outside --port-range', path: '/routes/orders', body: route((r) => (r.match.port = 1)), status: 400, error: 'invalid_config', field: '/match/port', says: '--port-range 42000-42009' },
  { name: 'bad id in URL', path: '/routes/Bad_ID', body: route((r) => delete r.id), status: 400, error: 'invalid_config', field: '/id', says: 'not a valid id' },
  { name: 'id too long in URL', path: `/routes/${'a'.repeat(129)}`, body: route((r) => delete r.id), status: 400, error: 'invalid_config', field: '/id' },
  { name: 'body id differs from URL', path: '/routes/orders', body: route((r) => (r.id = 'payments')), status: 400, error: 'invalid_config', field: '/id', says: 'must equal the id in the URL' },
  { name: 'invalid body id', path: '/routes/orders', body: route((r) => (r.id = 'Orders!')), status: 400, error: 'invalid_config', field: '/id' },
  { name: 'upstream name differs from URL', path: '/upstreams/orders', body: upstream((u) => (u.name = 'other')), status: 400, error: 'invalid_config', field: '/name', says: 'must equal the name in the URL' },
  { name: 'non-URL target', path: '/upstreams/orders', body: upstream((u) => (u.pools.blue.targets = ['not a url'])), status: 400, error: 'invalid_config', field: '/pools/blue/targets/0', says: 'URL' },
  { name: 'ftp target', path: '/upstreams/orders', body: upstream((u) => (u.pools.blue.targets = ['ftp://127.0.0.1:21'])), status: 400, error: 'invalid_config', field: '/pools/blue/targets/0', says: 'http' },
  { name: 'target with a path', path: '/upstreams/orders', body: upstream((u) => (u.pools.blue.targets = ['http://127.0.0.1:3001/api'])), status: 400, error: 'invalid_config', field: '/pools/blue/targets/0', says: 'path' },
  { name: 'target with a bad port', path: '/upstreams/orders', body: upstream((u) => (u.pools.blue.targets = ['http://127.0.0.1:99999'])), status: 400, error: 'invalid_config', field: '/pools/blue/targets/0', says: 'not a valid URL' },
  { name: 'target not a string', path: '/upstreams/orders', body: upstream((u) => (u.pools.blue.targets = [3001])), status: 400, error: 'invalid_config', field: '/pools/blue/targets/0', says: 'string' },
  { name: 'negative weight', path: '/upstreams/orders', body: upstream((u) => (u.weights.blue = -1)), status: 400, error: 'invalid_config', field: '/weights/blue', says: '>= 0' },
  { name: 'fractional weight', path: '/upstreams/orders', body: upstream((u) => (u.weights.blue = 0.5)), status: 400, error: 'invalid_config', field: '/weights/blue', says: 'integer' },
  { name: 'weight naming an unknown pool', path: '/upstreams/orders', body: upstream((u) => (u.weights.purple = 10)), status: 400, error: 'invalid_config', field: '/weights/purple', says: 'names no pool' },
  { name: 'pool with two sources', path: '/upstreams/orders', body: upstream((u) => (u.pools.blue.registry = true)), status: 400, error: 'invalid_config', field: '/pools/blue', says: 'exactly one' },
  { name: 'pool with no source', path: '/upstreams/orders', body: upstream((u) => (u.pools.blue = {})), status: 400, error: 'invalid_config', field: '/pools/blue', says: 'exactly one' },
  { name: 'no pools', path: '/upstreams/orders', body: upstream((u) => ((u.pools = {}), (u.weights = {}))), status: 400, error: 'invalid_config', field: '/pools', says: 'at least one pool' },
  { name: 'bad pool name', path: '/upstreams/orders', body: upstream((u) => ((u.pools['Blue Pool'] = { registry: true }))), status: 400, error: 'invalid_config', field: '/pools/Blue Pool', says: 'pool names' },
  { name: 'unknown pool field', path: '/upstreams/orders', body: upstream((u) => (u.pools.blue.tls = true)), status: 400, error: 'invalid_config', field: '/pools/blue/tls', says: 'unknown field' },
  { name: 'unknown balancer', path: '/upstreams/orders', body: upstream((u) => (u.balancer = 'random')), status: 400, error: 'invalid_config', field: '/balancer', says: 'round-robin' },
  { name: 'health check without path', path: '/upstreams/orders', body: upstream((u) => (u.healthCheck = { intervalMs: 1000 })), status: 400, error: 'invalid_config', field: '/healthCheck/path', says: 'required' },
  { name: 'health check interval too short', path: '/upstreams/orders', body: upstream((u) => (u.healthCheck = { path: '/h', intervalMs: 10 })), status: 400, error: 'invalid_config', field: '/healthCheck/intervalMs', says: '100' },
  { name: 'registry: false', path: '/upstreams/orders', body: upstream((u) => (u.pools.green = { registry: false })), status: 400, error: 'invalid_config', field: '/pools/green/registry' },
  { name: 'dns source without name', path: '/upstreams/orders', body: upstream((u) => (u.pools.green = { dns: { port: 3000 } })), status: 400, error: 'invalid_config', field: '/pools/green/dns/name', says: 'required' },
  { name: 'process source without command', path: '/upstreams/orders', body: upstream((u) => (u.pools.green = { process: { args: ['x'] } })), status: 400, error: 'invalid_config', field: '/pools/green/process/command', says: 'required' },
  { name: 'negative slowStartMs', path: '/upstreams/orders', body: upstream((u) => (u.slowStartMs = -5)), status: 400, error: 'invalid_config', field: '/slowStartMs' },
  { name: 'text/plain body', path: '/routes/orders', body: undefined, raw: JSON.stringify(ROUTE), headers: { 'content-type': 'text/plain' }, status: 415, error: 'unsupported_media_type' },
  { name: 'malformed If-Match', path: '/routes/orders', body: ROUTE, headers: { 'if-match': 'yesterday' }, status: 400, error: 'bad_request', says: 'If-Match' },
  { name: '2 MB body', path: '/routes/orders', body: undefined, raw: JSON.stringify(route((r) => (r.match.path = '/' + 'x'.repeat(2 * 1024 * 1024)))), status: 413, error: 'body_too_large' },
];

async function putRaw(gw: GatewayProcess, path: string, c: { body: unknown; raw?: string; headers?: Record<string, string> }) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...c.headers };
  const res = await fetch(gw.adminUrl + path, { method: 'PUT', headers, body: c.raw !== undefined ? c.raw : JSON.stringify(c.body) });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, body };
}

async function storeRevision(gw: GatewayProcess): Promise<number> {
  const r = await admin(gw, 'GET', '/routes');
  assert.equal(r.status, 200);
  assert.equal(typeof r.body.revision, 'number');
  return r.body.revision as number;
}

describe('admin API rejects bad input', () => {
  let gw: GatewayProcess;
  before(async () => {
    gw = await startGateway({ args: ['--port-range', '42000-42009'] });
    // A baseline so that "unchanged" means something.
    assert.equal((await admin(gw, 'PUT', '/upstreams/orders', UPSTREAM)).status, 201);
    assert.equal((await admin(gw, 'PUT', '/routes/orders', ROUTE)).status, 201);
  });
  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
  });

  test('the valid baseline bodies are accepted (control)', async () => {
    const before = await storeRevision(gw);
    const listenPort = Number(new URL(gw.dataUrls[0]!).port);
    const r = await admin(gw, 'PUT', '/routes/orders', route((x) => (x.match.port = listenPort)));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.revision, before + 1);
    const u = await admin(gw, 'PUT', '/upstreams/orders', UPSTREAM);
    assert.equal(u.status, 200, JSON.stringify(u.body));
  });

  for (const c of CASES) {
    test(`${c.name} -> ${c.status} ${c.error}`, async () => {
      const rev = await storeRevision(gw);
      const stored = await admin(gw, 'GET', c.path.startsWith('/routes') ? '/routes/orders' : '/upstreams/orders');
      const res = await putRaw(gw, c.path, c);
      assert.equal(res.status, c.status, `status for ${c.name}: ${JSON.stringify(res.body).slice(0, 500)}`);
      assert.equal(typeof res.body, 'object', `JSON error body: ${String(res.body).slice(0, 200)}`);
      assert.equal(res.body.error, c.error);
      assert.equal(typeof res.body.message, 'string');
      if (c.field !== undefined) {
        assert.ok(Array.isArray(res.body.details), 'details listed');
        const d = (res.body.details as { field: string; message: string }[]).find((x) => x.field === c.field);
        assert.ok(d, `a detail names ${JSON.stringify(c.field)}: ${JSON.stringify(res.body.details)}`);
        if (c.says !== undefined) {
          if (typeof c.says === 'string') assert.ok(d.message.includes(c.says), `${JSON.stringify(d.message)} says ${c.says}`);
          else assert.match(d.message, c.says);
        }
      } else if (c.says !== undefined) {
        if (typeof c.says === 'string') assert.ok(res.body.message.includes(c.says), res.body.message);
        else assert.match(res.body.message, c.says);
      }
      assert.equal(await storeRevision(gw), rev, 'nothing was written');
      const now = await admin(gw, 'GET', c.path.startsWith('/routes') ? '/routes/orders' : '/upstreams/orders');
      assert.equal(now.body.revision, stored.body.revision, 'the stored resource is unchanged');
    });
  }

  test('GET and DELETE with a bad id in the URL -> 400', async () => {
    for (const method of ['GET', 'DELETE']) {
      for (const p of ['/routes/UPPER', '/upstreams/has%20space', '/routes/-lead', `/upstreams/${'x'.repeat(200)}`]) {
        const r = await admin(gw, method, p);
        assert.equal(r.status, 400, `${method} ${p}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error, 'invalid_config');
        assert.equal(r.body.details[0].field, p.startsWith('/routes') ? '/id' : '/name');
      }
    }
  });

  test('many malformed bodies: always a 4xx JSON error, never a 500, nothing written', async () => {
    const rev = await storeRevision(gw);
    // Deterministic PRNG so a failure reproduces.
    let seed = 0x5eed;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;
    const notString = [5, null, true, {}, [], 1.5];
    const notInt = ['1', 1.5, null, true, {}, [], -1, 1e12];
    const notBool = ['true', 0, 1, null, {}, []];
    const routeMutations: ((r: any) => void)[] = [
      (r) => (r.id = pick([...notString, 'UPPER', '', '-x', 'a'.repeat(129)])),
      (r) => (r.upstream = pick([...notString, 'Bad Name', ''])),
      (r) => (r.match = pick([...notString.filter((x) => !(typeof x === 'object' && x !== null && !Array.isArray(x))), 'match'])),
      (r) => (r.match.path = pick([...notString, '', 'noslash', 'http://x/'])),
      (r) => (r.match.port = pick([...notInt, 0, 65536])),
      (r) => (r.match.host = pick([...notString, '', 'a..b', 'host:80', '*.', 'exa mple.com', '-x.com'])),
      (r) => (r.match.methods = pick(['GET', [], ['get'], [1], ['GET', 'GET'], [null], {}])),
      (r) => (r.timeoutMs = pick([...notInt, 0, 3600001])),
      (r) => (r.retries = pick([...notInt, 11])),
      (r) => (r.stripPrefix = pick(notBool)),
      (r) => (r[pick(['extra', 'upstreamName', 'ID', 'timeout'])] = pick([1, 'x', null])),
      (r) => (r.match[pick(['prefix', 'Path', 'headers'])] = '/x'),
      (r) => delete r[pick(['match', 'upstream'])],
    ];
    const upstreamMutations: ((u: any) => void)[] = [
      (u) => (u.name = pick([...notString, 'UPPER', ''])),
      (u) => (u.pools = pick([...notString.filter((x) => !(typeof x === 'object' && x !== null && !Array.isArray(x))), {}])),
      (u) => (u.pools.blue = pick([...notString, {}, { targets: [], registry: true }, { registry: 'yes' }, { dns: 'x' }])),
      (u) => (u.pools.blue.targets = pick([...notString.filter((x) => !Array.isArray(x)), ['x'], ['http://'], ['http://a/b'], ['http://a?q'], ['http://u:p@a'], ['mailto:a@b'], ['http://a', 'http://a']])),
      (u) => (u.weights = pick(['x', 1, [], { blue: -1 }, { blue: '1' }, { nope: 1 }, { blue: 1.5 }])),
      (u) => (u.balancer = pick([...notString, 'random', 'ROUND-ROBIN'])),
      (u) => (u.healthCheck = pick([...notString, {}, { path: 'x' }, { path: '/h', timeoutMs: 0 }, { path: '/h', healthy: 101 }, { path: '/h', extra: 1 }])),
      (u) => (u.slowStartMs = pick([...notInt, 3600001])),
      (u) => (u.drainTimeoutMs = pick([...notInt, 3600001])),
      (u) => (u[pick(['pool', 'targets', 'weight'])] = 1),
      (u) => delete u.pools,
    ];
    const garbage = ['', ' ', 'null', 'true', '0', '"x"', '[]', '{', '}', '{"a":}', '\u0000', '{"match":' + '['.repeat(5000) + ']'.repeat(5000) + '}', '1e999', 'NaN', "{'a':1}", '{"a":1,}', '\ufeff{}'];
    const bodies: { path: string; raw: string }[] = [];
    for (let i = 0; i < 150; i++) {
      const r = clone(ROUTE) as any;
      const n = 1 + rand(3);
      for (let j = 0; j < n; j++) {
        try {
          pick(routeMutations)(r);
        } catch {
          /* mutation of a field already replaced by a non-object: skip */
        }
      }
      bodies.push({ path: '/routes/orders', raw: JSON.stringify(r) });
      const u = clone(UPSTREAM) as any;
      for (let j = 0; j < n; j++) {
        try {
          pick(upstreamMutations)(u);
        } catch {
          /* as above */
        }
      }
      bodies.push({ path: '/upstreams/orders', raw: JSON.stringify(u) });
    }
    for (const g of garbage) bodies.push({ path: pick(['/routes/orders', '/upstreams/orders']), raw: g });
    // Truncations of a valid body are never valid JSON.
    const valid = JSON.stringify(UPSTREAM);
    for (let i = 0; i < 30; i++) bodies.push({ path: '/upstreams/orders', raw: valid.slice(0, rand(valid.length)) });

    let checked = 0;
    for (const b of bodies) {
      const res = await putRaw(gw, b.path, { body: undefined, raw: b.raw });
      const what = `${b.path} ${b.raw.slice(0, 200)} -> ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
      assert.ok(res.status >= 400 && res.status < 500, what);
      assert.ok(['invalid_config', 'invalid_json'].includes(res.body?.error), what);
      assert.equal(typeof res.body.message, 'string', what);
      if (res.body.error === 'invalid_config') {
        assert.ok(res.body.details.length > 0, what);
        for (const d of res.body.details) assert.ok(typeof d.field === 'string' && typeof d.message === 'string' && d.message.length > 0, what);
      }
      checked++;
    }
    assert.equal(checked, bodies.length);
    assert.equal(await storeRevision(gw), rev, 'nothing was written');
  });
});
