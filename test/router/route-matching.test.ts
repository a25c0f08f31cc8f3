import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { RouteTable, type Matchable } from '../../src/router/route-table.js';
import { normalizePath } from '../../src/router/normalize-path.js';
import type { RouteMatch } from '../../src/resources.js';

type Route = Matchable & { upstream: string };
const r = (id: string, match: RouteMatch): Route => ({ id, match, upstream: id });

/** [name, port, host, method, path, expected route id or null] */
type Case = [string, number, string | undefined, string, string, string | null];

/** Runs every case against the table built in given and in reversed order, cached and not. */
async function table(t: TestContext, routes: Route[], cases: Case[]) {
  const tables = [
    new RouteTable(routes, { cacheSize: 1000 }),
    new RouteTable([...routes].reverse(), { cacheSize: 1000 }),
    new RouteTable(routes, { cacheSize: 0 }),
    new RouteTable(routes),
  ];
  for (const [name, port, host, method, path, want] of cases) {
    await t.test(name, () => {
      for (const tbl of tables) {
        for (let i = 0; i < 2; i++) assert.equal(tbl.match(port, host, method, path)?.id ?? null, want); // 2nd: cached
      }
    });
  }
}

test('path prefixes are segment-aware, longest wins', (t) =>
  table(
    t,
    [r('root', { path: '/' }), r('api', { path: '/api' }), r('api-v2', { path: '/api/v2' }), r('admin', { path: '/admin' })],
    [
      ['/api exact', 80, undefined, 'GET', '/api', 'api'],
      ['/api/ trailing slash', 80, undefined, 'GET', '/api/', 'api'],
      ['/api/x below', 80, undefined, 'GET', '/api/x', 'api'],
      ['/apix is not /api', 80, undefined, 'GET', '/apix', 'root'],
      ['/api/v2 beats /api', 80, undefined, 'GET', '/api/v2', 'api-v2'],
      ['/api/v2/x beats /api', 80, undefined, 'GET', '/api/v2/x', 'api-v2'],
      ['/api/v2x falls back to /api', 80, undefined, 'GET', '/api/v2x', 'api'],
      ['/api/v falls back to /api', 80, undefined, 'GET', '/api/v', 'api'],
      ['root catches /', 80, undefined, 'GET', '/', 'root'],
      ['root catches anything', 80, undefined, 'GET', '/x/y/z', 'root'],
      ['/admin/deep', 80, undefined, 'GET', '/admin/a/b/c', 'admin'],
    ],
  ));

test('no route -> null', (t) =>
  table(
    t,
    [r('api', { path: '/api' })],
    [
      ['other path', 80, undefined, 'GET', '/other', null],
      ['root path', 80, undefined, 'GET', '/', null],
      ['prefix of route', 80, undefined, 'GET', '/ap', null],
      ['/apix', 80, undefined, 'GET', '/apix', null],
    ],
  ));

test('segment prefixes of route paths are not routes themselves', (t) =>
  table(
    t,
    [r('deep', { path: '/a/b/c' }), r('deep-dir', { path: '/x/y/' }), r('root', { path: '/' })],
    [
      ['/a/b/c/d', 80, undefined, 'GET', '/a/b/c/d', 'deep'],
      ['/a/b/c', 80, undefined, 'GET', '/a/b/c', 'deep'],
      ['/a/b is only a prefix', 80, undefined, 'GET', '/a/b', 'root'],
      ['/a/b/ is only a prefix', 80, undefined, 'GET', '/a/b/', 'root'],
      ['/a/bc', 80, undefined, 'GET', '/a/b/cd', 'root'],
      ['/a/x below a prefix', 80, undefined, 'GET', '/a/x/c', 'root'],
      ['/x/y does not match /x/y/', 80, undefined, 'GET', '/x/y', 'root'],
      ['/x/y/z', 80, undefined, 'GET', '/x/y/z', 'deep-dir'],
      ['unknown first segment', 80, undefined, 'GET', '/q/a/b/c', 'root'],
    ],
  ));

