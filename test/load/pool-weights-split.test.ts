// Pool weights (CONTRACT §2 Upstream: "weights: relative traffic share per
// pool"): 90/10 split 10 000 requests within +/- 2 % (here: of the total).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAutocannon } from '../helpers/autocannon.js';
import { putRoute } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

describe('pool weights under load', () => {
  let gw: GatewayProcess;
  const ups: TestUpstream[] = [];

  before(async () => {
    // Two targets per pool, so target balancing runs inside each pool too.
    for (const n of ['big-1', 'big-2', 'small-1', 'small-2']) ups.push(await startUpstream(n, (_req, res) => res.end(n)));
    gw = await startGateway();
    const r = await admin(gw, 'PUT', '/upstreams/split', {
      pools: { big: { targets: [ups[0]!.url, ups[1]!.url] }, small: { targets: [ups[2]!.url, ups[3]!.url] } },
      weights: { big: 90, small: 10 },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await putRoute(gw, 'split', { path: '/' }, 'split');
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await Promise.all(ups.map((u) => u.close()));
  });

  it('90/10 weights split 10 000 requests 90/10 (+/- 2 %)', async () => {
    const load = runAutocannon(gw.dataUrls[0]!, ['-c', '20', '-a', '10000']);
    const result = await load.done.finally(() => load.kill());
    assert.equal(result.errors, 0, 'errors');
    assert.equal(result.non2xx, 0, 'non-2xx');
    assert.equal(result.requests.total, 10000, 'autocannon sent 10 000');
    const [b1, b2, s1, s2] = ups.map((u) => u.count);
    const total = b1! + b2! + s1! + s2!;
    assert.equal(total, 10000, `the upstreams saw ${total}`);
    const big = (b1! + b2!) / total;
    assert.ok(Math.abs(big - 0.9) <= 0.02, `pool big took ${(big * 100).toFixed(2)} % (${b1}+${b2}), pool small ${s1}+${s2}`);
    // Inside each pool, round-robin splits evenly.
    assert.ok(Math.abs(b1! - b2!) <= 0.02 * (b1! + b2!), `big: ${b1} vs ${b2}`);
    assert.ok(Math.abs(s1! - s2!) <= 0.02 * (s1! + s2!) + 2, `small: ${s1} vs ${s2}`);
    console.log(`split: big ${b1}+${b2}, small ${s1}+${s2}`);
  });
});
