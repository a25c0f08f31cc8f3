// RouteTable.update() derives a table from another for a few changed routes
// instead of building afresh. Property test: after any sequence of updates
// (removals, additions, changed matches, rebinds) the derived table answers
// every request exactly like a table built from scratch on the same routes,
// and the tables it was derived from still answer as before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { RouteMatch } from '../../src/resources.js';
import { RouteTable, type Matchable } from '../../src/router/route-table.js';
import { fuzzParams, fuzzTimeout } from '../helpers/fuzz.js';

const params = fuzzParams(200);
const timeout = fuzzTimeout(params, 5);

interface Route extends Matchable {
  readonly id: string;
  readonly match: RouteMatch;
  readonly tag: number;
}

const SEGMENTS = ['a', 'b', 'api', 'v1', 'x'];
const segment = fc.constantFrom(...SEGMENTS);
const pathArb = fc
  .tuple(fc.array(segment, { maxLength: 3 }), fc.boolean())
  .map(([segs, slash]) => (segs.length === 0 ? '/' : '/' + segs.join('/') + (slash ? '/' : '')));
const matchArb: fc.Arbitrary<RouteMatch> = fc.record(
  {
    path: pathArb,
    host: fc.constantFrom('a.test', '*.test', 'B.test'),
    port: fc.constantFrom(80, 81),
    methods: fc.constantFrom(['GET'], ['POST', 'GET'], ['PUT']),
  },
  { requiredKeys: ['path'] },
);
const ID_COUNT = 24;
const idArb = fc.nat(ID_COUNT - 1).map((n) => `r${n}`);

type Op = { kind: 'put'; id: string; match: RouteMatch } | { kind: 'delete'; id: string } | { kind: 'rebind' };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('put' as const), id: idArb, match: matchArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), id: idArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'rebind' as const }) },
);

const REQUESTS: [number, string | undefined, string, string][] = [];
for (const path of ['/', '/a', '/a/', '/a/b', '/a/b/', '/api/v1/x', '/api/v1/', '/b/x/a', '/x', '/v1/a/b/x', '/zz']) {
  for (const host of [undefined, 'a.test', 'c.test', 'b.test:81']) {
    for (const [port, method] of [[80, 'GET'], [81, 'POST'], [80, 'PUT']] as const) REQUESTS.push([port, host, method, path]);
  }
}

function answers(t: RouteTable<Route>): string[] {
  return REQUESTS.map(([port, host, method, path]) => {
    const r = t.match(port, host, method, path);
    return r === null ? '-' : `${r.id}#${r.tag}`;
  });
}

test('update() answers like a fresh build after any sequence of changes, and leaves the old table alone', { timeout }, () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(idArb, matchArb), { maxLength: 30 }), fc.array(fc.array(opArb, { minLength: 1, maxLength: 6 }), { maxLength: 12 }), fc.boolean(), (initial, batches, cached) => {
      const opts = cached ? {} : { cacheSize: 0 };
      let live = new Map<string, Route>();
      for (const [id, match] of initial) live.set(id, { id, match, tag: 0 });
      let table = new RouteTable([...live.values()], opts);
      let tag = 0;
      for (const batch of batches) {
        const before = answers(table);
        const beforeTable = table;
        const next = new Map(live);
        const remove: Route[] = [];
        const add: Route[] = [];
        let rebind: ((r: Route) => Route) | null = null;
        for (const op of batch) {
          if (op.kind === 'rebind') {
            const t = ++tag;
            rebind = (r) => ({ ...r, tag: t });
            continue;
          }
          if (remove.some((r) => r.id === op.id) || add.some((r) => r.id === op.id)) continue; // one change per id and batch
          const old = live.get(op.id);
          if (old) remove.push(old);
          next.delete(op.id);
          if (op.kind === 'put') {
            const r = { id: op.id, match: op.match, tag: ++tag };
            add.push(r);
            next.set(op.id, r);
          }
        }
        if (rebind) {
          const rb = rebind;
          for (const [id, r] of next) if (!add.includes(r)) next.set(id, rb(r));
        }
        table = table.update(remove, add, rebind);
        live = next;
        assert.deepEqual(answers(table), answers(new RouteTable([...live.values()], opts)));
        assert.deepEqual(answers(beforeTable), before, 'the table updated from is unchanged');
        assert.equal(table.size, live.size);
        assert.deepEqual(table.routes.map((r) => r.id).sort(), [...live.keys()].sort());
        assert.deepEqual([...table.ports()].sort(), [...new Set([...live.values()].flatMap((r) => (r.match.port === undefined ? [] : [r.match.port])))].sort());
      }
    }),
    params,
  );
});

test('update() on a large table: many rounds of one-route changes, then a bulk change, stay exact', () => {
  const routes: Route[] = [];
  for (let i = 0; i < 3000; i++) routes.push({ id: `s${i}`, match: { path: `/svc${i % 700}/${i}` + (i % 3 === 0 ? '/' : '') }, tag: 0 });
  routes.push({ id: 'root', match: { path: '/' }, tag: 0 });
  let live = new Map(routes.map((r) => [r.id, r]));
  let table = new RouteTable(routes, { cacheSize: 0 });
  const probe = () => ['/svc1/1', '/svc1/1/x', '/svc5/705/', '/svc5/5', '/svc699/2099/a', '/nope', '/svc3/3/'].map((p) => table.match(80, undefined, 'GET', p)?.id ?? '-');
  for (let round = 1; round <= 2500; round++) {
    const id = `s${(round * 7) % 3000}`;
    const old = live.get(id);
    const r: Route = { id, match: { path: `/svc${round % 9}/${round}`, ...(round % 4 === 0 ? { methods: ['GET'] } : {}) }, tag: round };
    table = table.update(old ? [old] : [], round % 10 === 0 ? [] : [r]);
    live = new Map(live);
    if (round % 10 === 0) live.delete(id);
    else live.set(id, r);
  }
  const fresh = new RouteTable([...live.values()], { cacheSize: 0 });
  assert.deepEqual(probe(), ['/svc1/1', '/svc1/1/x', '/svc5/705/', '/svc5/5', '/svc699/2099/a', '/nope', '/svc3/3/'].map((p) => fresh.match(80, undefined, 'GET', p)?.id ?? '-'));
  for (const r of live.values()) assert.equal(table.match(80, undefined, 'GET', r.match.path)?.id, fresh.match(80, undefined, 'GET', r.match.path)?.id, r.match.path);
  assert.equal(table.size, live.size);
});
