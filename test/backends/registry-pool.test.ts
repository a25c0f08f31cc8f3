// `registry` pools and `switchyard register` (CONTRACT §4; issue 6 part 3),
// on two gateway nodes sharing a real etcd. Two registrars (real processes)
// register two backends; both serve on both nodes. Then:
//   - SIGKILL one registrar: its lease (--ttl 3) expires and the target
//     vanishes from both nodes within the TTL (plus etcd's expiry sweep).
//   - SIGTERM the other while a slow request runs through each node: the
//     target leaves rotation on both nodes (draining), the slow requests
//     complete, and only then the key is deleted: gone from both nodes within
//     1 s of the last in-flight request finishing.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { poolStatus } from '../helpers/backend-app.js';
import { putRoute } from '../helpers/config.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { admin, CLI, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

const TTL_S = 3;
/** etcd 3.4 checks for expired leases every 500 ms; the watch and the swap add a few ms. */
const EXPIRY_SLACK_MS = 700;

interface Registrar {
  child: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<number | null>;
}

describe('registry pools on two nodes over etcd', () => {
  let etcd: EtcdCluster;
  let store: string;
  const prefix = `/reg-${process.pid}/`;
  const nodes: GatewayProcess[] = [];
  const registrars: Registrar[] = [];
  let one: TestUpstream;
  let two: TestUpstream;

  function register(target: string): Promise<Registrar> {
    const child = spawn(process.execPath, [CLI, 'register', '--store', store, '--prefix', prefix, '--upstream', 'reg', '--pool', 'pods', '--target', target, '--ttl', String(TTL_S), '--drain-timeout-ms', '10000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const r: Registrar = { child, pid: child.pid!, output: () => out, exited };
    registrars.push(r);
    return waitFor(() => (/registered /.test(out) ? r : null), { timeoutMs: 10_000, what: `registrar of ${target} registered` });
  }

  const origins = async (gw: GatewayProcess): Promise<Record<string, string>> => {
    const st = await poolStatus(gw, 'reg', 'pods');
    return Object.fromEntries(st.targets.map((t: { target: string; state: string }) => [t.target, t.state]));
  };

  before(async () => {
    etcd = await startEtcd();
    store = `etcd://${etcd.endpoints[0]!.replace('http://', '')}`;
    one = await startUpstream('one', (req, res) => {
      req.resume();
      res.end('one');
    });
    two = await startUpstream('two', (req, res) => {
      req.resume();
      const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 0);
      setTimeout(() => res.end('two'), ms);
    });
    for (const id of ['node-a', 'node-b']) nodes.push(await startGateway({ args: ['--store', store, '--prefix', prefix, '--node-id', id] }));
    const r = await admin(nodes[0]!, 'PUT', '/upstreams/reg', { name: 'reg', pools: { pods: { registry: true } }, weights: { pods: 100 } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await putRoute(nodes[0]!, 'reg', { path: '/' }, 'reg');
    await waitFor(async () => (await admin(nodes[1]!, 'GET', '/upstreams/reg/status')).status === 200, { what: 'upstream on node b' });
  });

  after(async () => {
    for (const r of registrars) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    for (const n of nodes) await n.kill9();
    await one?.close();
    await two?.close();
    await etcd?.close();
  });

  it('serves registered targets on both nodes; a SIGKILLed registrar vanishes within the TTL; a SIGTERMed one drains first', async () => {
    const [a, b] = nodes as [GatewayProcess, GatewayProcess];
    const regOne = await register(one.url);
    const regTwo = await register(two.url);
    for (const gw of nodes) {
      await waitFor(async () => {
        const o = await origins(gw);
        return o[one.url] === 'healthy' && o[two.url] === 'healthy';
      }, { timeoutMs: 5000, what: 'both targets on a node' });
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add(await (await fetch(gw.dataUrls[0]!)).text());
      assert.deepEqual([...seen].sort(), ['one', 'two'], 'both registered targets serve');
    }

    // SIGKILL: nothing deregisters; the lease expires.
    const killedAt = Date.now();
    regOne.child.kill('SIGKILL');
    await Promise.all(nodes.map((gw) => waitFor(async () => !(one.url in (await origins(gw))), { timeoutMs: TTL_S * 1000 + EXPIRY_SLACK_MS + 2000, intervalMs: 20, what: 'the killed registrar\'s target gone' })));
    const goneMs = Date.now() - killedAt;
    console.log(`target of the SIGKILLed registrar gone from both nodes ${goneMs} ms after the kill (ttl ${TTL_S} s)`);
    assert.ok(goneMs <= TTL_S * 1000 + EXPIRY_SLACK_MS, `gone after ${goneMs} ms, TTL ${TTL_S} s`);

    // SIGTERM under in-flight requests: drain on both nodes, then delete.
    const slow = nodes.map((gw) => fetch(`${gw.dataUrls[0]}/slow?ms=1500`).then(async (r) => ({ status: r.status, body: await r.text(), at: Date.now() })));
    await Promise.all(nodes.map((gw) => waitFor(async () => (await poolStatus(gw, 'reg', 'pods')).inflight === 1, { what: 'a slow request in flight on the node' })));
    const termAt = Date.now();
    regTwo.child.kill('SIGTERM');
    // Watch both nodes until the target is gone, noting when each saw it draining.
    const watch = nodes.map(async (gw) => {
      let drainingAt = 0;
      for (;;) {
        const state = (await origins(gw))[two.url];
        if (state === 'draining' && !drainingAt) drainingAt = Date.now();
        if (state === undefined) return { drainingAt, goneAt: Date.now() };
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    const done = await Promise.all(slow);
    for (const d of done) assert.deepEqual([d.status, d.body], [200, 'two'], 'the in-flight request completed');
    const zeroAt = Math.max(...done.map((d) => d.at));
    const seen = await Promise.race([Promise.all(watch), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('target not gone within 5 s')), 5000))]);
    for (const [i, s] of seen.entries()) {
      assert.ok(s.drainingAt > 0 && s.drainingAt < zeroAt, `node ${i}: out of rotation (draining) before its in-flight request finished`);
      assert.ok(s.goneAt >= zeroAt - 50, `node ${i}: deleted only after the in-flight requests finished`);
      assert.ok(s.goneAt - zeroAt <= 1000, `node ${i}: gone ${s.goneAt - zeroAt} ms after in-flight reached zero`);
    }
    console.log(`draining on both nodes ${Math.max(...seen.map((s) => s.drainingAt)) - termAt} ms after SIGTERM; gone ${Math.max(...seen.map((s) => s.goneAt)) - zeroAt} ms after in-flight reached zero`);
    assert.equal(await regTwo.exited, 0, regTwo.output());
    assert.match(regTwo.output(), /waiting for in-flight requests to finish/);
    assert.match(regTwo.output(), /deregistered/);
    const after = await poolStatus(a, 'reg', 'pods');
    assert.equal(after.total, 0);
    assert.equal((await fetch(b.dataUrls[0]!)).status, 503, 'nothing registered: no healthy target');
  });
});
