// Children never outlive their gateway (issue 6 part 1), even when the
// gateway gets SIGKILL and runs no cleanup at all: each backend's watchdog
// sees the gateway's end of its pipe close and kills the backend's process
// group, SIGTERM then SIGKILL. Covered: a backend that exits on SIGTERM, one
// that ignores SIGTERM (needs the SIGKILL), and the child of a backend
// (a grandchild of the gateway). All gone within 5 s.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { backendProcess, groupAlive, poolStatus, running } from '../helpers/backend-app.js';
import { putRoute } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';

describe('the gateway killed with SIGKILL', () => {
  let gw: GatewayProcess;
  const pids: number[] = [];

  before(async () => {
    gw = await startGateway();
    const r = await admin(gw, 'PUT', '/upstreams/kids', {
      name: 'kids',
      pools: {
        polite: { process: backendProcess('polite', { instances: 1 }, 'grandchild') },
        stubborn: { process: backendProcess('stubborn', { instances: 1 }, 'ignore-term') },
      },
      weights: { polite: 50, stubborn: 50 },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await putRoute(gw, 'kids', { path: '/' }, 'kids');
  });

  after(async () => {
    await gw?.kill9();
    removeDir(gw?.storeDir ?? null);
    for (const pid of pids) if (groupAlive(pid)) process.kill(-pid, 'SIGKILL');
    for (const pid of pids) if (running(pid)) process.kill(pid, 'SIGKILL');
  });

  it('takes every child process with it within 5 s', async () => {
    const ready = async (pool: string) => {
      const st = await poolStatus(gw, 'kids', pool);
      return st.healthy === 1 ? (st.source.instances[0].pid as number) : null;
    };
    const polite = await waitFor(() => ready('polite'), { timeoutMs: 10_000, what: 'polite ready' });
    const stubborn = await waitFor(() => ready('stubborn'), { timeoutMs: 10_000, what: 'stubborn ready' });
    const info = (await (await fetch(`http://127.0.0.1:${(await poolStatus(gw, 'kids', 'polite')).source.instances[0].port}/info`)).json()) as { grandchild: number };
    const grandchild = info.grandchild;
    pids.push(polite, stubborn, grandchild);
    assert.ok([polite, stubborn, grandchild].every(running), 'all running before the kill');

    const t0 = Date.now();
    await gw.kill9();
    await waitFor(() => [polite, stubborn, grandchild].every((p) => !running(p)) && !groupAlive(polite) && !groupAlive(stubborn), {
      timeoutMs: 5000,
      intervalMs: 50,
      what: 'every child, grandchild and watchdog gone',
    });
    console.log(`children gone ${Date.now() - t0} ms after the gateway's SIGKILL`);
  });
});
