// `process` pools (CONTRACT §2; issue 6 part 1): the gateway runs the
// instances itself, each on its own PORT, and adds one to the pool only once
// its health check passes. Under load, a SIGKILLed instance costs no request
// (the retry goes to the other one), is restarted and serves again; scaling
// `instances` to 3 adds a third without touching the first two; a flip away
// drains the pool and then stops every process of it (and its watchdog).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAutocannon } from '../helpers/autocannon.js';
import { backendProcess, groupAlive, poolStatus, running } from '../helpers/backend-app.js';
import { putRoute } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

const HEALTH = { path: '/healthz', intervalMs: 200, timeoutMs: 300, healthy: 1, unhealthy: 2 };

describe('a process pool', () => {
  let gw: GatewayProcess;
  let green: TestUpstream;
  const pids = new Set<number>();

  const upstream = (instances: number, weights: Record<string, number>) => ({
    name: 'svc',
    pools: { blue: { process: backendProcess('blue', { instances }) }, green: { targets: [green.url] } },
    weights,
    healthCheck: HEALTH,
  });

  /** Pids of the ready instances, by instance index. */
  const readyPids = async (n: number): Promise<number[] | null> => {
    const st = await poolStatus(gw, 'svc', 'blue');
    const inst = st.source.instances as { state: string; pid: number }[];
    if (st.healthy !== n || inst.length !== n || inst.some((i) => i.state !== 'ready')) return null;
    for (const i of inst) pids.add(i.pid);
    return inst.map((i) => i.pid);
  };

  before(async () => {
    green = await startUpstream('green');
    gw = await startGateway();
    const r = await admin(gw, 'PUT', '/upstreams/svc', upstream(2, { blue: 100, green: 0 }));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await putRoute(gw, 'svc', { path: '/' }, 'svc', { retries: 1 });
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await green?.close();
    // Whatever a failed run left behind, by pid (the group includes the watchdog).
    for (const pid of pids) if (groupAlive(pid)) process.kill(-pid, 'SIGKILL');
  });

  it('serves, survives a SIGKILLed instance under load, scales live, and stops after a flip away', async () => {
    const [p0, p1] = (await waitFor(() => readyPids(2), { timeoutMs: 10_000, what: 'two ready instances' })) as [number, number];
    const res = await fetch(gw.dataUrls[0]!);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^blue \d+$/);

    // SIGKILL instance 0 under load: no request fails, it comes back on a new pid.
    const port0 = (await poolStatus(gw, 'svc', 'blue')).source.instances[0].port as number;
    const served = async () => ((await (await fetch(`http://127.0.0.1:${port0}/info`)).json()) as { served: number }).served;
    const before = await served();
    const load = runAutocannon(gw.dataUrls[0]!, ['-c', '8', '-d', '5']);
    try {
      // autocannon needs a moment to start on a busy machine: kill once its requests reach instance 0.
      await waitFor(async () => (await served()) > before + 50, { timeoutMs: 4000, intervalMs: 50, what: 'load running' });
      process.kill(p0, 'SIGKILL');
      const back = (await waitFor(async () => {
        const got = await readyPids(2);
        return got && got[0] !== p0 ? got : null;
      }, { timeoutMs: 6000, what: 'instance 0 restarted and ready' })) as number[];
      assert.equal(back[1], p1, 'instance 1 was not touched');
      const st = await poolStatus(gw, 'svc', 'blue');
      assert.equal(st.source.instances[0].restarts, 1);
      assert.match(st.source.instances[0].lastExit.reason, /SIGKILL/);
      assert.equal(st.source.restarts, 1);

      const result = await load.done;
      assert.equal(result.errors, 0, 'client errors');
      assert.equal(result.timeouts, 0, 'client timeouts');
      assert.equal(result.non2xx, 0, 'non-2xx answers');
      assert.ok(result.requests.total > 500, `load ran: ${result.requests.total} requests`);

      // The restarted instance takes traffic again.
      const seen = new Set<string>();
      await waitFor(async () => {
        const r = await fetch(gw.dataUrls[0]!);
        seen.add(r.headers.get('x-pid') ?? '');
        return seen.has(String(back[0])) && seen.has(String(p1));
      }, { timeoutMs: 3000, intervalMs: 1, what: 'both instances answering' });
    } finally {
      load.kill();
    }

    // Scale to 3: a third instance joins; the first two keep running.
    const current = (await readyPids(2))!;
    await admin(gw, 'PUT', '/upstreams/svc', upstream(3, { blue: 100, green: 0 }));
    const three = (await waitFor(() => readyPids(3), { timeoutMs: 10_000, what: 'three ready instances' })) as number[];
    assert.deepEqual(three.slice(0, 2), current, 'scaling up restarts nothing');

    // Flip away: blue drains, then every process of it stops (watchdog included).
    const flip = await admin(gw, 'POST', '/upstreams/svc/flip', { to: 'green' });
    assert.equal(flip.status, 200, JSON.stringify(flip.body));
    await waitFor(async () => {
      const st = await poolStatus(gw, 'svc', 'blue');
      return st.state === 'drained' && st.source.state === 'stopped' && three.every((pid) => !running(pid) && !groupAlive(pid));
    }, { timeoutMs: 8000, what: 'blue drained and its processes gone' });
    const r = await fetch(gw.dataUrls[0]!);
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { upstream: string }).upstream, 'green');
  });
});
