// Property tests (fast-check) of the path normaliser and the route table
// against a deliberately simple reference: no request reaches another route
// than its canonical path would through percent-encoding, dot segments,
// doubled slashes or case (hex digits, host names). Fixed seed and few runs
// in `npm test`; `node scripts/fuzz.mjs` runs them longer (FUZZ_RUNS).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RouteMatch } from '../../src/resources.js';
import { normalizePath } from '../../src/router/normalize-path.js';
import { RouteTable, type Matchable } from '../../src/router/route-table.js';
import { fuzzParams, fuzzTimeout } from '../helpers/fuzz.js';

const params = fuzzParams(300);
const timeout = fuzzTimeout(params, 5);

// ---- the reference ---------------------------------------------------------

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** CONTRACT §2 normalisation, written for clarity: decode unreserved escapes, resolve dot segments, merge slashes. */
function refNormalize(p: string): string | null {
  if (!p.startsWith('/')) return null;
  let s = '';
  for (let i = 0; i < p.length; i++) {
    if (p[i] !== '%') {
      s += p[i];
      continue;
    }
    const hex = p.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
    const ch = String.fromCharCode(parseInt(hex, 16));
    s += UNRESERVED.test(ch) ? ch : '%' + hex.toUpperCase();
    i += 2;
  }
  const parts = s.split('/').slice(1);
  const stack: string[] = [];
  for (const seg of parts) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (stack.length === 0) return null;
      stack.pop();
    } else stack.push(seg);
  }
  if (stack.length === 0) return '/';
  const last = parts[parts.length - 1];
  return '/' + stack.join('/') + (last === '' || last === '.' || last === '..' ? '/' : '');
}

interface Route extends Matchable {
  readonly id: string;
  readonly match: RouteMatch;
}

function refHost(h: string): string {
  let s = h.toLowerCase();
  const colon = s.indexOf(':');
  if (colon >= 0) s = s.slice(0, colon);
  return s.endsWith('.') ? s.slice(0, -1) : s;
}

/** Every applicable route, best first, by the contract's rules; the first one or null. */
function refMatch(routes: readonly Route[], port: number, host: string | undefined, method: string, path: string): string | null {
  const h = host ? refHost(host) : '';
  const fits: { r: Route; len: number; portRank: number; hostRank: number }[] = [];
  for (const r of routes) {
    const m = r.match;
    if (m.port !== undefined && m.port !== port) continue;
    if (m.methods && !m.methods.includes(method)) continue;
    let hostRank = 2;
    if (m.host) {
      const want = m.host.toLowerCase();
      if (want.startsWith('*.')) {
        if (!(h.endsWith(want.slice(1)) && h.length > want.length - 1)) continue;
        hostRank = 1;
      } else {
        if (h !== want) continue;
        hostRank = 0;
      }
    }
    const rp = refNormalize(m.path);
    if (rp === null) continue;
    const applies = rp === '/' || path === rp || path.startsWith(rp.endsWith('/') ? rp : rp + '/');
    if (!applies) continue;
    fits.push({ r, len: rp.length, portRank: m.port === undefined ? 1 : 0, hostRank });
  }
  fits.sort((a, b) => b.len - a.len || a.portRank - b.portRank || a.hostRank - b.hostRank || (a.r.id < b.r.id ? -1 : a.r.id > b.r.id ? 1 : 0));
  return fits[0]?.r.id ?? null;
}

// ---- generators --------------------------------------------------------------

/** Few atoms, so that routes and requests collide often. '%2F' stays an escape (never a separator). */
const atom = fc.constantFrom('a', 'b', 'c', 'A', '.', '-', '_', '~', '1', '%2F', '%20');
const segment = fc
  .array(atom, { minLength: 1, maxLength: 3 })
  .map((a) => a.join(''))
  .filter((s) => s !== '.' && s !== '..');
