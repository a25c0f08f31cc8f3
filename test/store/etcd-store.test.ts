// EtcdStore against a real etcd (test/helpers/etcd.ts): the shared conformance
// suite, plus what only etcd has: foreign writers, other nodes, compaction,
// a cluster losing a member, auth tokens expiring.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3, KVClient } from 'etcd3';
import { EtcdStore, parseEtcdUri, type EtcdStoreLogger } from '../../src/control/etcd-store.js';
import { ConflictError, StoreUnavailableError, type StoreSnapshot } from '../../src/control/store.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';
import { storeConformance } from './store-conformance.js';

let etcd: EtcdCluster;
let n = 0;
const stores: EtcdStore[] = [];
const clients: Etcd3[] = [];
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  clients.forEach((c) => c.close());
  await etcd?.close();
});

const freshPrefix = () => `/sy-test-${process.pid}-${n++}/`;
async function open(prefix = freshPrefix(), extra: Partial<Parameters<typeof EtcdStore.open>[0]> = {}, cluster = etcd): Promise<EtcdStore> {
  const s = await EtcdStore.open({ endpoints: cluster.endpoints, prefix, ...extra });
  stores.push(s);
  return s;
}
function raw(cluster = etcd): Etcd3 {
  const c = new Etcd3({ hosts: cluster.endpoints });
  clients.push(c);
  return c;
}
/** A logger that keeps what it was told. */
function recorder(): EtcdStoreLogger & { lines: Array<{ level: string; msg: string; obj: any }> } {
  const lines: Array<{ level: string; msg: string; obj: any }> = [];
  const at = (level: string) => (obj: object, msg: string) => void lines.push({ level, msg, obj });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}
const plain = (s: StoreSnapshot) => ({
  revision: s.revision,
  routes: Object.fromEntries([...s.routes].map(([k, e]) => [k, { ...e }])),
  upstreams: Object.fromEntries([...s.upstreams].map(([k, e]) => [k, { ...e }])),
});
const route = (id: string, upstream: string) => ({ id, match: { path: `/${id}` }, upstream });
const upstream = (name: string) => ({ name, pools: { blue: { targets: ['http://127.0.0.1:3001'] } } });

storeConformance('etcd', async () => {
  const store = await EtcdStore.open({ endpoints: etcd.endpoints, prefix: freshPrefix() });
  return { store, cleanup: () => store.close() };
});

describe('parseEtcdUri', () => {
  it('turns etcd:// and etcds:// lists into client URLs', () => {
    assert.deepEqual(parseEtcdUri('etcd://127.0.0.1:2379'), { endpoints: ['http://127.0.0.1:2379'], tls: false });
    assert.deepEqual(parseEtcdUri('etcd://a:1,b:2, c'), { endpoints: ['http://a:1', 'http://b:2', 'http://c:2379'], tls: false });
    assert.deepEqual(parseEtcdUri('etcds://etcd.example.com:2379/'), { endpoints: ['https://etcd.example.com:2379'], tls: true });
    assert.deepEqual(parseEtcdUri('etcd://[::1]:2379'), { endpoints: ['http://[::1]:2379'], tls: false });
    for (const bad of ['http://a:1', 'etcd://', 'etcd://a:99999', 'etcd://user:pw@a:1', 'etcd://a:1/path', 'etcd://a:1,,b:2']) {
      assert.throws(() => parseEtcdUri(bad), Error, bad);
    }
  });
});

