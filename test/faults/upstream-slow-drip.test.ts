// Fault injection (issue 8 part 5): slow-drip upstreams on a route with
// `timeoutMs: 500`.
//  - head drip: the status line, then one header byte every 300 ms, the head
//    never finishing. The client gets 504 `upstream_timeout` about timeoutMs
//    after the request (the drip must not keep extending it).
//  - body drip: a whole head (Content-Length 1000), one body byte, then one
//    more byte every 2 s. The client gets the 200 head and the first byte,
//    then the response is cut (it ends before its Content-Length) once the
//    body has been idle for timeoutMs, long before the next byte is due.
// Neither holds the gateway: while several of each are dripping, a healthy
// route answers promptly; afterwards the gateway has closed every drip
// connection and counts nothing in flight.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { onRequestHead, pathOf, requestOutcome, startRawUpstream, type Outcome, type RawUpstream } from '../helpers/faults.js';
import { removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

const TIMEOUT_MS = 500;
/**
 * Allowed lateness of a timeout (a loaded 2-core machine). Tight enough to
 * catch undici's own headersTimeout/bodyTimeout, which run on a coarse clock
 * (its "fast timers" tick every ~500 ms): relying on them, a 500 ms route
 * timeout fired after 1000-1100 ms (head) and 930-1000 ms (body).
 */
const SLACK_MS = 400;
const HEAD_DRIP_MS = 300;
const BODY_DRIP_MS = 2000;
const PARALLEL = 5;

describe('slow-drip upstreams', () => {
  let gw: GatewayProcess;
  let headDrip: RawUpstream;
  let bodyDrip: RawUpstream;
  let good: TestUpstream;
  let base: string;
  const timers = new Set<NodeJS.Timeout>();
  /** Drip connections that carried a request and are still open. */
  const dripping = new Set<Socket>();
  /** When each drip upstream got its request head, by path (performance clock, this process). */
  const receivedAt = new Map<string, number>();

  function drip(socket: Socket, first: string, byte: string, everyMs: number): void {
    dripping.add(socket);
    socket.write(first);
    const t = setInterval(() => socket.write(byte), everyMs);
    timers.add(t);
    socket.once('close', () => {
      clearInterval(t);
      timers.delete(t);
      dripping.delete(socket);
    });
  }

  before(async () => {
    headDrip = await startRawUpstream((s) => onRequestHead(s, (head) => {
      receivedAt.set(pathOf(head), performance.now());
      drip(s, 'HTTP/1.1 200 OK\r\nX-Drip: ', 'a', HEAD_DRIP_MS);
    }));
    bodyDrip = await startRawUpstream((s) => onRequestHead(s, () => drip(s, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nb', 'b', BODY_DRIP_MS)));
    good = await startUpstream('good');
    gw = await startGateway();
    base = gw.dataUrls[0]!;
    await putUpstream(gw, 'head-drip', [headDrip.url]);
    await putUpstream(gw, 'body-drip', [bodyDrip.url]);
    await putUpstream(gw, 'good', [good.url]);
    await putRoute(gw, 'head-drip', { path: '/head-drip' }, 'head-drip', { timeoutMs: TIMEOUT_MS });
    await putRoute(gw, 'body-drip', { path: '/body-drip' }, 'body-drip', { timeoutMs: TIMEOUT_MS });
    await putRoute(gw, 'good', { path: '/good' }, 'good', { timeoutMs: TIMEOUT_MS });
  });

  after(async () => {
    for (const t of timers) clearInterval(t);
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await Promise.all([headDrip?.close(), bodyDrip?.close(), good?.close()]);
  });

  /** A head-drip request; `waitedMs` runs from the upstream getting the request to the client getting the 504. */
  async function headDripRequest(path: string): Promise<Outcome & { waitedMs: number }> {
    const t0 = performance.now();
    const o = await requestOutcome(`${base}${path}`);
    const at = receivedAt.get(path);
    return { ...o, waitedMs: at === undefined ? NaN : t0 + o.ms - at };
  }

  function assertHeadTimeout(o: Outcome & { waitedMs: number }, what: string): void {
    assert.equal(o.status, 504, `${what}: ${JSON.stringify(o)}`);
    assert.equal(JSON.parse(o.body).error, 'upstream_timeout', what);
    assert.ok(o.waitedMs >= TIMEOUT_MS - 100, `${what}: 504 ${Math.round(o.waitedMs)} ms after the request reached the upstream, before the timeout`);
    assert.ok(o.waitedMs <= TIMEOUT_MS + SLACK_MS, `${what}: 504 ${Math.round(o.waitedMs)} ms after the request reached the upstream (timeout ${TIMEOUT_MS} ms)`);
  }

  function assertBodyCut(o: Outcome, what: string): void {
    assert.equal(o.status, 200, `${what}: ${JSON.stringify(o)}`);
    assert.equal(o.headers['content-length'], '1000');
    assert.equal(o.complete, false, `${what}: the response must end abnormally`);
    assert.ok(o.error, `${what}: the client sees an error`);
    assert.equal(o.bytes, 1, `${what}: cut before the next drip byte (${o.bytes} bytes)`);
    const idle = o.ms - o.headersMs; // head and first byte come together
    assert.ok(idle >= TIMEOUT_MS - 50, `${what}: cut ${Math.round(idle)} ms after the last byte, before the idle timeout`);
    assert.ok(idle <= TIMEOUT_MS + SLACK_MS, `${what}: cut ${Math.round(idle)} ms after the last byte (idle timeout ${TIMEOUT_MS} ms)`);
  }

  it('head drip: 504 upstream_timeout within timeoutMs + slack; body drip: cut after the idle timeout', async (t) => {
    const head = await headDripRequest('/head-drip/one');
    assertHeadTimeout(head, 'head drip');
    const body = await requestOutcome(`${base}/body-drip/one`);
    assertBodyCut(body, 'body drip');
    t.diagnostic(`head drip: 504 ${Math.round(head.waitedMs)} ms after the request reached the upstream; body drip: cut ${Math.round(body.ms - body.headersMs)} ms after the last byte (timeout ${TIMEOUT_MS} ms)`);
    // The gateway closed both upstream connections that carried the requests (nothing left dripping into it).
    await waitFor(() => dripping.size === 0, { timeoutMs: 2000, what: 'the gateway to close the drip connections' });
  });

  it(`${PARALLEL} of each at once do not hold the gateway: a healthy route answers promptly meanwhile`, async (t) => {
    const t0 = performance.now();
    const drips = Promise.all([
      ...Array.from({ length: PARALLEL }, (_, i) => headDripRequest(`/head-drip/${i}`).then((o) => ['head', o] as const)),
      ...Array.from({ length: PARALLEL }, (_, i) => requestOutcome(`${base}/body-drip/${i}`).then((o) => ['body', { ...o, waitedMs: NaN }] as const)),
    ]);
    // While they drip: sequential requests on a healthy route, each prompt.
    await waitFor(() => dripping.size === 2 * PARALLEL, { timeoutMs: 2000, what: 'every drip request at its upstream' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const goodMs: number[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const o = await requestOutcome(`${base}/good/${i}`, { agent });
        assert.deepEqual([o.status, o.complete], [200, true], `healthy request ${i} during the drips: ${JSON.stringify(o)}`);
        goodMs.push(o.ms);
      }
    } finally {
      agent.destroy();
    }
    const duringDrips = performance.now() - t0;
    const results = await drips;
    t.diagnostic(`head drips: 504 ${results.filter(([k]) => k === 'head').map(([, o]) => Math.round(o.waitedMs)).join(', ')} ms after reaching the upstream; body drips cut after ${results.filter(([k]) => k === 'body').map(([, o]) => Math.round(o.ms - o.headersMs)).join(', ')} ms idle; healthy requests meanwhile: slowest ${Math.round(Math.max(...goodMs))} ms`);
    for (const [kind, o] of results) {
      if (kind === 'head') assertHeadTimeout(o, 'parallel head drip');
      else assertBodyCut(o, 'parallel body drip');
    }
    assert.ok(duringDrips < TIMEOUT_MS + SLACK_MS, `the healthy requests ran while the drips were open (${Math.round(duringDrips)} ms)`);
    assert.ok(Math.max(...goodMs) < 250, `healthy requests during the drips: slowest ${Math.round(Math.max(...goodMs))} ms`);

    await waitFor(() => dripping.size === 0, { timeoutMs: 2000, what: 'the gateway to close every drip connection' });
    const text = await scrape(gw);
    for (const u of ['head-drip', 'body-drip', 'good']) assert.equal(metricValue(text, 'switchyard_upstream_inflight', { upstream: u }), 0, `${u} in flight`);
    // Timeouts are not the target's fault: the drip targets stay in rotation.
    assert.equal(metricValue(text, 'switchyard_target_healthy', { upstream: 'head-drip' }), 1);
    assert.equal(metricValue(text, 'switchyard_target_healthy', { upstream: 'body-drip' }), 1);
  });
});
