// Issue 3 acceptance: a node restarted while etcd is down serves the table it
// last applied (kept in its --state-dir), ready with the store disconnected,
// and catches up once etcd is back. A node that never saw the table (empty
// state dir) is not ready until etcd answers: an empty table is never
// claimed as ready.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { hit, lastKnownGoodRevision, readyz, servedWithin, startEtcdNode, stopAllNodes, uniquePrefix } from '../helpers/etcd-gateway.js';
import { admin, tempDir, type GatewayProcess } from '../helpers/gateway.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { startTargetProcess, stopAllTargets, type TargetProcess } from '../helpers/target-process.js';
import { waitFor } from '../helpers/wait.js';

describe('node restart while etcd is down', () => {
  let etcd: EtcdCluster;
  let t1: TargetProcess;
  let t2: TargetProcess;
  const prefix = uniquePrefix('restart');

  before(async () => {
    etcd = await startEtcd();
    [t1, t2] = await Promise.all([startTargetProcess('t1'), startTargetProcess('t2')]);
  });

  after(async () => {
    await stopAllNodes();
    await stopAllTargets();
    await etcd?.close();
  });

  it('a restarted node serves its last table from its state dir, ready and disconnected, and catches up when etcd returns', async () => {
    const stateDir = tempDir('switchyard-state-');
    const first = await startEtcdNode(etcd.endpoints, { prefix, nodeId: 'node-r', stateDir });
    await putUpstream(first, 'u1', [t1.url]);
    await putUpstream(first, 'u2', [t2.url]);
    await putRoute(first, 'a', { path: '/a' }, 'u1');
    const last = await putRoute(first, 'b', { path: '/b' }, 'u2');
    const rev = last.body.revision as number;
    await servedWithin(`${first.dataUrls[0]}/a`, 't1', 2000);
    await servedWithin(`${first.dataUrls[0]}/b`, 't2', 2000);
    await waitFor(() => (lastKnownGoodRevision(stateDir) ?? 0) >= rev, { timeoutMs: 3000, what: `the last-known-good file to hold revision ${rev}` });

    await etcd.kill(0);
    const code = await first.stop();
    assert.equal(code, 0, `SIGTERM with etcd down must exit 0:\n${first.output().slice(-2000)}`);

    const t0 = Date.now();
    const again = await startEtcdNode(etcd.endpoints, { prefix, nodeId: 'node-r', stateDir });
    const startMs = Date.now() - t0;
    const rz = await readyz(again);
    assert.equal(rz.status, 200, `/readyz after a restart with etcd down: ${JSON.stringify(rz)}`);
    assert.equal(rz.ready, true);
    assert.equal(rz.store, 'disconnected');
    assert.equal(rz.appliedRevision, rev, 'serves the revision it had applied');
    assert.equal(metricValue(await scrape(again), 'switchyard_store_connected'), 0);
    // The last table serves, each route from its own upstream.
    for (const [path, want] of [['/a/x', 't1'], ['/b', 't2']] as const) {
      const h = await hit(`${again.dataUrls[0]}${path}`);
      assert.deepEqual(h, { status: 200, body: want }, `GET ${path} on the restarted node`);
    }
    assert.equal((await hit(`${again.dataUrls[0]}/nope`)).status, 404);

    const tBack = Date.now();
    await etcd.restart(0);
    // Catches up: a route written after etcd returns serves on it.
    let wrote = 0;
    await waitFor(async () => {
      const r = await admin(again, 'PUT', '/routes/c', { id: 'c', match: { path: '/c' }, upstream: 'u2' });
      if (r.status === 200 || r.status === 201) wrote = r.body.revision;
      return wrote > 0;
    }, { timeoutMs: 10_000, intervalMs: 50, what: 'a write after etcd is back' });
    await servedWithin(`${again.dataUrls[0]}/c`, 't2', 3000);
    await waitFor(async () => {
      const r = await readyz(again);
      return r.status === 200 && r.store === 'connected' && r.appliedRevision >= wrote;
    }, { timeoutMs: 3000, what: 'the node to report the store connected at the new revision' });
    // The store is the truth again: a route deleted now stops serving on it.
    assert.equal((await admin(again, 'DELETE', '/routes/b')).status, 200);
    await waitFor(async () => (await hit(`${again.dataUrls[0]}/b`)).status === 404, { timeoutMs: 2000, what: 'deleted route b to 404' });
    console.log(`restart with etcd down: started (from last-known-good) in ${startMs} ms; caught up ${Date.now() - tBack} ms after etcd restart began`);
    await waitFor(() => (lastKnownGoodRevision(stateDir) ?? 0) >= wrote, { timeoutMs: 3000, what: `the last-known-good file to follow revision ${wrote}` });
  });

  it('a fresh node (empty state dir) started while etcd is down is not ready until etcd answers', async () => {
    await etcd.kill(0);
    const fresh = await startEtcdNode(etcd.endpoints, { prefix, nodeId: 'node-fresh' });
    // Not ready, twice over ~1 s: it neither claims an empty table nor gives up.
    for (let i = 0; i < 2; i++) {
      const rz = await readyz(fresh);
      assert.equal(rz.status, 503, `/readyz of a fresh node with etcd down: ${JSON.stringify(rz)}`);
      assert.equal(rz.ready, false);
      assert.equal(rz.store, 'disconnected');
      if (i === 0) await new Promise((r) => setTimeout(r, 1000)); // pacing: stays not-ready, not just at start
    }
    const t0 = Date.now();
    await etcd.restart(0);
    await waitFor(async () => (await readyz(fresh)).status === 200, { timeoutMs: 5000, intervalMs: 5, what: 'the fresh node to become ready once etcd is back' });
    // Ready means the data plane serves the stored table from the first moment: the requests sent
    // right after the first /readyz 200 (in parallel, on several connections) all get it.
    const first = await Promise.all(Array.from({ length: 8 }, (_, i) => hit(`${fresh.dataUrls[0]}/${i % 2 ? 'a' : 'c'}`)));
    const readyMs = Date.now() - t0;
    const early = first.map((h, i) => `${i % 2 ? '/a' : '/c'} -> ${h.status} ${h.body.slice(0, 60)}`).filter((_, i) => first[i]!.status !== 200 || first[i]!.body !== (i % 2 ? 't1' : 't2'));
    assert.deepEqual(early, [], 'the node answered /readyz 200 while its data plane still served an empty table (requests sent right after the first 200)');
    const rz = await readyz(fresh);
    assert.equal(rz.ready, true);
    assert.ok(rz.appliedRevision > 0);
    console.log(`fresh node with etcd down: ready ${readyMs} ms after etcd restart began`);
  });
});