/** A canonical (already normal) path. */
const canonicalPath = fc
  .tuple(fc.array(segment, { maxLength: 4 }), fc.boolean())
  .map(([segs, slash]) => (segs.length === 0 ? '/' : '/' + segs.join('/') + (slash ? '/' : '')));

function hexCase(code: number, upper: boolean): string {
  const h = code.toString(16).padStart(2, '0');
  return '%' + (upper ? h.toUpperCase() : h.toLowerCase());
}

/** Spellings of one segment: unreserved chars maybe percent-encoded, escapes in either hex case. */
function spellSegment(seg: string, choices: number[], start: number): string {
  let out = '';
  let k = start;
  for (let i = 0; i < seg.length; i++) {
    const c = choices[k++ % choices.length]!;
    if (seg[i] === '%') {
      out += hexCase(parseInt(seg.slice(i + 1, i + 3), 16), c % 2 === 0);
      i += 2;
    } else if (c % 3 === 0) out += hexCase(seg.charCodeAt(i), c % 2 === 0);
    else out += seg[i];
  }
  return out;
}

/** Noise that normalises away when put before a segment (it must end in '/'). */
const NOISE = ['', './', '/', '%2e/', '%2E/', 'zz/../', 'q/%2e%2E/', './/', 'x/y/../../'];
/** Endings of a path that names a directory ('/a/' spelled otherwise). */
const DIR_END = ['', '.', './', '/', 'zz/..', 'zz/../', '%2e'];

/** A request path that must normalise to `canonical`. */
function spell(canonical: string, choices: number[]): string {
  const trailing = canonical.endsWith('/');
  const segs = canonical.split('/').filter((s) => s !== '');
  let k = 0;
  const pick = <T>(list: readonly T[]): T => list[choices[k++ % choices.length]! % list.length]!;
  let out = '/';
  for (const seg of segs) out += pick(NOISE) + spellSegment(seg, choices, k++) + '/';
  // out ends in '/': drop it unless the canonical path is a directory.
  if (segs.length === 0) return out + pick(DIR_END);
  if (trailing) return out + pick(DIR_END);
  return out.slice(0, -1);
}

const choices = fc.array(fc.nat(1000), { minLength: 1, maxLength: 24 });

const hostName = fc.constantFrom('shop.example.com', 'a.shop.example.com', 'example.com', 'other.org');
const routeArb = fc.record(
  {
    path: canonicalPath,
    spelled: choices,
    host: fc.option(fc.constantFrom('shop.example.com', '*.example.com', '*.shop.example.com', 'example.com'), { nil: undefined }),
    port: fc.option(fc.constantFrom(80, 8080), { nil: undefined }),
    methods: fc.option(fc.subarray(['GET', 'POST', 'DELETE'], { minLength: 1 }), { nil: undefined }),
  },
  { requiredKeys: ['path', 'spelled'] },
);
const routesArb = fc.array(routeArb, { minLength: 1, maxLength: 10 }).map((rs) =>
  rs.map((r, i): Route => {
    const match: RouteMatch = { path: spell(r.path, r.spelled) }; // a route may be written encoded too
    if (r.host !== undefined) match.host = r.host;
    if (r.port !== undefined) match.port = r.port;
    if (r.methods !== undefined) match.methods = r.methods;
    return { id: `r${String(i).padStart(2, '0')}`, match };
  }),
);
const requestArb = fc.record({
  path: canonicalPath,
  spelled: choices,
  host: fc.option(hostName, { nil: undefined }),
  hostCase: fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
  hostPort: fc.constantFrom('', ':80', ':8080'),
  hostDot: fc.boolean(),
  port: fc.constantFrom(80, 8080),
  method: fc.constantFrom('GET', 'POST', 'DELETE'),
});

function caseHost(h: string, flips: boolean[]): string {
  return [...h].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c)).join('');
}

// ---- properties ----------------------------------------------------------------

