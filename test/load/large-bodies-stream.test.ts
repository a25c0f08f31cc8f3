import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { procStatusKb } from '../helpers/process-stats.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

/**
 * Large against the RSS bound below: garbage alone (64 KiB socket buffers
 * V8 frees once ~64 MiB of external memory piled up) grows the peak by
 * 55-67 MB for any body size, so a 50 MB body could not tell streaming from
 * buffering; a buffered 192 MB body would grow it by 192 MB or more.
 */
const SIZE = 192 * 1024 * 1024;
const MAX_GROWTH_MB = 128;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

/** Writes SIZE bytes into a writable, honouring backpressure. */
async function pump(w: NodeJS.WritableStream): Promise<void> {
  for (let sent = 0; sent < SIZE; sent += CHUNK.length) {
    if (!w.write(CHUNK)) await new Promise((r) => w.once('drain', r));
  }
  w.end();
}

describe('192 MB bodies stream through without being buffered', () => {
  let gw: GatewayProcess;
  let up: TestUpstream;

  before(async () => {
    up = await startUpstream('bulk', (req, res) => {
      if (req.method === 'POST') {
        let n = 0;
        req.on('data', (d: Buffer) => (n += d.length));
        req.on('end', () => res.end(JSON.stringify({ received: n })));
        return;
      }
      res.writeHead(200, { 'content-length': String(SIZE) });
      void pump(res);
    });
    gw = await startGateway();
    await putUpstream(gw, 'bulk', [up.url]);
    await putRoute(gw, 'bulk', { path: '/' }, 'bulk');
    await fetch(gw.dataUrls[0]! + '/warm', { method: 'POST', body: 'x' }); // warm the pools and JIT
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await up?.close();
  });

  // Peak RSS counts garbage too (see SIZE), so each transfer is measured on its own.
  it(`uploads 192 MB, then downloads 192 MB, each with peak RSS growth under ${MAX_GROWTH_MB} MB`, async () => {
    const url = new URL(gw.dataUrls[0]!);
    const peakBefore = procStatusKb(gw.pid, 'VmHWM');

    const uploaded = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, method: 'POST', path: '/upload', headers: { 'content-length': String(SIZE) } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve(JSON.parse(body).received));
      });
      req.on('error', reject);
      void pump(req);
    });
    assert.equal(uploaded, SIZE);
    const uploadMb = (procStatusKb(gw.pid, 'VmHWM') - peakBefore) / 1024;
    const peakMid = procStatusKb(gw.pid, 'VmHWM');

    const downloaded = await new Promise<number>((resolve, reject) => {
      http.get({ host: url.hostname, port: url.port, path: '/download' }, (res) => {
        assert.equal(res.statusCode, 200);
        let n = 0;
        res.on('data', (d: Buffer) => (n += d.length)).on('end', () => resolve(n)).on('error', reject);
      }).on('error', reject);
    });
    assert.equal(downloaded, SIZE);

    const downloadMb = (procStatusKb(gw.pid, 'VmHWM') - peakMid) / 1024;
    console.log(`gateway peak RSS growth: upload ${uploadMb.toFixed(1)} MB, download ${downloadMb.toFixed(1)} MB`);
    assert.ok(uploadMb < MAX_GROWTH_MB, `peak RSS grew by ${uploadMb.toFixed(1)} MB during the upload`);
    assert.ok(downloadMb < MAX_GROWTH_MB, `peak RSS grew by ${downloadMb.toFixed(1)} MB during the download`);
  });
});