test('deep and long paths', () => {
  const deep = '/d'.repeat(200); // more '/' than the lookup scratch holds at first
  const t = new RouteTable([r('deep', { path: deep }), r('d', { path: '/d' }), r('long', { path: '/l' })], { cacheSize: 1000 });
  assert.equal(t.match(80, undefined, 'GET', deep + '/x')?.id, 'deep');
  assert.equal(t.match(80, undefined, 'GET', '/d'.repeat(150))?.id, 'd');
  const long = '/l/' + 'x'.repeat(5000); // bypasses the cache
  assert.equal(t.match(80, undefined, 'GET', long)?.id, 'long');
  assert.equal(t.match(80, undefined, 'GET', long)?.id, 'long');
  assert.equal(t.cacheSize, 0, 'keys over 256 chars are not cached');
  assert.equal(t.match(80, undefined, 'GET', '/d/x')?.id, 'd');
  assert.equal(t.cacheSize, 1);
});

test('empty table -> null', () => {
  const t = new RouteTable<Route>([]);
  assert.equal(t.match(80, 'x', 'GET', '/'), null);
  assert.equal(t.size, 0);
});

test('route path with trailing slash', (t) =>
  table(
    t,
    [r('dir', { path: '/api/' })],
    [
      ['/api does not match /api/', 80, undefined, 'GET', '/api', null],
      ['/api/ matches', 80, undefined, 'GET', '/api/', 'dir'],
      ['/api/x matches', 80, undefined, 'GET', '/api/x', 'dir'],
      ['/apix does not match', 80, undefined, 'GET', '/apix', null],
    ],
  ));

test('/api and /api/ together: longer wins where both apply', (t) =>
  table(
    t,
    [r('a', { path: '/api' }), r('b', { path: '/api/' })],
    [
      ['/api', 80, undefined, 'GET', '/api', 'a'],
      ['/api/', 80, undefined, 'GET', '/api/', 'b'],
      ['/api/x', 80, undefined, 'GET', '/api/x', 'b'],
    ],
  ));

test('hosts: exact, wildcard, none; case and port insensitive', (t) =>
  table(
    t,
    [
      r('exact', { host: 'shop.example.com', path: '/' }),
      r('wild', { host: '*.example.com', path: '/' }),
      r('upper', { host: 'API.Example.ORG', path: '/' }),
      r('upwild', { host: '*.Example.NET', path: '/' }),
      r('v6', { host: '[::1]', path: '/' }),
      r('none', { path: '/' }),
    ],
    [
      ['exact host', 80, 'shop.example.com', 'GET', '/', 'exact'],
      ['exact host upper-case', 80, 'SHOP.Example.COM', 'GET', '/', 'exact'],
      ['exact host with port', 80, 'shop.example.com:8080', 'GET', '/', 'exact'],
      ['exact host with trailing dot', 80, 'shop.example.com.', 'GET', '/', 'exact'],
      ['route host upper-case', 80, 'api.example.org', 'GET', '/', 'upper'],
      ['wildcard one label', 80, 'a.example.com', 'GET', '/', 'wild'],
      ['wildcard two labels', 80, 'a.b.example.com', 'GET', '/', 'wild'],
      ['wildcard upper-case with port', 80, 'A.EXAMPLE.COM:443', 'GET', '/', 'wild'],
      ['wildcard route upper-case', 80, 'x.example.net', 'GET', '/', 'upwild'],
      ['wildcard does not match apex', 80, 'example.com', 'GET', '/', 'none'],
      ['wildcard needs the dot', 80, 'notexample.com', 'GET', '/', 'none'],
      ['wildcard needs a label', 80, '.example.com', 'GET', '/', 'none'],
      ['IPv6 literal with port', 80, '[::1]:8080', 'GET', '/', 'v6'],
      ['no host header', 80, undefined, 'GET', '/', 'none'],
      ['empty host header', 80, '', 'GET', '/', 'none'],
      ['unknown host', 80, 'other.test', 'GET', '/', 'none'],
    ],
  ));

test('host-only routes do not match other hosts', (t) =>
  table(
    t,
    [r('exact', { host: 'a.test', path: '/' }), r('wild', { host: '*.b.test', path: '/' })],
    [
      ['other host', 80, 'c.test', 'GET', '/', null],
      ['no host', 80, undefined, 'GET', '/', null],
      ['exact', 80, 'a.test', 'GET', '/x', 'exact'],
      ['wild', 80, 'x.b.test', 'GET', '/x', 'wild'],
    ],
  ));

