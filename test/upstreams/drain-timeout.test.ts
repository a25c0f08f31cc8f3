// drainTimeoutMs (CONTRACT §2 "Flip, drain and flood"): after a flip, what
// still runs on the old pool when the drain deadline passes is cut and
// counted; nothing else is cut. And POST /upstreams/:name/targets/drain takes
// one target out of rotation: no new picks, its in-flight requests finish.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { putRoute } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

interface Fate {
  url: string;
  arrived: number;
  /** 'finished' (the whole answer was written), 'cut' (connection closed first) or null while running. */
  end: 'finished' | 'cut' | null;
}

/** Answers `name` after the delay given by ?ms=N (0 by default), headers only at the end, recording each request's fate. */
async function delayedUpstream(name: string) {
  const fates: Fate[] = [];
  const up = await startUpstream(name, (req, res: ServerResponse) => {
    const fate: Fate = { url: req.url!, arrived: Date.now(), end: null };
    fates.push(fate);
    res.on('close', () => (fate.end = res.writableFinished ? 'finished' : 'cut'));
    const ms = Number(new URL(req.url!, 'http://x').searchParams.get('ms') ?? 0);
    setTimeout(() => res.end(name), ms);
  });
  return { up, fates, running: () => fates.filter((f) => f.end === null).length };
}

/** GET through the gateway: status and body, or the fetch error. */
async function get(url: string): Promise<{ status: number; body: string; at: number } | { error: string; at: number }> {
  try {
    const r = await fetch(url);
    const body = await r.text();
    return { status: r.status, body, at: Date.now() };
  } catch (err) {
    return { error: String((err as Error).cause ?? err), at: Date.now() };
  }
}

