import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { putRoute, putUpstream } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { json, waitFor } from '../helpers/wait.js';

/** Raw HTTP/1.1 exchange over a socket, so no client library rewrites the request. */
function rawRequest(url: string, request: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.write(request)); // no half-close: the server ends it (Connection: close)
    let data = '';
    s.setEncoding('utf8').on('data', (d) => (data += d)).on('end', () => resolve(data)).on('error', reject);
  });
}

describe('forwarding through the gateway', () => {
  let gw: GatewayProcess;
  let echo: TestUpstream;
  let slow: TestUpstream;
  let ws: WebSocketServer;
  let wsPort: number;
  let upstreamClosed = 0;
  let base: string;

  before(async () => {
    echo = await startUpstream('echo', (req, res) => {
      if (req.url === '/pieces') {
        // A declared length sent in three pieces, the last one late: the client must get all of it.
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '9' });
        res.write('abc');
        setTimeout(() => res.write('def'), 20);
        setTimeout(() => res.end('ghi'), 60);
        return;
      }
      if (req.url === '/hop') {
        res.writeHead(200, { connection: 'x-secret, keep-alive', 'x-secret': 'leak', 'keep-alive': 'timeout=5', 'x-kept': 'yes' });
        return res.end('ok');
      }
      const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    slow = await startUpstream('slow', (req, res) => {
      req.socket.on('close', () => upstreamClosed++);
      if (req.url!.includes('/stall')) return; // never answers
      res.writeHead(200);
      res.write('first');
      // and never ends: used for client-abort tests
    });
    ws = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => ws.once('listening', r));
    wsPort = (ws.address() as net.AddressInfo).port;
    ws.on('connection', (sock, req) => sock.on('message', (m) => sock.send(`echo:${req.url}:${m.toString()}`)));
    gw = await startGateway();
    base = gw.dataUrls[0]!;
    await putUpstream(gw, 'echo', [echo.url]);
    await putUpstream(gw, 'slow', [slow.url]);
    await putUpstream(gw, 'wsup', [`http://127.0.0.1:${wsPort}`]);
    await putUpstream(gw, 'dead', ['http://127.0.0.1:1']);
    await putRoute(gw, 'root', { path: '/' }, 'echo');
    await putRoute(gw, 'strip', { path: '/strip' }, 'echo', { stripPrefix: true });
    await putRoute(gw, 'slow', { path: '/slow' }, 'slow', { timeoutMs: 300, retries: 0 });
    await putRoute(gw, 'ws', { path: '/ws' }, 'wsup');
    await putRoute(gw, 'dead', { path: '/dead' }, 'dead');
    await putRoute(gw, 'ghost', { path: '/ghost' }, 'not-there');
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await echo?.close();
    await slow?.close();
    ws?.close();
  });

  it('passes method, normalised path and the original query string', async () => {
    const res = await rawRequest(base, 'GET /a/./b/../c%7e?x=1&y=%2F HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n');
    const body = JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4));
    assert.equal(body.url, '/a/c~?x=1&y=%2F');
  });

  it('strips the prefix for stripPrefix routes and keeps the query', async () => {
    const r = await fetch(`${base}/strip/items?q=1`);
    assert.equal((await json(r)).url, '/items?q=1');
    const r2 = await fetch(`${base}/strip`);
    assert.equal((await json(r2)).url, '/');
  });

  it('sets forwarding headers, keeps x-request-id and passes traceparent as a child span', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const r = await fetch(`${base}/h`, { headers: { 'x-request-id': 'req-123', traceparent: tp, 'x-forwarded-for': '10.1.2.3' } });
    const { headers } = await json(r);
    assert.equal(headers['x-request-id'], 'req-123');
    // No --trust-proxy: the client's own x-forwarded-for is dropped (test/hardening covers the trusted case).
    assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.match(headers['x-forwarded-host'], /^127\.0\.0\.1:\d+$/);
    assert.match(headers.forwarded, /^for=127\.0\.0\.1;host="127\.0\.0\.1:\d+";proto=http$/);
    assert.equal(headers.traceparent.slice(0, 36), tp.slice(0, 36));
    assert.notEqual(headers.traceparent.slice(36, 52), tp.slice(36, 52));
    assert.match(headers.traceparent, /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
  });

  it('generates an x-request-id when none is given, a different one for every request', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const { headers } = await json(await fetch(`${base}/h`));
      assert.match(headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(headers['x-request-id']);
    }
    assert.equal(ids.size, 3);
  });

  it('passes a Content-Length body that arrives in pieces whole, and HEAD answers without a body', async () => {
    const r = await fetch(`${base}/pieces`);
    assert.equal(r.headers.get('content-length'), '9');
    assert.equal(await r.text(), 'abcdefghi');
    const head = await fetch(`${base}/h`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers.get('content-length')) > 0, 'HEAD keeps the upstream content-length');
    assert.equal(await head.text(), '');
  });

  it('strips hop-by-hop headers both ways, including those named in Connection', async () => {
    const res = await rawRequest(base, 'GET /h HTTP/1.1\r\nHost: a\r\nConnection: close, x-private\r\nX-Private: 1\r\nKeep-Alive: timeout=9\r\nTE: gzip\r\nProxy-Authorization: basic x\r\nX-Public: 2\r\n\r\n');
    const { headers } = JSON.parse(res.slice(res.indexOf('\r\n\r\n') + 4));
    assert.equal(headers['x-private'], undefined);
    assert.equal(headers['keep-alive'], undefined);
    assert.equal(headers.te, undefined);
    assert.equal(headers['proxy-authorization'], undefined);
    assert.equal(headers['x-public'], '2');
    const r = await fetch(`${base}/hop`);
    assert.equal(r.headers.get('x-secret'), null);
    assert.equal(r.headers.get('x-kept'), 'yes');
    assert.equal(await r.text(), 'ok');
  });

  it('answers the error catalog: 404 no_route, 503 unresolved upstream, 502 dead target, 504 timeout, 400 above root', async () => {
    const other = await startGateway();
    try {
      const r404 = await fetch(`${other.dataUrls[0]}/nothing`);
      assert.equal(r404.status, 404);
      const b = await json(r404);
      assert.equal(b.error, 'no_route');
      assert.ok(b.requestId);
    } finally {
      await other.stop();
      removeDir(other.storeDir);
    }
    const r503 = await fetch(`${base}/ghost`);
    assert.equal(r503.status, 503);
    assert.equal((await json(r503)).error, 'no_healthy_target');
    const st = await admin(gw, 'GET', '/routes/ghost');
    assert.equal(st.body.status, 'unresolved');
    const r502 = await fetch(`${base}/dead`);
    assert.equal(r502.status, 502);
    assert.equal((await json(r502)).error, 'upstream_error');
    const r504 = await fetch(`${base}/slow/stall`);
    assert.equal(r504.status, 504);
    assert.equal((await json(r504)).error, 'upstream_timeout');
    const raw = await rawRequest(base, 'GET /a/../../etc/passwd HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /"error":"bad_request"/);
  });

  it('aborts the upstream exchange at once when the client goes away mid-response', async () => {
    const before = upstreamClosed;
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${base}/slow/stream`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      setTimeout(() => reject(new Error('no first chunk')), 3000).unref();
    });
    await waitFor(() => upstreamClosed > before, { timeoutMs: 2000, what: 'upstream connection closed' });
  });

  it('proxies WebSocket upgrades', async () => {
    const client = new WebSocket(`${base.replace('http', 'ws')}/ws/chat?room=1`);
    await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
    client.send('hello');
    const msg = await new Promise<string>((resolve) => client.once('message', (m) => resolve(m.toString())));
    assert.equal(msg, 'echo:/ws/chat?room=1:hello');
    client.close();
  });

  it('counts requests in /metrics with the contract names', async () => {
    await fetch(`${base}/metrics-probe`);
    const m = await admin(gw, 'GET', '/metrics');
    assert.match(m.body, /switchyard_requests_total\{route="root",upstream="echo",pool="main",code="200"\} \d+/);
    assert.match(m.body, /switchyard_request_duration_seconds_bucket\{route="root",upstream="echo",pool="main",code="2xx",le="\+Inf"\} \d+/);
    assert.match(m.body, /switchyard_config_revision \d+/);
    assert.match(m.body, /switchyard_store_connected 1/);
    assert.match(m.body, /switchyard_target_healthy\{upstream="echo",pool="main",target="http:\/\/127\.0\.0\.1:\d+"\} 1/);
  });
});
