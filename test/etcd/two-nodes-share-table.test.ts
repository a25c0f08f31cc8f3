// Issue 3 acceptance: two gateway processes on one etcd share one routing
// table. A write through node A's admin API serves on node B's data plane
// within 1 s, every time (100 writes); reads on B see A's writes within 1 s;
// GET /nodes on either node lists both, and a kill -9'd node leaves the list
// within its lease TTL.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { putRoute, putUpstream } from '../helpers/config.js';
import { percentile, startEtcdNode, stopAllNodes, servedWithin, uniquePrefix } from '../helpers/etcd-gateway.js';
import { admin, type GatewayProcess } from '../helpers/gateway.js';
import { startTargetProcess, stopAllTargets, type TargetProcess } from '../helpers/target-process.js';
import { waitFor } from '../helpers/wait.js';
import { VERSION } from '../../src/version.js';

const WRITES = 100;
const LIMIT_MS = 1000;

describe('two gateway nodes on one etcd share one table', () => {
  let etcd: EtcdCluster;
  let a: GatewayProcess;
  let b: GatewayProcess;
  let t1: TargetProcess;
  let t2: TargetProcess;
  const prefix = uniquePrefix('share');

  before(async () => {
    etcd = await startEtcd();
    [t1, t2] = await Promise.all([startTargetProcess('t1'), startTargetProcess('t2')]);
    [a, b] = await Promise.all([
      startEtcdNode(etcd.endpoints, { prefix, nodeId: 'node-a', group: 'edge-1' }),
      startEtcdNode(etcd.endpoints, { prefix, nodeId: 'node-b', group: 'edge-2' }),
    ]);
    await putUpstream(a, 'u1', [t1.url]);
    await putUpstream(a, 'u2', [t2.url]);
  });

  after(async () => {
    await stopAllNodes();
    await stopAllTargets();
    await etcd?.close();
  });

  it(`${WRITES} writes through node A each serve on node B within ${LIMIT_MS} ms, and B's admin reads see them within ${LIMIT_MS} ms`, async () => {
    const served: number[] = [];
    const read: number[] = [];
    const slow: string[] = [];
    let lastRevision = 0;
    for (let i = 0; i < WRITES; i++) {
      // The route's upstream alternates, so every write changes what B's data plane answers.
      const [up, body] = i % 2 === 0 ? ['u2', 't2'] : ['u1', 't1'];
      const t0 = performance.now();
      const w = await putRoute(a, 'flip', { path: '/flip' }, up);
      lastRevision = w.body.revision;
      const [dataMs, readMs] = await Promise.all([
        // Served on B's data plane (the deadline only bounds a failing run; the assertion is below).
        servedWithin(`${b.dataUrls[0]}/flip/x`, body, 5000).then(() => performance.now() - t0),
        // Read on B's admin API: the route with this write's upstream and revision.
        (async () => {
          await waitFor(async () => {
            const r = await admin(b, 'GET', '/routes/flip');
            return r.status === 200 && r.body.upstream === up && r.body.revision === w.body.revision;
          }, { timeoutMs: 5000, intervalMs: 5, what: `GET /routes/flip on B to show write ${i}` });
          return performance.now() - t0;
        })(),
      ]);
      served.push(dataMs);
      read.push(readMs);
      if (dataMs >= LIMIT_MS || readMs >= LIMIT_MS) slow.push(`write ${i} (rev ${w.body.revision}): served after ${dataMs.toFixed(0)} ms, read after ${readMs.toFixed(0)} ms`);
    }
    console.log(
      `write->served on B over ${WRITES} writes: p50 ${percentile(served, 50).toFixed(1)} ms, p99 ${percentile(served, 99).toFixed(1)} ms, max ${Math.max(...served).toFixed(1)} ms; ` +
        `write->read on B: p50 ${percentile(read, 50).toFixed(1)} ms, p99 ${percentile(read, 99).toFixed(1)} ms`,
    );
    assert.deepEqual(slow, [], `writes not served/read on node B within ${LIMIT_MS} ms`);

    // Both nodes end on the last write's revision.
    for (const gw of [a, b]) {
      await waitFor(async () => (await admin(gw, 'GET', '/readyz')).body.appliedRevision === lastRevision, {
        timeoutMs: 2000,
        what: `${gw.adminUrl} to apply revision ${lastRevision}`,
      });
    }
  });

  it('GET /nodes on either node lists both nodes; a kill -9ed node vanishes within the lease TTL', async () => {
    const applied = (await admin(a, 'GET', '/readyz')).body.appliedRevision as number;
    const expected = [
      { id: 'node-a', group: 'edge-1', address: a.adminUrl },
      { id: 'node-b', group: 'edge-2', address: b.adminUrl },
    ];
    for (const gw of [a, b]) {
      // Records are published coalesced (100 ms) after every swap: poll until both carry the applied revision.
      const nodes = await waitFor(async () => {
        const r = await admin(gw, 'GET', '/nodes');
        if (r.status !== 200) return null;
        const list = r.body.nodes as any[];
        return list.length === 2 && list.every((n) => n.appliedRevision === applied) ? list : null;
      }, { timeoutMs: 3000, what: `GET /nodes on ${gw.adminUrl} to list both nodes at revision ${applied}` });
      for (const [i, want] of expected.entries()) {
        const n = nodes[i];
        assert.equal(n.id, want.id);
        assert.equal(n.group, want.group);
        assert.equal(n.address, want.address);
        assert.equal(n.version, VERSION);
        assert.equal(n.appliedRevision, applied);
        const seen = Date.parse(n.lastSeen);
        assert.ok(Number.isFinite(seen), `lastSeen ${n.lastSeen} is a date`);
        assert.ok(Math.abs(Date.now() - seen) < 10_000, `lastSeen ${n.lastSeen} is recent`);
      }
    }

    const t0 = Date.now();
    await b.kill9();
    await waitFor(async () => {
      const r = await admin(a, 'GET', '/nodes');
      return r.status === 200 && (r.body.nodes as any[]).every((n) => n.id !== 'node-b') && (r.body.nodes as any[]).some((n) => n.id === 'node-a');
    }, { timeoutMs: 12_000, intervalMs: 100, what: 'node-b to vanish from GET /nodes on node-a within 12 s of its kill -9 (lease TTL 10 s)' });
    const gone = Date.now() - t0;
    console.log(`kill -9 of node-b -> gone from node-a's /nodes after ${gone} ms (TTL 10 s)`);
  });
});