test('longest path beats host, port and method specificity', (t) =>
  table(
    t,
    [r('hosted-root', { host: 'a.test', port: 80, methods: ['GET'], path: '/' }), r('api', { path: '/api' })],
    [
      ['/api/x', 80, 'a.test', 'GET', '/api/x', 'api'],
      ['/other', 80, 'a.test', 'GET', '/other', 'hosted-root'],
    ],
  ));

test('a longer path that does not apply falls back to a shorter one', (t) =>
  table(
    t,
    [
      r('root', { path: '/' }),
      r('api-host', { host: 'a.test', path: '/api' }),
      r('v2-port', { port: 9090, path: '/api/v2' }),
      r('v3-post', { methods: ['POST'], path: '/api/v3' }),
    ],
    [
      ['host mismatch at /api', 80, 'b.test', 'GET', '/api/x', 'root'],
      ['port mismatch at /api/v2', 80, 'a.test', 'GET', '/api/v2/x', 'api-host'],
      ['port match at /api/v2', 9090, 'a.test', 'GET', '/api/v2/x', 'v2-port'],
      ['method mismatch at /api/v3', 80, 'a.test', 'GET', '/api/v3', 'api-host'],
      ['method match at /api/v3', 80, 'a.test', 'POST', '/api/v3', 'v3-post'],
    ],
  ));

test('port constraints', (t) =>
  table(
    t,
    [r('p8080', { port: 8080, path: '/' }), r('p9090', { port: 9090, path: '/only' }), r('any', { path: '/' })],
    [
      ['port route on its port', 8080, undefined, 'GET', '/', 'p8080'],
      ['port route not on another port', 8081, undefined, 'GET', '/', 'any'],
      ['port-only path on its port', 9090, undefined, 'GET', '/only/x', 'p9090'],
      ['port-only path elsewhere falls back', 8080, undefined, 'GET', '/only/x', 'p8080'],
    ],
  ));

test('method constraints', (t) =>
  table(
    t,
    [
      r('get', { methods: ['GET', 'HEAD'], path: '/m' }),
      r('write', { methods: ['POST', 'PUT'], path: '/m' }),
      r('lower', { methods: ['delete'], path: '/m' }),
      r('empty', { methods: [], path: '/e' }),
    ],
    [
      ['GET', 80, undefined, 'GET', '/m', 'get'],
      ['HEAD', 80, undefined, 'HEAD', '/m/x', 'get'],
      ['POST', 80, undefined, 'POST', '/m', 'write'],
      ['PUT', 80, undefined, 'PUT', '/m', 'write'],
      ['route methods are upper-cased', 80, undefined, 'DELETE', '/m', 'lower'],
      ['no method fits', 80, undefined, 'PATCH', '/m', null],
      ['empty methods list means any', 80, undefined, 'PATCH', '/e', 'empty'],
    ],
  ));

