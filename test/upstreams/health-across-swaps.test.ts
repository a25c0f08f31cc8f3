// Health is kept by target identity across config swaps (STYLE §5): a target
// marked unhealthy stays unhealthy and takes no traffic after config changes
// (an unrelated route or upstream, a change of its own upstream, even of the
// health check settings); a new target with a health check is `pending` and
// takes no traffic until its first check passes.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { admin, removeDir, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

type HealthMode = 'ok' | 'fail' | 'hold';

interface Backend {
  up: TestUpstream;
  mode: HealthMode;
  /** Health checks received. */
  checks: number;
  /** Proxied (non-health-check) requests received. */
  hits: number;
  held: ServerResponse[];
}

async function backend(name: string, mode: HealthMode = 'ok'): Promise<Backend> {
  const b: Backend = { up: null as unknown as TestUpstream, mode, checks: 0, hits: 0, held: [] };
  b.up = await startUpstream(name, (req, res) => {
    if (req.url === '/healthz') {
      b.checks++;
      if (b.mode === 'hold') return void b.held.push(res);
      return void res.writeHead(b.mode === 'ok' ? 200 : 500).end();
    }
    b.hits++;
    res.end(name);
  });
  return b;
}

const HEALTH = { path: '/healthz', intervalMs: 100, timeoutMs: 3000, healthy: 2, unhealthy: 2 };

describe('target health across config swaps', () => {
  let gw: GatewayProcess;
  let a: Backend;
  let b: Backend;
  let c: Backend;
  let other: TestUpstream;

  const states = async (): Promise<Record<string, string>> => {
    const p = (await admin(gw, 'GET', '/upstreams/svc/status')).body.nodes[0].pools.main;
    return Object.fromEntries(p.targets.map((t: { target: string; state: string }) => [t.target, t.state]));
  };
  /** `n` GETs through the gateway, one after another; the bodies name the target. */
  const send = async (n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await fetch(`${gw.dataUrls[0]}/svc/${i}`);
      out.push(`${r.status} ${await r.text()}`);
    }
    return out;
  };

  before(async () => {
    [a, b, c] = await Promise.all([backend('a'), backend('b'), backend('c', 'hold')]);
    other = await startUpstream('other');
    gw = await startGateway();
    await putUpstream(gw, 'svc', [a.up.url, b.up.url], { healthCheck: HEALTH });
    await putRoute(gw, 'svc', { path: '/svc' }, 'svc');
    await waitFor(async () => Object.values(await states()).every((s) => s === 'healthy'), { what: 'a and b healthy' });
  });

  after(async () => {
    for (const r of c?.held ?? []) r.destroy();
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    await Promise.all([a?.up.close(), b?.up.close(), c?.up.close(), other?.close()]);
  });

  it('an unhealthy target stays unhealthy, with no traffic, across config swaps', async () => {
    a.mode = 'fail';
    await waitFor(async () => (await states())[a.up.url] === 'unhealthy', { what: 'a marked unhealthy' });
    const hitsBefore = a.hits;

    const swaps: [string, () => Promise<unknown>][] = [
      ['PUT an unrelated route', () => putRoute(gw, 'other', { path: '/other' }, 'other')],
      ['PUT an unrelated upstream', () => putUpstream(gw, 'other', [other.url])],
      ['PUT its own upstream (drainTimeoutMs changed)', () => putUpstream(gw, 'svc', [a.up.url, b.up.url], { healthCheck: HEALTH, drainTimeoutMs: 5000 })],
      ['PUT its own upstream (health check interval changed)', () => putUpstream(gw, 'svc', [a.up.url, b.up.url], { healthCheck: { ...HEALTH, intervalMs: 150 }, drainTimeoutMs: 5000 })],
    ];
    for (const [what, swap] of swaps) {
      const rev = (await admin(gw, 'GET', '/routes')).body.revision;
      await swap();
      // The file store applies a write before answering it: the swap is live now.
      const st = await admin(gw, 'GET', '/upstreams/svc/status');
      assert.ok(st.body.nodes[0].appliedRevision > rev, `${what}: applied`);
      assert.deepEqual(await states(), { [a.up.url]: 'unhealthy', [b.up.url]: 'healthy' }, `${what}: health kept`);
      assert.deepEqual(new Set(await send(10)), new Set(['200 b']), `${what}: only b serves`);
      assert.equal(a.hits, hitsBefore, `${what}: the unhealthy target took traffic`);
    }
  });

  it('a new target with a health check is pending, with no traffic, until its first check passes', async () => {
    a.mode = 'ok';
    await waitFor(async () => (await states())[a.up.url] === 'healthy', { what: 'a healthy again' });

    await putUpstream(gw, 'svc', [a.up.url, b.up.url, c.up.url], { healthCheck: HEALTH });
    await waitFor(() => c.held.length > 0, { what: 'the first check of c is in progress' });
    assert.equal((await states())[c.up.url], 'pending');
    const during = await send(30);
    assert.equal(c.hits, 0, 'the pending target took traffic');
    assert.deepEqual(new Set(during), new Set(['200 a', '200 b']));
    // Another swap while it is pending: still pending, still no traffic.
    await putRoute(gw, 'other2', { path: '/other2' }, 'other');
    assert.equal((await states())[c.up.url], 'pending');
    await send(10);
    assert.equal(c.hits, 0, 'the pending target took traffic after a swap');

    // The first check passes.
    c.mode = 'ok';
    for (const r of c.held.splice(0)) r.writeHead(200).end();
    await waitFor(async () => (await states())[c.up.url] === 'healthy', { what: 'c healthy after its first check' });
    const after = await send(30);
    assert.ok(c.hits >= 8, `c serves once healthy: ${c.hits} of 30`);
    assert.ok(after.every((x) => x.startsWith('200 ')), JSON.stringify(after));
  });
});
