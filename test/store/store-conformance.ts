// The behaviour every Store implementation (file:, etcd://) must show
// (src/control/store.ts). Each test opens a fresh, empty store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ConflictError, NotFoundError, PreconditionFailedError,
  type Store, type StoredEntry, type StoreSnapshot,
} from '../../src/control/store.js';

export type OpenStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

const route = (id: string, upstream: string) => ({ id, match: { path: `/${id}` }, upstream });
const upstream = (name: string) => ({ name, pools: { blue: { targets: ['http://127.0.0.1:3001'] } } });

/** Plain, comparable copy of a snapshot's tables. Revisions are compared
 * with >= where another writer of a shared backend (etcd) could move them. */
const plain = (s: StoreSnapshot) => ({
  routes: Object.fromEntries([...s.routes].map(([k, e]) => [k, { ...e }])),
  upstreams: Object.fromEntries([...s.upstreams].map(([k, e]) => [k, { ...e }])),
});

export function storeConformance(name: string, open: OpenStore): void {
  describe(`Store conformance: ${name}`, () => {
    /** Runs `fn` with a fresh store, always cleaning up. */
    const withStore = async (fn: (store: Store) => Promise<void>) => {
      const { store, cleanup } = await open();
      try {
        await fn(store);
      } finally {
        await cleanup();
      }
    };

    it('put, get and delete round-trip the stored text', () => withStore(async (store) => {
      const value = route('orders', 'orders');
      const rev = await store.put('routes', 'orders', value);
      assert.deepEqual(await store.get('routes', 'orders'), { id: 'orders', raw: JSON.stringify(value), modRevision: rev });
      assert.equal(await store.get('upstreams', 'orders'), null, 'kinds are separate');
      const delRev = await store.delete('routes', 'orders');
      assert.ok(delRev > rev);
      assert.equal(await store.get('routes', 'orders'), null);
      assert.equal((await store.load()).routes.has('orders'), false);
    }));

    it('revision strictly increases with every write and load() reports the last one', () => withStore(async (store) => {
      const start = (await store.load()).revision;
      const revs = [
        await store.put('upstreams', 'u', upstream('u')),
        await store.put('routes', 'a', route('a', 'u')),
        await store.put('routes', 'a', route('a', 'u')),
        await store.delete('routes', 'a'),
        await store.put('routes', 'b', route('b', 'u')),
      ];
      let prev = start;
      for (const r of revs) {
        assert.ok(r > prev, `revisions ${revs.join(',')} after ${start} not strictly increasing`);
        prev = r;
      }
      assert.ok((await store.load()).revision >= prev);
    }));

    it('each entry carries the revision of its own last write', () => withStore(async (store) => {
      const ra = await store.put('routes', 'a', route('a', 'x'));
      const rb = await store.put('routes', 'b', route('b', 'x'));
      assert.equal((await store.get('routes', 'a'))?.modRevision, ra);
      const ra2 = await store.put('routes', 'a', route('a', 'y'));
      const snap = await store.load();
      assert.equal(snap.routes.get('a')?.modRevision, ra2);
      assert.equal(snap.routes.get('b')?.modRevision, rb);
    }));

    it('ifRevision makes writes conditional (0 = must not exist)', () => withStore(async (store) => {
      const r1 = await store.put('routes', 'a', route('a', 'u'), { ifRevision: 0 });
      await assert.rejects(store.put('routes', 'a', route('a', 'v'), { ifRevision: 0 }),
        (err: unknown) => err instanceof PreconditionFailedError && err.currentRevision === r1 && err.code === 'precondition_failed');
      const r2 = await store.put('routes', 'a', route('a', 'v'), { ifRevision: r1 });
      await assert.rejects(store.put('routes', 'a', route('a', 'w'), { ifRevision: r1 }),
        (err: unknown) => err instanceof PreconditionFailedError && err.currentRevision === r2);
      await assert.rejects(store.put('routes', 'missing', route('missing', 'u'), { ifRevision: r1 }),
        (err: unknown) => err instanceof PreconditionFailedError && err.currentRevision === 0);
      await assert.rejects(store.delete('routes', 'a', { ifRevision: r1 }), PreconditionFailedError);
      const after = await store.get('routes', 'a');
      assert.equal(after?.raw, JSON.stringify(route('a', 'v')), 'failed conditional writes change nothing');
      assert.equal(after?.modRevision, r2, 'failed conditional writes change nothing');
      assert.ok((await store.delete('routes', 'a', { ifRevision: r2 })) > r2);
    }));

    it('deleting a missing entry is NotFoundError', () => withStore(async (store) => {
      await assert.rejects(store.delete('routes', 'nope'), NotFoundError);
      await assert.rejects(store.delete('upstreams', 'nope'), NotFoundError);
      await store.put('routes', 'once', route('once', 'u'));
      await store.delete('routes', 'once');
      await assert.rejects(store.delete('routes', 'once'), (err: unknown) => err instanceof NotFoundError && err.code === 'not_found');
    }));

    it('deleting an upstream that a route uses is ConflictError naming the routes, and deletes nothing', () => withStore(async (store) => {
      await store.put('upstreams', 'orders', upstream('orders'));
      await store.put('upstreams', 'other', upstream('other'));
      await store.put('routes', 'r1', route('r1', 'orders'));
      await store.put('routes', 'r2', route('r2', 'orders'));
      await store.put('routes', 'r3', route('r3', 'other'));
      await store.put('routes', 'junk', 'not a route'); // unparseable routes use nothing
      const before = await store.load();
      await assert.rejects(store.delete('upstreams', 'orders'),
        (err: unknown) => err instanceof ConflictError && err.code === 'conflict' && /r1/.test(err.message) && /r2/.test(err.message) && !/r3/.test(err.message));
      const after = await store.load();
      assert.deepEqual(plain(after), plain(before), 'nothing deleted');
      await store.delete('routes', 'r1');
      await store.put('routes', 'r2', route('r2', 'other')); // moved away
      await store.delete('upstreams', 'orders');
      assert.equal(await store.get('upstreams', 'orders'), null);
    }));

    it('the in-use check is atomic with the delete: a racing route write is seen', () => withStore(async (store) => {
      await store.put('upstreams', 'x', upstream('x'));
      const [put, del] = await Promise.allSettled([store.put('routes', 'r', route('r', 'x')), store.delete('upstreams', 'x')]);
      assert.equal(put.status, 'fulfilled');
      if (del.status === 'fulfilled') {
        assert.ok(put.value > del.value, 'the delete may only win if it came before the route');
      } else {
        assert.ok(del.reason instanceof ConflictError, String(del.reason));
        assert.ok(await store.get('upstreams', 'x'));
      }
    }));

    it('watch delivers snapshots in revision order; an awaited write has been delivered; abort stops it', () => withStore(async (store) => {
      const seen: StoreSnapshot[] = [];
      const ac = new AbortController();
      store.watch((s) => seen.push(s), ac.signal);
      for (let i = 0; i < 5; i++) {
        const rev = await store.put('routes', `r${i}`, route(`r${i}`, 'u'));
        const last = seen.at(-1);
        assert.ok(last && last.revision >= rev, `snapshot of write ${i} delivered before put() resolved`);
        assert.equal(last?.routes.get(`r${i}`)?.modRevision, rev);
      }
      // Concurrent writes may be coalesced, but never out of order.
      await Promise.all([...Array(10).keys()].map((i) => store.put('upstreams', `u${i}`, upstream(`u${i}`))));
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.revision > seen[i - 1]!.revision, 'revision order');
      assert.equal(seen.at(-1)!.upstreams.size, 10);
      ac.abort();
      const count = seen.length;
      await store.put('routes', 'after', route('after', 'u'));
      assert.equal(seen.length, count, 'no delivery after abort');
    }));

    it('load() after writes equals the last watched snapshot', () => withStore(async (store) => {
      const seen: StoreSnapshot[] = [];
      const ac = new AbortController();
      store.watch((s) => seen.push(s), ac.signal);
      await store.put('upstreams', 'u', upstream('u'));
      await Promise.all([store.put('routes', 'a', route('a', 'u')), store.put('routes', 'b', route('b', 'u'))]);
      await store.delete('routes', 'a');
      ac.abort();
      assert.ok(seen.length > 0);
      const loaded = await store.load();
      assert.deepEqual(plain(loaded), plain(seen.at(-1)!));
      assert.ok(loaded.revision >= seen.at(-1)!.revision);
    }));

    it('snapshots are immutable: earlier ones do not change with later writes', () => withStore(async (store) => {
      await store.put('upstreams', 'u', upstream('u'));
      await store.put('routes', 'a', route('a', 'u'));
      const early = await store.load();
      const copy = plain(early);
      const copyRevision = early.revision;
      await store.put('routes', 'a', route('a', 'v'));
      await store.put('routes', 'b', route('b', 'u'));
      await store.put('upstreams', 'v', upstream('v'));
      await store.delete('routes', 'a');
      assert.deepEqual(plain(early), copy);
      assert.equal(early.revision, copyRevision);
      assert.ok(Object.isFrozen(early));
      assert.notEqual((await store.load()).revision, early.revision);
    }));

    it('concurrent conditional writers on one key: exactly one wins', () => withStore(async (store) => {
      for (const base of [0, await store.put('routes', 'seed', route('seed', 'u'))]) {
        const id = base === 0 ? 'fresh' : 'seed';
        const results = await Promise.allSettled(
          [...Array(10).keys()].map((i) => store.put('routes', id, route(id, `w${i}`), { ifRevision: base })),
        );
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, rev: r.value }] : []));
        const lost = results.filter((r) => r.status === 'rejected' && r.reason instanceof PreconditionFailedError);
        assert.equal(won.length, 1, `${id}: one winner`);
        assert.equal(lost.length, 9, `${id}: nine PreconditionFailed`);
        const stored = await store.get('routes', id);
        assert.deepEqual(stored, { id, raw: JSON.stringify(route(id, `w${won[0]!.i}`)), modRevision: won[0]!.rev });
      }
    }));

    it('unicode and large values round-trip exactly', () => withStore(async (store) => {
      const values: Record<string, unknown> = {
        unicode: { s: 'héllo wörld — 日本語 🚀 👩🏽‍💻 \u0000 \u2028\u2029 "quoted" \\ back\nslash', lone: '\ud800' },
        large: { blob: 'x'.repeat(150_000) + '✓'.repeat(50_000), n: [...Array(1000).keys()] },
        scalar: 'just a string',
      };
      for (const [id, v] of Object.entries(values)) await store.put('upstreams', id, v);
      const snap = await store.load();
      for (const [id, v] of Object.entries(values)) {
        const e: StoredEntry | null = await store.get('upstreams', id);
        assert.equal(e?.raw, JSON.stringify(v), id);
        assert.deepEqual(JSON.parse(e!.raw), v);
        assert.equal(snap.upstreams.get(id)?.raw, JSON.stringify(v));
      }
      assert.ok(JSON.stringify(values.large).length > 200_000, 'the large value is really ~200 KB');
    }));
  });
}