test('tie-breaks on equal path', async (t) => {
  const cases: [string, Route[], number, string | undefined, string][] = [
    ['port set beats unset', [r('a-any', { path: '/t' }), r('z-port', { port: 80, path: '/t' })], 80, undefined, 'z-port'],
    [
      'port set beats exact host',
      [r('a-host', { host: 'h.test', path: '/t' }), r('z-port', { port: 80, path: '/t' })],
      80,
      'h.test',
      'z-port',
    ],
    [
      'port set beats exact host and port',
      [r('a-host-port', { host: 'h.test', port: 80, path: '/t' }), r('z-port', { port: 80, path: '/t' })],
      80,
      'h.test',
      'a-host-port',
    ],
    [
      'exact beats wildcard',
      [r('a-wild', { host: '*.test', path: '/t' }), r('z-exact', { host: 'h.test', path: '/t' })],
      80,
      'h.test',
      'z-exact',
    ],
    ['wildcard beats no host', [r('a-none', { path: '/t' }), r('z-wild', { host: '*.test', path: '/t' })], 80, 'h.test', 'z-wild'],
    ['exact beats no host', [r('a-none', { path: '/t' }), r('z-exact', { host: 'h.test', path: '/t' })], 80, 'h.test', 'z-exact'],
    ['smaller id', [r('b', { path: '/t' }), r('a', { path: '/t' })], 80, undefined, 'a'],
    ['smaller id is a plain string compare', [r('a9', { path: '/t' }), r('a10', { path: '/t' })], 80, undefined, 'a10'],
    ['smaller id: - before .', [r('a.b', { path: '/t' }), r('a-b', { path: '/t' })], 80, undefined, 'a-b'],
    [
      'smaller id among exact hosts',
      [r('b', { host: 'h.test', path: '/t' }), r('a', { host: 'H.TEST', path: '/t' })],
      80,
      'h.test',
      'a',
    ],
    [
      'two matching wildcards tie on id',
      [r('b-long', { host: '*.b.test', path: '/t' }), r('a-short', { host: '*.test', path: '/t' })],
      80,
      'x.b.test',
      'a-short',
    ],
    [
      'same path written differently is one path',
      [r('b', { path: '/t' }), r('a', { path: '//t/./' }), r('c', { path: '/%74' })],
      80,
      undefined,
      'b', // '//t/./' normalises to '/t/', a longer prefix than '/t' of '/t', which it does not match
    ],
    ['a route that does not apply does not win a tie', [r('a', { methods: ['POST'], path: '/t' }), r('b', { path: '/t' })], 80, undefined, 'b'],
  ];
  for (const [name, routes, port, host, want] of cases) {
    await t.test(name, () => {
      for (const rs of [routes, [...routes].reverse()]) {
        assert.equal(new RouteTable(rs).match(port, host, 'GET', '/t')?.id ?? null, want);
      }
    });
  }
  await t.test('equal ids after /%74 normalises to /t', () => {
    const tbl = new RouteTable([r('b', { path: '/t' }), r('a', { path: '/%74' })]);
    assert.equal(tbl.match(80, undefined, 'GET', '/t/x')?.id, 'a');
  });
});

test('paths are normalised before matching', (t) =>
  table(
    t,
    [r('root', { path: '/' }), r('admin', { path: '/admin' }), r('public', { path: '/public' }), r('api', { path: '/api' })],
    (
      [
        ['dot-dot resolved before matching', '/public/../admin/x', 'admin'],
        ['encoded dot-dot', '/public/%2e%2e/admin', 'admin'],
        ['upper-case encoded dot-dot', '/public/%2E%2E/admin/x', 'admin'],
        ['encoded unreserved letters', '/%61pi/x', 'api'],
        ['double slash does not dodge a route', '//admin', 'admin'],
        ['dot segment does not dodge a route', '/./admin', 'admin'],
        ['encoded slash is not a separator', '/admin%2Fx', 'root'],
        ['trailing dot-dot', '/admin/x/..', 'admin'],
      ] as [string, string, string][]
    ).map(([name, raw, want]): Case => [name, 80, undefined, 'GET', normalizePath(raw)!, want]),
  ));

test('climbing above / is rejected before matching', () => {
  for (const p of ['/..', '/../admin', '/public/../../admin', '/%2e%2e/admin']) assert.equal(normalizePath(p), null, p);
});

test('size and ports()', () => {
  const t = new RouteTable([
    r('a', { path: '/', port: 8080 }),
    r('b', { path: '/b', port: 9000 }),
    r('c', { path: '/c', port: 8080 }),
    r('d', { path: '/d' }),
  ]);
  assert.equal(t.size, 4);
  assert.deepEqual([...t.ports()].sort(), [8080, 9000]);
  assert.deepEqual([...new RouteTable([r('x', { path: '/' })]).ports()], []);
});

test('cache stays bounded', () => {
  const t = new RouteTable([r('root', { path: '/' }), r('api', { path: '/api' })], { cacheSize: 1000 });
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32).toString(36).slice(2, 10);
  for (let i = 0; i < 50_000; i++) {
    const p = i % 2 ? `/api/${rnd()}` : `/${rnd()}`;
    assert.equal(t.match(80, `${rnd()}.test`, 'GET', p)?.id, i % 2 ? 'api' : 'root');
  }
  assert.ok(t.cacheSize <= 1000, `cache holds ${t.cacheSize}`);
  assert.ok(t.cacheSize > 0);
});

