import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

describe('SIGTERM', () => {
  let gw: GatewayProcess;
  let up: TestUpstream;
  const held: http.ServerResponse[] = [];

  before(async () => {
    // The upstream holds every response until the test releases it.
    up = await startUpstream('held', (_req, res) => void held.push(res));
    gw = await startGateway({ args: ['--grace-ms', '5000'] });
    await putUpstream(gw, 'held', [up.url]);
    await putRoute(gw, 'all', { path: '/' }, 'held');
  });

  after(async () => {
    await gw?.kill9();
    removeDir(gw?.storeDir ?? null);
    await up?.close();
  });

  it('lets in-flight requests finish, refuses new connections, exits 0', async () => {
    const url = new URL(gw.dataUrls[0]!);
    const agent = new http.Agent({ keepAlive: false });
    const pending = Array.from({ length: 10 }, (_, i) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        http.get({ host: url.hostname, port: url.port, path: `/r${i}`, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode!, body }));
        }).on('error', reject);
      }),
    );
    await waitFor(() => held.length === 10, { what: 'all 10 requests at the upstream' });
    const exited = new Promise<number | null>((resolve) => gw.child.once('exit', (code) => resolve(code)));
    gw.child.kill('SIGTERM');
    // New connections are refused once the listener has closed.
    await waitFor(
      () => new Promise<boolean>((resolve) => {
        const s = net.connect(Number(url.port), url.hostname);
        s.once('connect', () => { s.destroy(); resolve(false); });
        s.once('error', () => resolve(true));
      }),
      { what: 'listener closed' },
    );
    for (const res of held) res.end('done');
    const results = await Promise.all(pending);
    for (const r of results) assert.deepEqual(r, { status: 200, body: 'done' });
    assert.equal(await exited, 0);
  });
});
