import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { putUpstream } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { json, waitFor } from '../helpers/wait.js';

/** A port range of `n` ports that are free right now. */
async function freeRange(n: number): Promise<{ from: number; to: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const from = 20000 + Math.floor(Math.random() * 20000);
    const ok = await Promise.all(
      Array.from({ length: n }, (_, i) => new Promise<boolean>((resolve) => {
        const s = net.createServer().once('error', () => resolve(false)).listen(from + i, '127.0.0.1', () => s.close(() => resolve(true)));
      })),
    );
    if (ok.every(Boolean)) return { from, to: from + n - 1 };
  }
  throw new Error('no free port range');
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

describe('port routes open and close listeners at run time', () => {
  let gw: GatewayProcess;
  let up: TestUpstream;
  let range: { from: number; to: number };

  before(async () => {
    up = await startUpstream('svc');
    range = await freeRange(5);
    gw = await startGateway({ args: ['--port-range', `${range.from}-${range.to}`] });
    await putUpstream(gw, 'svc', [up.url]);
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await up?.close();
  });

  it('serves a port route within 1 s of its write and closes it within 1 s of its deletion', async () => {
    const port = range.from + 2;
    const put = await admin(gw, 'PUT', '/routes/by-port', { id: 'by-port', match: { port, path: '/' }, upstream: 'svc' });
    assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
    const r = await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/hello`);
      return res.status === 200 ? res : null;
    }, { timeoutMs: 1000, what: 'port route serving' });
    assert.equal((await json(r)).upstream, 'svc');
    // The same route does not apply on the main listener: its port differs.
    assert.equal((await fetch(`${gw.dataUrls[0]}/hello`)).status, 404);

    const del = await admin(gw, 'DELETE', '/routes/by-port');
    assert.equal(del.status, 200);
    await waitFor(() => refused(port), { timeoutMs: 1000, what: 'listener closed' });
  });

  it('rejects a port outside the range with 400 and writes nothing', async () => {
    const before = (await admin(gw, 'GET', '/routes')).body.revision;
    const res = await admin(gw, 'PUT', '/routes/outside', { id: 'outside', match: { port: range.to + 1, path: '/' }, upstream: 'svc' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_config');
    assert.match(JSON.stringify(res.body.details), /port/);
    assert.equal((await admin(gw, 'GET', '/routes')).body.revision, before);
    assert.equal((await admin(gw, 'GET', '/routes/outside')).status, 404);
  });
});