describe('path normaliser and router, property tests (fast-check)', () => {
  it('any spelling of a canonical path normalises to it (encoding, dot segments, double slashes, hex case)', { timeout }, () => {
    fc.assert(
      fc.property(canonicalPath, choices, (canonical, c) => {
        const raw = spell(canonical, c);
        assert.equal(refNormalize(raw), canonical, `reference on ${raw}`);
        assert.equal(normalizePath(raw), canonical, `normalizePath(${JSON.stringify(raw)})`);
      }),
      params,
    );
  });

  it('normalizePath agrees with the reference on arbitrary input, and is idempotent', { timeout }, () => {
    const ch = fc.constantFrom('/', '/', '.', '.', '%', '2', 'e', 'E', 'f', 'F', 'a', 'A', '-', '~', '0', '?', ' ', 'é');
    fc.assert(
      fc.property(fc.array(ch, { maxLength: 30 }).map((a) => '/' + a.join('')), (raw) => {
        const got = normalizePath(raw);
        assert.equal(got, refNormalize(raw), `normalizePath(${JSON.stringify(raw)})`);
        if (got !== null) {
          assert.equal(normalizePath(got), got, 'idempotent');
          assert.ok(!got.includes('//'), 'no double slash');
          assert.ok(!/\/\.\.?(\/|$)/.test(got), 'no dot segment');
          assert.ok(!/%(2[dD]|2[eE]|3\d|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])/.test(got), 'no escaped unreserved char');
        }
      }),
      params,
    );
  });

  it('the route table picks what the reference matcher picks, for every spelling of the request', { timeout }, () => {
    fc.assert(
      fc.property(routesArb, requestArb, fc.boolean(), fc.nat(), fc.array(segment, { maxLength: 2 }), (routes, req, cached, pickRoute, below) => {
        const table = new RouteTable(routes, cached ? { cacheSize: 10_000 } : { cacheSize: 0 });
        // Half the requests go at or below a route's path (else few would match anything but '/').
        if (pickRoute % 2 === 0) {
          const base = refNormalize(routes[pickRoute % routes.length]!.match.path)!;
          req.path = below.length === 0 ? base : (base.endsWith('/') ? base : base + '/') + below.join('/');
        }
        const raw = spell(req.path, req.spelled);
        const normal = normalizePath(raw);
        assert.equal(normal, req.path);
        const host = req.host === undefined ? undefined : caseHost(req.host, req.hostCase) + (req.hostDot ? '.' : '') + req.hostPort;
        const want = refMatch(routes, req.port, host, req.method, req.path);
        // Twice: the second lookup may come from the cache.
        for (let i = 0; i < 2; i++) {
          const got: string | null = table.match(req.port, host, req.method, normal!)?.id ?? null;
          assert.equal(got, want, `${req.method} ${raw} (-> ${normal}) host ${host} port ${req.port}\nroutes ${JSON.stringify(routes)}`);
        }
      }),
      params,
    );
  });

  it('no spelling reaches a route its canonical path does not (bypass of a narrower route)', { timeout }, () => {
    // A narrow route (/admin) under a catch-all: every spelling of /admin/... must hit it.
    const routes: Route[] = [
      { id: 'catch-all', match: { path: '/' } },
      { id: 'admin', match: { path: '/admin' } },
      { id: 'admin-api', match: { path: '/admin/api/', methods: ['POST'] } },
    ];
    const table = new RouteTable(routes);
    const under = fc.tuple(fc.constantFrom(['admin'], ['admin', 'api']), fc.array(segment, { maxLength: 2 }), fc.boolean());
    fc.assert(
      fc.property(under, choices, fc.constantFrom('GET', 'POST'), ([base, rest, slash], c, method) => {
        const canonical = '/' + [...base, ...rest].join('/') + (slash ? '/' : '');
        const raw = spell(canonical, c);
        const got: string | null = table.match(80, undefined, method, normalizePath(raw)!)?.id ?? null;
        assert.equal(got, refMatch(routes, 80, undefined, method, canonical), raw);
        assert.notEqual(got, 'catch-all', `${raw} dodged /admin`);
      }),
      params,
    );
  });
});