test('cache keeps misses and stays correct; cacheSize 0 disables it', () => {
  const t = new RouteTable([r('api', { host: 'a.test', path: '/api' })], { cacheSize: 10 });
  assert.equal(t.match(80, 'b.test', 'GET', '/api'), null);
  assert.equal(t.cacheSize, 1);
  assert.equal(t.match(80, 'b.test', 'GET', '/api'), null);
  assert.equal(t.match(80, 'A.test:1', 'GET', '/api')?.id, 'api');
  assert.equal(t.match(80, 'a.test', 'GET', '/api')?.id, 'api'); // same key as above after host normalisation
  assert.equal(t.cacheSize, 2);
  // Key fields can't run into each other: host 'a.test' + path '/api' vs host 'a.tes' + path 't/api'.
  assert.equal(t.match(80, 'a.tes', 'GET', 't/api'), null);
  const off = new RouteTable([r('api', { path: '/api' })], { cacheSize: 0 });
  assert.equal(off.match(80, undefined, 'GET', '/api/x')?.id, 'api');
  assert.equal(off.cacheSize, 0);
});

test('by default only tables of 50 000 routes and more cache lookups', () => {
  const small = new RouteTable([r('api', { path: '/api' })]);
  assert.equal(small.match(80, undefined, 'GET', '/api/x')?.id, 'api');
  assert.equal(small.cacheSize, 0, 'a small table: a lookup costs what a cache hit does');
  const many = Array.from({ length: 50_000 }, (_, i) => r(`r${i}`, { path: `/svc${i}` }));
  const big = new RouteTable(many);
  assert.equal(big.match(80, undefined, 'GET', '/svc49999/x')?.id, 'r49999');
  assert.equal(big.cacheSize, 1);
  // A table derived by update() decides by its own size.
  const grown = small.update([], many);
  assert.equal(grown.match(80, undefined, 'GET', '/svc7')?.id, 'r7');
  assert.equal(grown.cacheSize, 1);
});

test('a table is immutable', () => {
  const routes = [r('api', { path: '/api' }), r('root', { path: '/' })];
  const t1 = new RouteTable(routes);
  assert.equal(t1.match(80, undefined, 'GET', '/api/x')?.id, 'api');
  // Changing the input array or its routes, or building another table, changes nothing in t1.
  routes.push(r('api-x', { path: '/api/x' }));
  (routes[0]!.match as RouteMatch).path = '/other';
  (routes[0]!.match as RouteMatch).methods = ['POST'];
  const t2 = new RouteTable([r('zzz', { path: '/api', port: 80 }), ...routes]);
  assert.equal(t2.match(80, undefined, 'GET', '/api/x')?.id, 'api-x');
  assert.equal(t1.match(80, undefined, 'GET', '/api/x')?.id, 'api');
  assert.equal(t1.match(80, undefined, 'GET', '/other')?.id, 'root');
  assert.equal(t1.size, 2);
  assert.ok(Object.isFrozen(t1.routes));
  assert.throws(() => (t1.routes as Route[]).push(r('x', { path: '/' })));
});

// --- Cross-check against a plain linear reference on a random corpus ---

function reference(routes: Route[], port: number, host: string | undefined, method: string, path: string): Route | null {
  const h = (host ?? '').replace(/:\d+$/, '').replace(/\.$/, '').toLowerCase();
  const rank = (x: Route) => (!x.match.host ? 2 : x.match.host.startsWith('*.') ? 1 : 0);
  const applies = (x: Route) => {
    const m = x.match;
    const rp = normalizePath(m.path) ?? m.path;
    if (!(path === rp || (rp.endsWith('/') ? path.startsWith(rp) : path.startsWith(rp + '/')))) return false;
    if (m.port !== undefined && m.port !== port) return false;
    if (m.methods?.length && !m.methods.map((s) => s.toUpperCase()).includes(method)) return false;
    if (m.host) {
      const rh = m.host.toLowerCase();
      if (rh.startsWith('*.') ? !(h.endsWith(rh.slice(1)) && h.length > rh.length - 1) : rh !== h) return false;
    }
    return true;
  };
  let best: Route | null = null;
  for (const x of routes.filter(applies)) {
    if (best === null) {
      best = x;
      continue;
    }
    const key = (y: Route) => [-(normalizePath(y.match.path) ?? '').length, y.match.port === undefined ? 1 : 0, rank(y)];
    const [ka, kb] = [key(x), key(best)];
    const i = ka.findIndex((v, j) => v !== kb[j]);
    if (i !== -1 ? ka[i]! < kb[i]! : x.id < best.id) best = x;
  }
  return best;
}

