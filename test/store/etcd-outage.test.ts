// EtcdStore while etcd is dead (SIGKILL), hung (SIGSTOP) or not there yet:
// every call fails with StoreUnavailableError in bounded time, nothing is
// acknowledged that etcd did not commit, and everything recovers on its own.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdStore } from '../../src/control/etcd-store.js';
import { StoreUnavailableError, type StoreSnapshot } from '../../src/control/store.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';

const TIMEOUT = 1500; // requestTimeoutMs of the stores under test
let etcd: EtcdCluster;
let n = 0;
const stores: EtcdStore[] = [];
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await etcd?.close();
});

async function open(prefix: string): Promise<EtcdStore> {
  const s = await EtcdStore.open({ endpoints: etcd.endpoints, prefix, requestTimeoutMs: TIMEOUT });
  stores.push(s);
  return s;
}
const route = (id: string) => ({ id, match: { path: `/${id}` }, upstream: 'u' });

/** Runs `p`, expecting StoreUnavailableError within `limitMs`; resolves with the time it took. */
async function unavailableWithin(p: () => Promise<unknown>, limitMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  await assert.rejects(p(), StoreUnavailableError, what);
  const took = Date.now() - t0;
  assert.ok(took <= limitMs, `${what}: rejected after ${took} ms, limit ${limitMs} ms`);
  return took;
}

/** Polls `write` until it succeeds; resolves with its result and how long that took. */
async function recovers<T>(write: () => Promise<T>, what: string, timeoutMs = 5000): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  let value: T | undefined;
  await waitFor(() => write().then((v) => ((value = v), true), () => false), { timeoutMs, intervalMs: 25, what });
  return { value: value!, ms: Date.now() - t0 };
}

describe('EtcdStore outages', () => {
  it('etcd SIGKILLed: calls fail fast, connected drops, and after a restart writes and the watch resume', async () => {
    const prefix = `/outage-kill-${n++}/`;
    const store = await open(prefix);
    const other = await open(prefix);
    const seen: StoreSnapshot[] = [];
    const ac = new AbortController();
    store.watch((s) => seen.push(s), ac.signal);
    const kept = await store.put('routes', 'kept', route('kept'));
    assert.equal(store.connected, true);

    await etcd.kill(0);
    await unavailableWithin(() => store.put('routes', 'lost', route('lost')), TIMEOUT + 1000, 'put while etcd is dead');
    assert.equal(store.connected, false);
    await unavailableWithin(() => store.load(), TIMEOUT + 1000, 'load while etcd is dead (never an empty table)');
    await unavailableWithin(() => store.get('routes', 'kept'), TIMEOUT + 1000, 'get while etcd is dead');
    await unavailableWithin(() => store.delete('routes', 'kept'), TIMEOUT + 1000, 'delete while etcd is dead');

    await etcd.restart(0); // same data dir
    const back = await recovers(() => store.put('routes', 'after', route('after')), 'write after restart');
    assert.ok(back.ms < 5000, `writable ${back.ms} ms after the restart`);
    assert.equal(store.connected, true);
    assert.equal((await store.get('routes', 'kept'))?.modRevision, kept, 'data written before the kill survived');
    assert.equal(await store.get('routes', 'lost'), null, 'the rejected write was not applied');

    // The watch is back: another client's write is delivered.
    const rev = await other.put('routes', 'from-other', route('from-other'));
    await waitFor(() => (seen.at(-1)?.revision ?? 0) >= rev, { what: 'watch delivers a write made after the restart' });
    assert.ok(seen.at(-1)!.routes.has('from-other') && seen.at(-1)!.routes.has('after'));
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.revision > seen[i - 1]!.revision, 'revision order across the outage');
    ac.abort();
  });

  it('etcd SIGSTOPped: calls fail in bounded time; after SIGCONT everything recovers', async () => {
    const prefix = `/outage-stop-${n++}/`;
    const store = await open(prefix);
    const other = await open(prefix);
    const seen: StoreSnapshot[] = [];
    const ac = new AbortController();
    store.watch((s) => seen.push(s), ac.signal);
    await store.put('routes', 'a', route('a'));

    etcd.stop(0);
    let resumed = false;
    try {
      const took = await Promise.all([
        unavailableWithin(() => store.put('routes', 'hung', route('hung')), TIMEOUT + 1000, 'put while etcd hangs'),
        unavailableWithin(() => store.load(), TIMEOUT + 1000, 'load while etcd hangs'),
        unavailableWithin(() => other.delete('upstreams', 'u'), TIMEOUT + 1000, 'delete while etcd hangs'),
      ]);
      assert.ok(took.every((t) => t >= TIMEOUT - 100), `a hung etcd is waited for until the deadline (${took.join(', ')} ms)`);
      assert.equal(store.connected, false);
      etcd.cont(0);
      resumed = true;
    } finally {
      if (!resumed) etcd.cont(0);
    }

    const back = await recovers(() => store.put('routes', 'b', route('b')), 'write after SIGCONT');
    assert.ok(back.ms < 5000, `writable ${back.ms} ms after SIGCONT`);
    await waitFor(() => store.connected, { what: 'connected again' });
    const rev = await other.put('routes', 'c', route('c'));
    await waitFor(() => (seen.at(-1)?.revision ?? 0) >= rev, { what: 'watch delivers a write made after SIGCONT' });
    // Whatever etcd holds now (the put that timed out may or may not have been
    // applied when etcd resumed), the watcher's table is exactly that.
    const truth = await other.load();
    const last = seen.at(-1)!;
    assert.deepEqual([...last.routes.keys()].sort(), [...truth.routes.keys()].sort());
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.revision > seen[i - 1]!.revision, 'revision order across the hang');
    ac.abort();
  });

  it('opens while etcd is down, reports disconnected, and catches up once etcd is there', async () => {
    const prefix = `/outage-late-${n++}/`;
    const writer = await open(prefix);
    await writer.put('routes', 'early', route('early'));
    await etcd.kill(0);
    const store = await open(prefix); // must not throw: the gateway serves its last table meanwhile
    assert.equal(store.connected, false);
    await unavailableWithin(() => store.load(), TIMEOUT + 1000, 'load before etcd is up');
    const seen: StoreSnapshot[] = [];
    const ac = new AbortController();
    store.watch((s) => seen.push(s), ac.signal);
    await etcd.restart(0);
    await waitFor(() => store.connected, { what: 'connected once etcd is up (no call made)' });
    await waitFor(() => seen.at(-1)?.routes.has('early'), { what: 'the watch lists the table once etcd is up' });
    const rev = await writer.put('routes', 'later', route('later'));
    await waitFor(() => seen.at(-1)?.revision === rev, { what: 'and then follows it' });
    ac.abort();
  });

  it('close() is idempotent and fails later calls with StoreUnavailableError', async () => {
    const store = await open(`/outage-close-${n++}/`);
    const ac = new AbortController();
    store.watch(() => {}, ac.signal);
    await Promise.all([store.close(), store.close()]);
    await store.close();
    await assert.rejects(store.put('routes', 'x', route('x')), StoreUnavailableError);
    await assert.rejects(store.load(), StoreUnavailableError);
  });
});
