import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAutocannon } from '../helpers/autocannon.js';
import { putRoute } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/** An upstream answering 200 after a random delay in [min, max] ms, tracking every request's fate. */
async function delayed(name: string, min: number, max: number) {
  const log = { arrivals: [] as number[], aborted: [] as number[] };
  const up = await startUpstream(name, (req, res) => {
    const arrived = Date.now();
    log.arrivals.push(arrived);
    res.on('close', () => { if (!res.writableFinished) log.aborted.push(arrived); });
    setTimeout(() => res.end(name), min + Math.random() * (max - min));
  });
  return { up, log };
}

describe('blue/green flip under load', () => {
  let gw: GatewayProcess;
  let blue: Awaited<ReturnType<typeof delayed>>;
  let green: Awaited<ReturnType<typeof delayed>>;

  before(async () => {
    blue = await delayed('blue', 50, 500);
    green = await delayed('green', 5, 25);
    gw = await startGateway();
    const r = await admin(gw, 'PUT', '/upstreams/shop', {
      name: 'shop',
      pools: { blue: { targets: [blue.up.url] }, green: { targets: [green.up.url] } },
      weights: { blue: 100, green: 0 },
    });
    assert.equal(r.status, 201);
    await putRoute(gw, 'shop', { path: '/' }, 'shop');
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await blue?.up.close();
    await green?.up.close();
  });

  it('flips to green and back with no failed request; blue drains to zero and gets nothing new', async () => {
    const t0 = Date.now();
    const load = runAutocannon(gw.dataUrls[0]!, ['-c', '100', '-d', '9']);
    const states: { t: number; state: string; inflight: number }[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const st = await admin(gw, 'GET', '/upstreams/shop/status');
        const p = st.body.nodes[0].pools.blue;
        states.push({ t: Date.now(), state: p.state, inflight: p.inflight });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const at = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, t0 + ms - Date.now())));

    await at(3000);
    const flip1 = await admin(gw, 'POST', '/upstreams/shop/flip', { to: 'green' });
    assert.equal(flip1.status, 200, JSON.stringify(flip1.body));
    const flippedAt = Date.now();
    await at(6000);
    const backAt = Date.now();
    const flip2 = await admin(gw, 'POST', '/upstreams/shop/flip', { to: 'blue' });
    assert.equal(flip2.status, 200, JSON.stringify(flip2.body));

    const result = await load.done;
    polling = false;
    await poller;

    assert.equal(result.errors, 0, 'errors');
    assert.equal(result.timeouts, 0, 'timeouts');
    assert.equal(result.non2xx, 0, 'non-2xx');
    // Every request that reached blue before the flip back completed there
    // (autocannon itself cuts what is in flight when its 9 s end).
    assert.deepEqual(blue.log.aborted.filter((t) => t < backAt), [], 'blue requests aborted');
    assert.ok(blue.log.arrivals.filter((t) => t < flippedAt).length > 100);
    assert.ok(green.log.arrivals.length > 1000, `green served ${green.log.arrivals.length}`);

    // Blue went draining, then drained with nothing in flight.
    const between = states.filter((s) => s.t >= flippedAt && s.t < backAt);
    const firstDraining = between.findIndex((s) => s.state === 'draining');
    const drained = between.find((s) => s.state === 'drained');
    assert.ok(firstDraining >= 0, `blue never reported draining: ${JSON.stringify(between.slice(0, 5))}`);
    assert.ok(drained, 'blue never reported drained');
    assert.equal(drained.inflight, 0);
    // Once drained, blue received no new request until the flip back.
    const late = blue.log.arrivals.filter((t) => t > drained.t && t < backAt);
    assert.deepEqual(late, [], 'blue got requests after it was drained');
    // And blue serves again after the flip back.
    assert.ok(blue.log.arrivals.some((t) => t >= backAt), 'blue took traffic after the flip back');
  });
});
