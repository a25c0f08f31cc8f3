import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { admin, CLI, removeDir, startGateway, tempDir, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

/** Reads server-sent events from the tap into `events`. */
async function openTap(gw: GatewayProcess, query: string, events: any[]): Promise<AbortController> {
  const ctl = new AbortController();
  const res = await fetch(`${gw.adminUrl}/debug/tap?${query}`, { signal: ctl.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  void (async () => {
    let buf = '';
    try {
      for await (const chunk of res.body!) {
        buf += Buffer.from(chunk).toString('utf8');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          for (const line of block.split('\n')) if (line.startsWith('data: ')) events.push(JSON.parse(line.slice(6)));
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return ctl;
}

describe('debug tap, access log and trace export', () => {
  let gw: GatewayProcess;
  let up: TestUpstream;
  let collector: http.Server;
  const exported: any[] = [];
  const dir = tempDir();
  const logFile = path.join(dir, 'access.log');

  before(async () => {
    collector = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d)).on('end', () => {
        if (req.url === '/v1/traces') exported.push(JSON.parse(body));
        res.end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const otlp = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    up = await startUpstream('app');
    gw = await startGateway({ args: ['--access-log', logFile, '--otlp-endpoint', otlp] });
    await putUpstream(gw, 'app', [up.url]);
    await putRoute(gw, 'shop', { path: '/shop' }, 'app');
    await putRoute(gw, 'other', { path: '/other' }, 'app');
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await up?.close();
    collector?.close();
  });

  it('the tap shows a proxied request of its route within 1 s, and nothing of other routes', async () => {
    const events: any[] = [];
    const ctl = await openTap(gw, 'route=shop', events);
    try {
      const sent = Date.now();
      await fetch(`${gw.dataUrls[0]}/other/x`);
      const r = await fetch(`${gw.dataUrls[0]}/shop/cart?x=1`, { headers: { 'x-request-id': 'tap-test-1' } });
      assert.equal(r.status, 200);
      await waitFor(() => events.length > 0, { timeoutMs: 1000, what: 'tap event within 1 s' });
      assert.ok(Date.now() - sent < 1000);
      const e = events[0];
      assert.equal(e.method, 'GET');
      assert.equal(e.path, '/shop/cart?x=1');
      assert.equal(e.status, 200);
      assert.equal(e.target, up.url);
      assert.equal(e.requestId, 'tap-test-1');
      assert.equal(typeof e.durationMs, 'number');
      assert.equal(events.length, 1, 'no events of other routes');
    } finally {
      ctl.abort();
    }
  });

  it('a tap is capped per second', async () => {
    const events: any[] = [];
    const ctl = await openTap(gw, 'route=shop&max=3', events);
    try {
      const start = Date.now();
      await Promise.all(Array.from({ length: 40 }, () => fetch(`${gw.dataUrls[0]}/shop/burst`).then((r) => r.text())));
      await waitFor(() => events.length >= 3, { what: 'three events' });
      const elapsedWindows = Math.ceil((Date.now() - start) / 1000) + 1;
      assert.ok(events.length <= 3 * elapsedWindows, `${events.length} events for ${elapsedWindows} windows`);
    } finally {
      ctl.abort();
    }
  });

  it('refuses bad tap requests', async () => {
    assert.equal((await admin(gw, 'GET', '/debug/tap')).status, 400);
    assert.equal((await admin(gw, 'GET', '/debug/tap?route=nope')).status, 404);
    assert.equal((await admin(gw, 'GET', '/debug/tap?route=shop&sample=2')).status, 400);
    assert.equal((await admin(gw, 'GET', '/debug/tap?route=shop&max=0')).status, 400);
  });

  it('writes access log lines that parse as JSON and carry the incoming trace id', async () => {
    await fetch(`${gw.dataUrls[0]}/shop/traced`, { headers: { traceparent: TRACEPARENT, 'x-request-id': 'log-test-1' } });
    const line = await waitFor(() => {
      if (!existsSync(logFile)) return null;
      const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      return lines.find((l) => l.requestId === 'log-test-1');
    }, { what: 'access log line' });
    assert.equal(line.traceId, TRACE_ID);
    assert.equal(line.route, 'shop');
    assert.equal(line.upstream, 'app');
    assert.equal(line.pool, 'main');
    assert.equal(line.target, up.url);
    assert.equal(line.status, 200);
    assert.ok(line.bytes > 0);
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(typeof line.upstreamMs, 'number');
  });

  it('exports a span per request over OTLP/HTTP with the incoming trace as parent', async () => {
    await fetch(`${gw.dataUrls[0]}/shop/span`, { headers: { traceparent: TRACEPARENT, 'x-request-id': 'span-test-1' } });
    const span = await waitFor(() => {
      for (const batch of exported) {
        for (const s of batch.resourceSpans[0].scopeSpans[0].spans) {
          if (s.attributes.some((a: any) => a.key === 'switchyard.request_id' && a.value.stringValue === 'span-test-1')) return s;
        }
      }
      return null;
    }, { timeoutMs: 5000, what: 'exported span' });
    assert.equal(span.traceId, TRACE_ID);
    assert.equal(span.parentSpanId, '00f067aa0ba902b7');
    assert.match(span.spanId, /^[0-9a-f]{16}$/);
    assert.notEqual(span.spanId, '00f067aa0ba902b7');
    assert.equal(span.name, 'GET shop');
  });

  it('switchyard tap prints live lines', async () => {
    const child = spawn(process.execPath, [CLI, 'tap', 'shop', '--admin', gw.adminUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    try {
      await waitFor(() => err.includes('tapping route shop'), { what: 'tap command connected' });
      await fetch(`${gw.dataUrls[0]}/shop/cli`, { headers: { 'x-request-id': 'cli-tap-1' } });
      await waitFor(() => out.includes('cli-tap-1'), { what: 'tap line' });
      assert.match(out, /200\s+GET\s+\/shop\/cli\s+-> http:\/\/127\.0\.0\.1:\d+ .* ms\s+cli-tap-1/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('rejects a bad --otlp-endpoint with exit 2', async () => {
    const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = spawn(process.execPath, [CLI, 'start', '--otlp-endpoint', 'not a url', '--store', `file:${tempDir()}`], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.setEncoding('utf8').on('data', (d) => (err += d));
      c.on('exit', (code) => resolve({ code, err }));
    });
    assert.equal(r.code, 2);
    assert.match(r.err, /--otlp-endpoint/);
  });
});
