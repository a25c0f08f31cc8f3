import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { runAutocannon } from '../helpers/autocannon.js';
import { removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

describe('hot swap under load', () => {
  let gw: GatewayProcess;
  let a: TestUpstream;
  let b: TestUpstream;

  before(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    gw = await startGateway();
    await putUpstream(gw, 'a', [a.url]);
    await putUpstream(gw, 'b', [b.url]);
    await putRoute(gw, 'api', { path: '/api' }, 'a');
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await a?.close();
    await b?.close();
  });

  it('replacing the route upstream 20 times under 50 connections loses nothing', async () => {
    const load = runAutocannon(`${gw.dataUrls[0]}/api/items`, ['-c', '50', '-d', '5']);
    // Spread 20 swaps over the run, each waiting for the previous write's answer.
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 200));
      await putRoute(gw, 'api', { path: '/api' }, i % 2 === 0 ? 'b' : 'a');
    }
    const result = await load.done;
    assert.equal(result.errors, 0, 'errors');
    assert.equal(result.timeouts, 0, 'timeouts');
    assert.equal(result.non2xx, 0, 'non-2xx');
    assert.ok(result.requests.total > 1000, `only ${result.requests.total} requests`);
    // Every response came from the old or the new upstream: together they saw
    // every request autocannon completed (it may count a few sent-but-cut at the end).
    assert.ok(a.count > 0 && b.count > 0, `a=${a.count} b=${b.count}`);
    assert.ok(a.count + b.count >= result['2xx'], `a+b=${a.count + b.count} < 2xx=${result['2xx']}`);
  });
});
