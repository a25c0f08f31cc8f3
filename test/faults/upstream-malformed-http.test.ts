// Fault injection (issue 8 part 5): upstreams that answer bytes that are not
// valid HTTP/1.1. Each gets the client a prompt 502 `upstream_error` JSON
// answer (never a 200, never a hang until the route timeout), and the gateway
// keeps running and serves the next request on the same client connection.
//
// Every malformed case is its own raw TCP server (its own target), so passive
// health of one case never changes what another sees. The server answers each
// request head with the garbage and (but for one case) leaves the connection
// open: the gateway must give up on the bytes, not wait for a close.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { onRequestHead, requestOutcome, startRawUpstream, type RawUpstream } from '../helpers/faults.js';
import { removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { alive } from '../helpers/process-stats.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

/** Route timeout: a gateway that waited for more bytes would answer 504 after this. */
const ROUTE_TIMEOUT_MS = 10_000;
/** A malformed answer must be turned into a 502 well before the route timeout. */
const PROMPT_MS = 2000;

const CASES: Record<string, string> = {
  'content-length-abc': 'HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n',
  'not-http': 'NOT HTTP AT ALL\r\n\r\n',
  'header-without-colon': 'HTTP/1.1 200 OK\r\nX-Fine: 1\r\nthis header line has no colon\r\nContent-Length: 2\r\n\r\nok',
  'conflicting-content-length': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nok',
  'bad-status-code': 'HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok',
  'binary-garbage': '\x00\x01\x02\xff\xfe\r\n\r\n',
  'content-length-and-chunked': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  'negative-content-length': 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
  // Half a head, then FIN (the connection ends before the head does).
  'head-then-close': 'HTTP/1.1 200 OK\r\nContent-Le',
};
/** Cases whose server closes its side after the bytes; the others leave the connection open. */
const CLOSES = new Set(['head-then-close']);

describe('upstream answers malformed HTTP', () => {
  let gw: GatewayProcess;
  let good: TestUpstream;
  const raw = new Map<string, RawUpstream>();
  let base: string;

  before(async () => {
    good = await startUpstream('good');
    for (const [name, bytes] of Object.entries(CASES)) {
      const answer = Buffer.from(bytes, 'latin1');
      raw.set(name, await startRawUpstream((socket) => onRequestHead(socket, () => (CLOSES.has(name) ? socket.end(answer) : socket.write(answer)))));
    }
    gw = await startGateway();
    base = gw.dataUrls[0]!;
    await putUpstream(gw, 'good', [good.url]);
    await putRoute(gw, 'good', { path: '/good' }, 'good');
    for (const [name, up] of raw) {
      await putUpstream(gw, name, [up.url]);
      await putRoute(gw, name, { path: `/bad/${name}` }, name, { timeoutMs: ROUTE_TIMEOUT_MS });
    }
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await good?.close();
    await Promise.all([...raw.values()].map((u) => u.close()));
  });

  for (const name of Object.keys(CASES)) {
    it(`${name}: 502 upstream_error at once, then the next request is served`, async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        for (let round = 0; round < 2; round++) {
          const before = raw.get(name)!.connections;
          const bad = await requestOutcome(`${base}/bad/${name}`, { agent, timeoutMs: ROUTE_TIMEOUT_MS + 5000 });
          assert.equal(bad.status, 502, `round ${round}: ${JSON.stringify(bad)}`);
          assert.equal(bad.complete, true, 'the 502 itself is a whole response');
          const body = JSON.parse(bad.body) as { error: string; requestId: string };
          assert.equal(body.error, 'upstream_error');
          assert.ok(body.requestId, 'the error names the request');
          assert.equal(bad.headers['content-type'], 'application/json');
          assert.ok(bad.ms < PROMPT_MS, `round ${round}: the 502 took ${Math.round(bad.ms)} ms`);
          assert.ok(raw.get(name)!.connections > before, 'the request reached the malformed upstream');

          const next = await requestOutcome(`${base}/good/after-${name}`, { agent, timeoutMs: 5000 });
          assert.deepEqual([next.status, next.complete], [200, true], `round ${round}: the next request on the same connection: ${JSON.stringify(next)}`);
          assert.equal(JSON.parse(next.body).upstream, 'good');
        }
      } finally {
        agent.destroy();
      }
      // The gateway let go of the garbage connections, and counts nothing in flight.
      await waitFor(() => raw.get(name)!.open.size === 0, { timeoutMs: 2000, what: `the gateway to close its connections to ${name}` });
      const text = await scrape(gw);
      assert.equal(metricValue(text, 'switchyard_upstream_inflight', { upstream: name }), 0);
      assert.ok(alive(gw.pid), 'the gateway is running');
    });
  }
});
