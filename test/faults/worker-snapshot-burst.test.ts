// Fault injection (issue 8 part 5), found by sigterm-under-load with
// --workers 2: a data-plane worker that is slow to start can get two
// snapshots from its primary in one IPC read (the reply to its 'hello' and a
// broadcast of a newer table). Node emits both 'message' events before the
// worker's `await store.load()` resumes, so the newer one used to reach
// PrimaryStore before the gateway watched it and was dropped: that worker
// served the older table (404 no_route for a route every other process had)
// until the next config change. PrimaryStore.watch() now hands it over.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoreSnapshot } from '../../src/control/store.js';
import { PrimaryStore } from '../../src/workers/primary-store.js';

const snap = (revision: number): StoreSnapshot => Object.freeze({ revision, routes: new Map(), upstreams: new Map() });

describe('worker store: snapshots that arrive in one burst', () => {
  it('a snapshot delivered between load() and watch() is handed to the watcher', async () => {
    const store = new PrimaryStore();
    const loading = store.load();
    // One IPC read, two messages: both delivered before load()'s caller resumes.
    store.deliver(snap(1));
    store.deliver(snap(2));
    const first = await loading;
    assert.equal(first.revision, 1);
    const seen: number[] = [];
    store.watch((s) => seen.push(s.revision), new AbortController().signal);
    assert.deepEqual(seen, [2], 'the newer snapshot reaches the watcher');
    store.deliver(snap(3));
    assert.deepEqual(seen, [2, 3]);
  });

  it('nothing is replayed when load() already returned the newest snapshot', async () => {
    const store = new PrimaryStore();
    store.deliver(snap(5));
    assert.equal((await store.load()).revision, 5);
    const seen: number[] = [];
    store.watch((s) => seen.push(s.revision), new AbortController().signal);
    assert.deepEqual(seen, []);
    const waiting = new PrimaryStore();
    const p = waiting.load();
    waiting.deliver(snap(7));
    assert.equal((await p).revision, 7);
    const seen2: number[] = [];
    waiting.watch((s) => seen2.push(s.revision), new AbortController().signal);
    assert.deepEqual(seen2, []);
  });
});
