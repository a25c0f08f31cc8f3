// Fault injection (issue 8 part 5): the upstream sends its response head and
// part of the body, then resets the connection (RST). The client must see a
// cut response (the connection closes before the declared Content-Length or
// the chunked terminator), never something that looks like a complete 200;
// the gateway's connection pool recovers: the same upstream, behaving again,
// is served at once, also after 50 resets in a row, and upstream_inflight
// returns to 0.
//
// The reset is coordinated by the test, not timed: the upstream writes the
// head and 1000 body bytes and parks its socket; once the client has received
// those 1000 bytes through the gateway (so the gateway has certainly read the
// head), the test resets the upstream socket.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { requestOutcome, type Outcome } from '../helpers/faults.js';
import { removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { alive } from '../helpers/process-stats.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

const PART = 1000;
const DECLARED = 100_000;

describe('upstream resets the connection mid-response', () => {
  let gw: GatewayProcess;
  let up: TestUpstream;
  let base: string;
  /** Upstream sockets holding a half-sent response, waiting for the test to reset them. */
  const parked: Socket[] = [];
  /** Upstream connections that ended, and how many of those the test reset. */
  let resets = 0;

  before(async () => {
    up = await startUpstream('flaky', (req, res) => {
      if (req.url!.startsWith('/r/cut')) {
        // Head and part of the body; the rest never comes.
        if (req.url!.startsWith('/r/cut-chunked')) res.writeHead(200, { 'content-type': 'text/plain' });
        else res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(DECLARED) });
        res.write('x'.repeat(PART));
        parked.push(req.socket);
        return;
      }
      const body = `ok ${req.url}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
      res.end(body);
    });
    gw = await startGateway();
    base = gw.dataUrls[0]!;
    await putUpstream(gw, 'flaky', [up.url]);
    await putRoute(gw, 'r', { path: '/r' }, 'flaky');
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await up?.close();
  });

  /** One request that the upstream cuts after PART body bytes have reached the client. */
  async function cutRequest(path: string): Promise<Outcome> {
    const before = parked.length;
    let fired = false;
    const out = await requestOutcome(`${base}${path}`, {
      timeoutMs: 5000,
      onBytes: (n) => {
        if (fired || n < PART) return;
        fired = true;
        // The gateway has passed the head and PART bytes on: now reset.
        const s = parked[before];
        assert.ok(s, 'the upstream parked the socket of this request');
        s.resetAndDestroy();
        resets++;
      },
    });
    return out;
  }

  function assertCut(out: Outcome, what: string): void {
    assert.equal(out.status, 200, `${what}: the head was passed on (${JSON.stringify(out)})`);
    assert.equal(out.complete, false, `${what}: must not look complete (${JSON.stringify({ ...out, body: undefined })})`);
    assert.ok(out.error, `${what}: the client sees an error`);
    assert.ok(out.bytes >= PART && out.bytes < DECLARED, `${what}: ${out.bytes} body bytes`);
    assert.ok(out.ms < 3000, `${what}: the cut reached the client after ${Math.round(out.ms)} ms`);
  }

  async function okRequest(agent: http.Agent, i: number): Promise<Outcome> {
    return requestOutcome(`${base}/r/ok/${i}`, { agent, timeoutMs: 5000 });
  }

  it('a reset after the head: Content-Length and chunked responses are cut, never complete; the next requests succeed', async () => {
    const cl = await cutRequest('/r/cut-cl/1');
    assertCut(cl, 'content-length response');
    assert.equal(cl.headers['content-length'], String(DECLARED), 'the declared length was passed on');
    const ch = await cutRequest('/r/cut-chunked/1');
    assertCut(ch, 'chunked response');
    assert.equal(ch.headers['transfer-encoding'], 'chunked');

    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      for (let i = 0; i < 10; i++) {
        const ok = await okRequest(agent, i);
        assert.deepEqual([ok.status, ok.complete, ok.body], [200, true, `ok /r/ok/${i}`], `request ${i} after the reset`);
      }
    } finally {
      agent.destroy();
    }
  });

  it('50 resets in a row: the gateway still answers 200 promptly, no pool exhaustion, inflight back to 0', async () => {
    const cuts: Outcome[] = [];
    for (let i = 0; i < 50; i++) cuts.push(await cutRequest(`/r/cut-${i % 2 ? 'chunked' : 'cl'}/${i}`));
    cuts.forEach((c, i) => assertCut(c, `reset ${i}`));
    assert.equal(resets, 52);

    // Sequential on one keep-alive client, then 50 at once: every one 200, complete, prompt.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
    try {
      const seq: Outcome[] = [];
      for (let i = 0; i < 20; i++) seq.push(await okRequest(agent, i));
      const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => okRequest(agent, 100 + i)));
      for (const [i, o] of [...seq, ...burst].entries()) {
        assert.deepEqual([o.status, o.complete, o.error], [200, true, null], `request ${i} after 50 resets: ${JSON.stringify(o)}`);
      }
      const slowest = Math.max(...seq.map((o) => o.ms));
      assert.ok(slowest < 1000, `sequential requests after the resets: slowest ${Math.round(slowest)} ms`);
      const burstMs = Math.max(...burst.map((o) => o.ms));
      assert.ok(burstMs < 3000, `50 concurrent requests after the resets: slowest ${Math.round(burstMs)} ms`);
    } finally {
      agent.destroy();
    }

    const text = await waitFor(async () => {
      const t = await scrape(gw);
      return metricValue(t, 'switchyard_upstream_inflight', { upstream: 'flaky' }) === 0 ? t : null;
    }, { timeoutMs: 2000, what: 'upstream_inflight back to 0' });
    assert.equal(metricValue(text, 'switchyard_target_healthy', { upstream: 'flaky', target: up.url }), 1, 'the only target is still in rotation');
    // The gateway holds no dead upstream connections: whatever it still has open is usable keep-alive.
    const open = await new Promise<number>((resolve) => up.server.getConnections((_e, n) => resolve(n)));
    assert.ok(open <= 50, `${open} gateway connections still open at the upstream`);
    assert.ok(alive(gw.pid), 'the gateway is running');
  });
});
