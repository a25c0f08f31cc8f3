// A process pool whose command does not exist (issue 6 part 1): the pool
// reports the error and its restarts in GET /upstreams/:name/status (a crash
// loop is visible, not hidden), the route answers 503 no_healthy_target, and
// the gateway keeps running and serving everything else. Also: a registry
// pool on the file store is always empty and says why.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { poolStatus } from '../helpers/backend-app.js';
import { putRoute, putUpstream } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

describe('a process pool with a missing command', () => {
  let gw: GatewayProcess;
  let ok: TestUpstream;

  before(async () => {
    ok = await startUpstream('ok');
    gw = await startGateway();
    const r = await admin(gw, 'PUT', '/upstreams/broken', {
      name: 'broken',
      pools: { main: { process: { command: 'switchyard-no-such-command', args: ['--port', '$PORT'], instances: 2 } } },
      weights: { main: 100 },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await putRoute(gw, 'broken', { path: '/broken' }, 'broken');
    await putUpstream(gw, 'fine', [ok.url]);
    await putRoute(gw, 'fine', { path: '/fine' }, 'fine');
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await ok?.close();
  });

  it('reports the error and the restarts, answers 503, and the gateway keeps serving', async () => {
    const st = await waitFor(async () => {
      const s = await poolStatus(gw, 'broken', 'main');
      return s.source.state === 'crash-loop' ? s : null;
    }, { timeoutMs: 8000, what: 'crash-loop reported' });
    assert.equal(st.total, 0);
    assert.match(st.source.error, /command not found/);
    assert.match(st.source.error, /switchyard-no-such-command/);
    assert.ok(st.source.restarts >= 6, `restarts ${st.source.restarts} (3 per instance before crash-loop)`);
    for (const i of st.source.instances) {
      assert.equal(i.state === 'backoff' || i.state === 'starting', true, i.state);
      assert.ok(i.restarts >= 3);
    }

    const res = await fetch(`${gw.dataUrls[0]}/broken`);
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: string }).error, 'no_healthy_target');

    const fine = await fetch(`${gw.dataUrls[0]}/fine`);
    assert.equal(fine.status, 200);
    assert.equal((await admin(gw, 'GET', '/healthz')).status, 200);
    assert.equal(gw.child.exitCode, null, 'the gateway is still running');
  });

  it('a registry pool on the file store is empty and says it needs etcd', async () => {
    const r = await admin(gw, 'PUT', '/upstreams/pods', { name: 'pods', pools: { pods: { registry: true } }, weights: { pods: 100 } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const st = await poolStatus(gw, 'pods', 'pods');
    assert.equal(st.total, 0);
    assert.equal(st.source.kind, 'registry');
    assert.equal(st.source.state, 'unavailable');
    assert.match(st.source.error, /etcd/);
  });
});