describe('drain timeout and target drain', () => {
  let gw: GatewayProcess;
  let blue: Awaited<ReturnType<typeof delayedUpstream>>;
  let green: Awaited<ReturnType<typeof delayedUpstream>>;
  let t1: Awaited<ReturnType<typeof delayedUpstream>>;
  let t2: Awaited<ReturnType<typeof delayedUpstream>>;
  let base: string;

  before(async () => {
    [blue, green, t1, t2] = await Promise.all(['blue', 'green', 't1', 't2'].map(delayedUpstream));
    gw = await startGateway();
    base = gw.dataUrls[0]!;
    let r = await admin(gw, 'PUT', '/upstreams/shop', {
      pools: { blue: { targets: [blue.up.url] }, green: { targets: [green.up.url] } },
      weights: { blue: 100, green: 0 },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await admin(gw, 'PUT', '/upstreams/api', { pools: { main: { targets: [t1.up.url, t2.up.url] } }, weights: { main: 100 }, drainTimeoutMs: 10_000 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await putRoute(gw, 'shop', { path: '/shop' }, 'shop');
    await putRoute(gw, 'api', { path: '/api' }, 'api');
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await Promise.all([blue, green, t1, t2].map((u) => u?.up.close()));
  });

  it('a request longer than drainTimeoutMs is cut and counted; the short ones complete', async () => {
    const long = get(`${base}/shop/long?ms=3000`);
    const shorts = Array.from({ length: 5 }, (_, i) => get(`${base}/shop/short${i}?ms=100`));
    await waitFor(() => blue.running() === 6, { what: 'six requests running on blue' });

    const flipSentAt = Date.now();
    const flip = await admin(gw, 'POST', '/upstreams/shop/flip', { to: 'green', drainTimeoutMs: 500 });
    assert.equal(flip.status, 200, JSON.stringify(flip.body));
    const flippedAt = Date.now();
    // New requests go to green while blue drains.
    const during = await Promise.all(Array.from({ length: 10 }, () => get(`${base}/shop/new`)));
    for (const r of during) assert.deepEqual('status' in r ? [r.status, r.body] : r, [200, 'green'], 'a request after the flip');

    for (const r of await Promise.all(shorts)) {
      assert.ok('status' in r, `a short request failed: ${JSON.stringify(r)}`);
      assert.deepEqual([r.status, r.body], [200, 'blue'], 'a short request ran to completion on blue');
    }
    const l = await long;
    assert.ok(!('status' in l) || l.status === 502, `the long request was not cut: ${JSON.stringify(l)}`);
    // The deadline runs from when the gateway applied the flip: after we sent it, before its answer came.
    assert.ok(l.at - flipSentAt >= 495, `cut ${l.at - flipSentAt} ms after the flip was sent, before drainTimeoutMs 500`);
    assert.ok(l.at - flippedAt < 2000, `cut ${l.at - flippedAt} ms after the flip answered (drainTimeoutMs 500, the request wanted 3000)`);

    await waitFor(() => blue.running() === 0, { what: 'blue sees the cut' });
    assert.deepEqual(
      blue.fates.map((f) => [f.url.split('?')[0], f.end]).sort(),
      [['/shop/long', 'cut'], ...Array.from({ length: 5 }, (_, i) => [`/shop/short${i}`, 'finished'])].sort(),
      'on blue only the long request was cut',
    );
    assert.ok(green.fates.every((f) => f.end === 'finished'), 'nothing cut on green');

    const st = await waitFor(
      async () => {
        const s = (await admin(gw, 'GET', '/upstreams/shop/status')).body.nodes[0].pools;
        return s.blue.state === 'drained' ? s : null;
      },
      { what: 'blue drained' },
    );
    assert.equal(st.blue.cut, 1, 'status counts one cut request on blue');
    assert.equal(st.blue.inflight, 0);
    assert.equal(st.green.cut, 0);
    assert.equal(st.green.state, 'active');
    const text = await scrape(gw);
    assert.equal(metricValue(text, 'switchyard_drain_cut_requests_total', { upstream: 'shop', pool: 'blue' }), 1, 'drain cut metric');
    assert.equal(metricValue(text, 'switchyard_drain_cut_requests_total', { upstream: 'shop', pool: 'green' }) ?? 0, 0);
  });

  it('a drained pool keeps its idle keep-alive connections: flipping back opens none', async () => {
    let opened = 0;
    const onConnection = () => opened++;
    blue.up.server.on('connection', onConnection);
    try {
      const poolState = async (name: string) => (await admin(gw, 'GET', '/upstreams/shop/status')).body.nodes[0].pools[name].state as string;
      const serial = async (n: number, who: string) => {
        for (let i = 0; i < n; i++) {
          const r = await get(`${base}/shop/serial`);
          assert.deepEqual('status' in r ? [r.status, r.body] : r, [200, who], `request ${i} after the flip to ${who}`);
        }
      };
      assert.equal((await admin(gw, 'POST', '/upstreams/shop/flip', { to: 'blue' })).status, 200);
      await serial(5, 'blue');
      const afterFirst = opened;
      assert.ok(afterFirst >= 1, 'blue got a connection');

      assert.equal((await admin(gw, 'POST', '/upstreams/shop/flip', { to: 'green' })).status, 200);
      await waitFor(async () => (await poolState('blue')) === 'drained', { what: 'blue drained' });
      await serial(3, 'green');
      assert.equal((await admin(gw, 'POST', '/upstreams/shop/flip', { to: 'blue' })).status, 200);
      await serial(5, 'blue');
      assert.equal(opened, afterFirst, 'the flip back reused the open connection instead of opening new ones');
    } finally {
      blue.up.server.off('connection', onConnection);
    }
  });

  it('POST /upstreams/:name/targets/drain: no new picks for that target, its in-flight request finishes', async () => {
    // One slow request on each target (round-robin over two).
    const slow = [get(`${base}/api/slow?ms=800`), get(`${base}/api/slow?ms=800`)];
    await waitFor(() => t1.running() === 1 && t2.running() === 1, { what: 'one slow request on each target' });

    const r = await admin(gw, 'POST', '/upstreams/api/targets/drain', { target: t1.up.url });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.draining, true);
    const pool = (await admin(gw, 'GET', '/upstreams/api/status')).body.nodes[0].pools.main;
    const state = Object.fromEntries(pool.targets.map((t: { target: string; state: string }) => [t.target, t.state]));
    assert.deepEqual(state, { [t1.up.url]: 'draining', [t2.up.url]: 'healthy' });
    assert.equal(pool.healthy, 1);

    const before1 = t1.fates.length;
    const fresh = await Promise.all(Array.from({ length: 20 }, () => get(`${base}/api/fast`)));
    for (const x of fresh) assert.deepEqual('status' in x ? [x.status, x.body] : x, [200, 't2'], 'new requests go to the other target');
    assert.equal(t1.fates.length, before1, 'the draining target got no new request');

    for (const x of await Promise.all(slow)) assert.ok('status' in x && x.status === 200, `in-flight request finished: ${JSON.stringify(x)}`);
    assert.ok(t1.fates.every((f) => f.end === 'finished'), 'nothing was cut on the draining target');

    // Back in rotation.
    const back = await admin(gw, 'POST', '/upstreams/api/targets/drain', { target: t1.up.url, drain: false });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    const again = await Promise.all(Array.from({ length: 10 }, () => get(`${base}/api/fast`)));
    assert.ok(again.filter((x) => 'status' in x && x.body === 't1').length >= 4, `t1 serves again: ${JSON.stringify(again.map((x) => ('body' in x ? x.body : x)))}`);
  });
});
