import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { REPO_ROOT, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

interface AutocannonResult {
  requests: { total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}

/** autocannon in its own process, as a real client would be. */
export function runAutocannon(url: string, args: string[]): { done: Promise<AutocannonResult>; pid: number } {
  const bin = path.join(REPO_ROOT, 'node_modules/autocannon/autocannon.js');
  const child = spawn(process.execPath, [bin, '--json', ...args, url], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  const done = new Promise<AutocannonResult>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}`));
      resolve(JSON.parse(out) as AutocannonResult);
    });
  });
  return { done, pid: child.pid! };
}

describe('hot swap under load', () => {
  let gw: GatewayProcess;
  let a: TestUpstream;
  let b: TestUpstream;

  before(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    gw = await startGateway();
    await putUpstream(gw, 'a', [a.url]);
    await putUpstream(gw, 'b', [b.url]);
    await putRoute(gw, 'api', { path: '/api' }, 'a');
  });

  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await a?.close();
    await b?.close();
  });

  it('replacing the route upstream 20 times under 50 connections loses nothing', async () => {
    const load = runAutocannon(`${gw.dataUrls[0]}/api/items`, ['-c', '50', '-d', '5']);
    // Spread 20 swaps over the run, each waiting for the previous write's answer.
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 200));
      await putRoute(gw, 'api', { path: '/api' }, i % 2 === 0 ? 'b' : 'a');
    }
    const result = await load.done;
    assert.equal(result.errors, 0, 'errors');
    assert.equal(result.timeouts, 0, 'timeouts');
    assert.equal(result.non2xx, 0, 'non-2xx');
    assert.ok(result.requests.total > 1000, `only ${result.requests.total} requests`);
    // Every response came from the old or the new upstream: together they saw
    // every request autocannon completed (it may count a few sent-but-cut at the end).
    assert.ok(a.count > 0 && b.count > 0, `a=${a.count} b=${b.count}`);
    assert.ok(a.count + b.count >= result['2xx'], `a+b=${a.count + b.count} < 2xx=${result['2xx']}`);
  });
});