test('agrees with a linear reference matcher on a random corpus', () => {
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  const pick = <T>(a: readonly T[]): T => a[rnd(a.length)]!;
  const segs = ['a', 'b', 'api', 'v1', 'x', 'a.b'];
  const hosts = [undefined, 'a.test', 'b.test', '*.test', '*.a.test', 'A.Test'];
  const methods = [undefined, ['GET'], ['POST', 'PUT'], ['get']];
  const pathOf = (max: number) => '/' + Array.from({ length: rnd(max + 1) }, () => pick(segs)).join('/') + (rnd(5) ? '' : '/');
  const routes: Route[] = [];
  for (let i = 0; i < 300; i++) {
    const m: RouteMatch = { path: pathOf(3) };
    const host = pick(hosts);
    if (host) m.host = host;
    const meth = pick(methods);
    if (meth) m.methods = meth;
    if (rnd(4) === 0) m.port = pick([80, 81]);
    routes.push(r(`r${rnd(1000)}`, m));
  }
  const t = new RouteTable(routes);
  const reqHosts = [undefined, 'a.test', 'x.a.test', 'b.test:81', 'c.other', 'test', 'B.TEST'];
  for (let i = 0; i < 5000; i++) {
    const [port, host, method, path] = [pick([80, 81]), pick(reqHosts), pick(['GET', 'POST', 'DELETE']), pathOf(5)];
    const want = reference(routes, port, host, method, path);
    const got = t.match(port, host, method, path);
    assert.equal(got?.id, want?.id, `${port} ${host} ${method} ${path}`);
  }
});

test('hash collisions never produce a wrong match', () => {
  // The index hashes paths with 32-bit FNV-1a; two same-length paths that collide:
  const fnv = (s: string) => {
    let h = 0x811c9dc5 | 0;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    return h;
  };
  const [a, b] = ['/112vu', '/1cuea']; // found by a birthday search over '/' + 5 base-36 chars
  assert.equal(fnv(a), fnv(b));
  // a is a route path and a marker (prefix of a + '/x/y'); b must match neither.
  const t = new RouteTable([r('root', { path: '/' }), r('a', { path: a }), r('a-deep', { path: a + '/x/y' })]);
  assert.equal(t.match(80, undefined, 'GET', a)?.id, 'a');
  assert.equal(t.match(80, undefined, 'GET', a + '/x/y/z')?.id, 'a-deep');
  assert.equal(t.match(80, undefined, 'GET', b)?.id, 'root');
  assert.equal(t.match(80, undefined, 'GET', b + '/x/y')?.id, 'root');
  // b only as a marker (of b + '/q'), a as a route: the collision must not hide a.
  const t2 = new RouteTable([r('b-deep', { path: b + '/q' }), r('a', { path: a })]);
  assert.equal(t2.match(80, undefined, 'GET', a + '/q')?.id, 'a');
  assert.equal(t2.match(80, undefined, 'GET', b + '/q')?.id, 'b-deep');
  assert.equal(t2.match(80, undefined, 'GET', b), null);
  // Both route paths: a slot taken on hash and length alone must be checked
  // against the text before it is used, whichever of the two sits first.
  for (const order of [[a, b], [b, a]]) {
    const t3 = new RouteTable([r('root', { path: '/' }), ...order.map((p) => r(p, { path: p }))]);
    for (const p of [a, b]) {
      assert.equal(t3.match(80, undefined, 'GET', p)?.id, p);
      assert.equal(t3.match(80, undefined, 'GET', p + '/z')?.id, p);
    }
  }
});