describe('EtcdStore on etcd', () => {
  it('lists everything in pages (pinned to the first page revision); the watch goes on after it', async () => {
    const prefix = freshPrefix();
    const c = raw();
    await c.put(`${prefix}upstreams/u`).value(JSON.stringify(upstream('u')));
    for (let i = 0; i < 11; i++) await c.put(`${prefix}routes/r${i}`).value(JSON.stringify(route(`r${i}`, 'u')));
    const store = await open(prefix, { readPage: 3 });
    const snap = await store.load();
    assert.deepEqual([...snap.routes.keys()].sort(), [...Array(11).keys()].map((i) => `r${i}`).sort());
    assert.equal(snap.upstreams.get('u')?.id, 'u');
    const seen: StoreSnapshot[] = [];
    const ctl = new AbortController();
    store.watch((s) => seen.push(s), ctl.signal);
    const rev = await store.put('routes', 'r11', route('r11', 'u'));
    await waitFor(() => seen.some((s) => s.revision >= rev && s.routes.has('r11')));
    assert.equal(seen.at(-1)!.routes.size, 12);
    ctl.abort();
  });

  it('shows values written by other tools verbatim, garbage included, and ignores foreign keys', async () => {
    const prefix = freshPrefix();
    const store = await open(prefix);
    const c = raw();
    await c.put(`${prefix}routes/junk`).value('{not json');
    await c.put(`${prefix}upstreams/u1`).value('"just a string"');
    await c.put(`${prefix}nodes/n1`).value('{}'); // outside routes/ and upstreams/
    await c.put(`${prefix}routes/a/b`).value('{}'); // not a resource key
    await c.put(`${prefix}s-between`).value('{}'); // inside the watched key range, not a resource
    const snap = await store.load();
    assert.equal(snap.routes.get('junk')?.raw, '{not json');
    assert.equal(snap.upstreams.get('u1')?.raw, '"just a string"');
    assert.deepEqual([...snap.routes.keys()], ['junk']);
    assert.deepEqual([...snap.upstreams.keys()], ['u1']);
    assert.equal((await store.get('routes', 'junk'))?.raw, '{not json');

    const seen: StoreSnapshot[] = [];
    const ac = new AbortController();
    store.watch((s) => seen.push(s), ac.signal);
    await c.put(`${prefix}routes/junk2`).value('\u0000binary\u00ff');
    await c.put(`${prefix}s-between2`).value('{}');
    await waitFor(() => seen.at(-1)?.routes.get('junk2'), { what: 'foreign write on the watch' });
    assert.equal(seen.at(-1)!.routes.get('junk2')!.raw, '\u0000binary\u00ff');
    assert.deepEqual([...seen.at(-1)!.routes.keys()].sort(), ['junk', 'junk2']);
    // A garbage route does not block deleting an upstream; the in-use check skips it.
    await store.delete('upstreams', 'u1');
    ac.abort();
  });

  it('two stores on one etcd see each other\'s writes through the watch', async () => {
    const prefix = freshPrefix();
    const a = await open(prefix);
    const b = await open(prefix);
    const seenA: StoreSnapshot[] = [];
    const seenB: StoreSnapshot[] = [];
    const ac = new AbortController();
    a.watch((s) => seenA.push(s), ac.signal);
    b.watch((s) => seenB.push(s), ac.signal);
    const t0 = Date.now();
    const r1 = await a.put('upstreams', 'u', upstream('u'));
    await waitFor(() => seenB.at(-1)?.revision === r1, { timeoutMs: 1000, what: 'b sees a\'s write' });
    const r2 = await b.put('routes', 'r', route('r', 'u'));
    await waitFor(() => seenA.at(-1)?.revision === r2, { timeoutMs: 1000, what: 'a sees b\'s write' });
    assert.ok(Date.now() - t0 < 1000);
    await assert.rejects(b.delete('upstreams', 'u'), ConflictError);
    const r3 = await a.delete('routes', 'r');
    await waitFor(() => seenB.at(-1)?.revision === r3, { timeoutMs: 1000, what: 'b sees the delete' });
    assert.equal(seenB.at(-1)!.routes.has('r'), false);
    assert.deepEqual(plain(seenA.at(-1)!), plain(seenB.at(-1)!));
    ac.abort();
  });

  it('a burst of 200 writes arrives as snapshots in revision order, each exactly the writes up to its revision', async () => {
    const prefix = freshPrefix();
    const watcher = await open(prefix);
    const writer = await open(prefix);
    await watcher.load();
    const seen: StoreSnapshot[] = [];
    const ac = new AbortController();
    watcher.watch((s) => seen.push(s), ac.signal);
    const revs = await Promise.all([...Array(200).keys()].map((i) => writer.put('routes', `r${i}`, route(`r${i}`, 'u'))));
    const last = Math.max(...revs);
    await waitFor(() => seen.at(-1)?.revision === last, { what: `snapshot of revision ${last}` });
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.revision > seen[i - 1]!.revision, 'strictly increasing revisions');
    for (const s of seen) {
      const expected = revs.flatMap((r, i) => (r <= s.revision ? [`r${i}`] : [])).sort();
      assert.deepEqual([...s.routes.keys()].sort(), expected, `snapshot ${s.revision} holds exactly the writes up to it`);
      for (const [id, e] of s.routes) assert.equal(e.modRevision, revs[Number(id.slice(1))]);
    }
    assert.equal(seen.at(-1)!.routes.size, 200);
    assert.ok(seen.length < 200, `bursts are coalesced (${seen.length} snapshots for 200 writes)`);
    ac.abort();
  });

  it('a watch that starts below the compacted revision re-lists and ends with exactly what etcd holds', async () => {
    const prefix = freshPrefix();
    const log = recorder();
    const store = await open(prefix, { logger: log });
    const other = await open(prefix);
    await store.put('upstreams', 'u', upstream('u'));
    await store.put('routes', 'gone', route('gone', 'u'));
    const loaded = await store.load(); // the watch will start at before.revision + 1 ...
    await other.put('routes', 'a', route('a', 'u'));
    await other.delete('routes', 'gone');
    await other.put('upstreams', 'u', { ...upstream('u'), balancer: 'least-request' });
    const compacted = await etcd.compact(); // ... which no longer exists
    assert.ok(compacted > loaded.revision + 1);
    const seen: StoreSnapshot[] = [];
    const ac = new AbortController();
    store.watch((s) => seen.push(s), ac.signal);
    await waitFor(() => seen.at(-1)?.routes.has('a'), { what: 'resynced snapshot' });
    assert.ok(log.lines.some((l) => l.obj.reason === 'error' && /canceled/i.test(String(l.obj.err?.message))), 'the compaction error was seen');
    const truth = await other.load();
    assert.deepEqual(plain(seen.at(-1)!), plain(truth));
    assert.equal(seen.at(-1)!.routes.has('gone'), false);
    // ... and it keeps watching from there.
    const r = await other.put('routes', 'b', route('b', 'u'));
    await waitFor(() => seen.at(-1)?.revision === r, { what: 'write after the resync' });
    assert.deepEqual(plain(seen.at(-1)!), plain(await store.load()));
    ac.abort();
  });

  it('a running watch is not disturbed by compaction', async () => {
    const prefix = freshPrefix();
    const log = recorder();
    const store = await open(prefix, { logger: log });
    const seen: StoreSnapshot[] = [];
    const ac = new AbortController();
    store.watch((s) => seen.push(s), ac.signal);
    await store.put('routes', 'a', route('a', 'u'));
    await etcd.compact();
    const r = await store.put('routes', 'b', route('b', 'u'));
    assert.equal(seen.at(-1)?.revision, r);
    assert.equal(log.lines.filter((l) => /watch ended/.test(l.msg)).length, 0);
    ac.abort();
  });

  it('deleting an upstream is atomic with the in-use check: a route written between check and delete blocks it', async () => {
    const prefix = freshPrefix();
    const store = await open(prefix);
    const c = raw();
    await store.put('upstreams', 'u', upstream('u'));
    await store.put('routes', 'other', route('other', 'x'));
    // Slip a route that uses `u` in right before the store's delete txn is sent.
    const original = KVClient.prototype.txn;
    let slipped = 0;
    KVClient.prototype.txn = async function (this: KVClient, req, options) {
      if (!slipped && req.success?.some((op) => op.request_delete_range)) {
        slipped++;
        await c.put(`${prefix}routes/sneaky`).value(JSON.stringify(route('sneaky', 'u')));
      }
      return original.call(this, req, options);
    };
    try {
      await assert.rejects(store.delete('upstreams', 'u'), (err: unknown) => err instanceof ConflictError && /sneaky/.test(err.message));
    } finally {
      KVClient.prototype.txn = original;
    }
    assert.equal(slipped, 1);
    assert.ok(await store.get('upstreams', 'u'), 'the upstream is still there');
    // Many more routes than a txn may hold operations: the check is one range compare.
    await Promise.all([...Array(150).keys()].map((i) => store.put('routes', `x${i}`, route(`x${i}`, 'x'))));
    await store.delete('routes', 'sneaky');
    const rev = await store.delete('upstreams', 'u');
    assert.equal((await store.load()).revision, rev);
  });

  it('keeps reading, watching and writing while one member of a 3-member cluster is down', async () => {
    const cluster = await startEtcd({ members: 3 });
    try {
      const prefix = freshPrefix();
      const store = await open(prefix, {}, cluster);
      const other = await open(prefix, {}, cluster);
      const seen: StoreSnapshot[] = [];
      const ac = new AbortController();
      await store.load();
      store.watch((s) => seen.push(s), ac.signal);
      await store.put('upstreams', 'u', upstream('u'));
      const leader = await cluster.leader();
      await cluster.kill(leader); // the hardest member to lose: an election follows
      const t0 = Date.now();
      await waitFor(() => other.put('routes', 'first', route('first', 'u')).then(() => true, () => false),
        { timeoutMs: 10_000, what: 'a write after losing the leader' });
      const recovered = Date.now() - t0;
      // From here on every call succeeds: calls that pick the dead member (also
      // the breaker's half-open probes, every second) go to another one.
      let i = 0;
      for (const until = Date.now() + 2500; Date.now() < until; i++) {
        const rev = await other.put('routes', `r${i}`, route(`r${i}`, 'u'));
        assert.equal((await other.get('routes', `r${i}`))?.modRevision, rev);
        await waitFor(() => (seen.at(-1)?.revision ?? 0) >= rev, { what: `watch delivers write ${i}` });
      }
      assert.ok(i >= 20, `${i} writes`);
      const snap = await store.load();
      assert.equal(snap.routes.size, i + 1);
      assert.deepEqual(plain(seen.at(-1)!), plain(snap));
      assert.ok(store.connected && other.connected);
      ac.abort();
      assert.ok(recovered < 10_000, `writable again after ${recovered} ms`);
    } finally {
      await cluster.close();
    }
  });

  it('keeps working after its auth token expired (etcd --auth-token-ttl 1)', async () => {
    const secured = await startEtcd({ args: ['--auth-token-ttl', '1'] });
    try {
      const admin = new Etcd3({ hosts: secured.endpoints });
      try {
        await admin.role('root').create();
        await admin.user('root').create('root-pw');
        await admin.user('root').addRole('root');
        await admin.auth.authEnable({});
      } finally {
        admin.close();
      }
      await assert.rejects(open(freshPrefix(), { auth: { username: 'root', password: 'wrong' } }, secured),
        (err: unknown) => err instanceof StoreUnavailableError && /authentication failed/.test(err.message), 'bad credentials fail open()');
      const prefix = freshPrefix();
      const auth = { username: 'root', password: 'root-pw' };
      const store = await open(prefix, { auth }, secured);
      const other = await open(prefix, { auth }, secured);
      const seen: StoreSnapshot[] = [];
      const ac = new AbortController();
      store.watch((s) => seen.push(s), ac.signal);
      await store.put('routes', 'a', route('a', 'u'));
      // Let both tokens expire: nothing to poll for, the TTL is plain time.
      await new Promise((r) => setTimeout(r, 2200));
      const r1 = await store.put('routes', 'b', route('b', 'u'));
      const r2 = await other.put('routes', 'c', route('c', 'u'));
      await waitFor(() => seen.at(-1)?.revision === r2, { what: 'watch after token expiry' });
      assert.ok(r2 > r1);
      // etcd forgets every token on restart.
      await secured.restart(0);
      const r3 = await waitFor(() => other.put('routes', 'd', route('d', 'u')).catch(() => 0), { what: 'write after restart' });
      await waitFor(() => seen.at(-1)?.revision === r3, { what: 'watch after restart' });
      ac.abort();
    } finally {
      await secured.close();
    }
  });
});
