import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { admin, CLI, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('switchyard deploy / flip / deployments', () => {
  let gw: GatewayProcess;
  let good: TestUpstream;
  let bad: TestUpstream;

  before(async () => {
    good = await startUpstream('good');
    bad = await startUpstream('bad', (req, res) => {
      res.writeHead(req.url === '/healthz' ? 503 : 500);
      res.end();
    });
    gw = await startGateway();
    for (const [name, green] of [['ok', good], ['broken', bad]] as const) {
      const r = await admin(gw, 'PUT', `/upstreams/${name}`, {
        name, pools: { blue: { targets: [good.url] }, green: { targets: [green.url] } }, weights: { blue: 100 },
        healthCheck: { path: '/healthz', intervalMs: 100, timeoutMs: 100, healthy: 1, unhealthy: 1 },
      });
      assert.equal(r.status, 201);
    }
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await good?.close();
    await bad?.close();
  });

  it('deploy --watch exits 0 on succeeded and prints the phases', async () => {
    const r = await cli(['deploy', 'ok', 'green', '--steps', '50,100', '--hold', '300ms', '--watch', '--admin', gw.adminUrl]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /waiting-ready/);
    assert.match(r.out, /succeeded/);
    assert.deepEqual((await admin(gw, 'GET', '/upstreams/ok')).body.weights, { blue: 0, green: 100 });
  });

  it('deploy --watch exits non-zero on rollback', async () => {
    const r = await cli(['deploy', 'broken', 'green', '--steps', '100', '--ready-timeout', '500ms', '--watch', '--admin', gw.adminUrl]);
    assert.equal(r.code, 1);
    assert.match(r.err, /rolled-back: .*ready timeout/);
  });

  it('deployments ls and get show them; flip flips; bad flags exit 2', async () => {
    const ls = await cli(['deployments', 'ls', '--admin', gw.adminUrl]);
    assert.equal(ls.code, 0);
    assert.match(ls.out, /ok .*green .*succeeded/);
    assert.match(ls.out, /broken .*green .*rolled-back/);
    const list = (await admin(gw, 'GET', '/deployments')).body.deployments;
    const get = await cli(['deployments', 'get', list[0].id, '--admin', gw.adminUrl]);
    assert.equal(get.code, 0);
    assert.match(get.out, /history:/);
    const flip = await cli(['flip', 'ok', 'blue', '--admin', gw.adminUrl]);
    assert.equal(flip.code, 0, flip.err);
    assert.deepEqual((await admin(gw, 'GET', '/upstreams/ok')).body.weights, { blue: 100, green: 0 });
    const noHealthy = await cli(['flip', 'broken', 'green', '--admin', gw.adminUrl]);
    assert.equal(noHealthy.code, 1);
    assert.match(noHealthy.err, /conflict/);
    assert.equal((await cli(['deploy', 'ok', 'green', '--steps', 'ten'])).code, 2);
    assert.equal((await cli(['deploy', 'ok', 'green', '--hold', 'soon'])).code, 2);
  });
});
