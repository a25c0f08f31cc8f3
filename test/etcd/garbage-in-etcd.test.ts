// Issue 3 acceptance: whatever another tool puts under the prefix in etcd
// (broken JSON, schema-invalid values, odd keys, binary), no node crashes and
// no working route stops: an invalid value is reported (GET status "invalid"
// with errors, switchyard_config_errors_total, a log line naming the key) and
// the last good version keeps serving until a valid value arrives.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Etcd3 } from 'etcd3';
import { putRoute, putUpstream } from '../helpers/config.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { hit, readyz, servedWithin, startEtcdNode, stopAllNodes, uniquePrefix } from '../helpers/etcd-gateway.js';
import { admin, type GatewayProcess } from '../helpers/gateway.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { startTargetProcess, stopAllTargets, type TargetProcess } from '../helpers/target-process.js';
import { waitFor } from '../helpers/wait.js';

describe('garbage values in etcd', () => {
  let etcd: EtcdCluster;
  let client: Etcd3;
  let nodes: GatewayProcess[];
  let t1: TargetProcess;
  let t2: TargetProcess;
  const prefix = uniquePrefix('garbage');

  before(async () => {
    etcd = await startEtcd();
    client = new Etcd3({ hosts: etcd.endpoints });
    [t1, t2] = await Promise.all([startTargetProcess('t1'), startTargetProcess('t2')]);
    nodes = await Promise.all([
      startEtcdNode(etcd.endpoints, { prefix, nodeId: 'node-a' }),
      startEtcdNode(etcd.endpoints, { prefix, nodeId: 'node-b' }),
    ]);
    await putUpstream(nodes[0]!, 'u1', [t1.url]);
    await putUpstream(nodes[0]!, 'u2', [t2.url]);
    await putRoute(nodes[0]!, 'good', { path: '/good' }, 'u1');
    for (const gw of nodes) await servedWithin(`${gw.dataUrls[0]}/good`, 't1', 2000);
  });

  after(async () => {
    client?.close();
    await stopAllNodes();
    await stopAllTargets();
    await etcd?.close();
  });

  /** Puts a raw value straight into etcd; resolves once every node has applied that revision (alive, ready). */
  async function rawPut(key: string, value: string | Buffer, wait = true): Promise<number> {
    const res = await client.put(prefix + key).value(value).exec();
    const rev = Number(res.header.revision);
    if (!wait) return rev;
    for (const gw of nodes) {
      await waitFor(async () => {
        const r = await readyz(gw);
        return r.status === 200 && r.appliedRevision >= rev;
      }, { timeoutMs: 3000, what: `${gw.adminUrl} to apply revision ${rev} (${key})` });
    }
    return rev;
  }

  function assertAlive(): void {
    for (const gw of nodes) assert.equal(gw.child.exitCode ?? gw.child.signalCode, null, `node exited:\n${gw.output().slice(-3000)}`);
  }

  /** Route `good` still serves from `body` on every node. */
  async function stillServes(body: string, what: string): Promise<void> {
    for (const gw of nodes) assert.deepEqual(await hit(`${gw.dataUrls[0]}/good/x`), { status: 200, body }, `${what}: /good on ${gw.adminUrl}`);
  }

  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const routeGarbage: Array<[string, string | Buffer]> = [
    ['broken JSON', '{"id":"good","match":{"path":"/good"'],
    ['empty value', ''],
    ['null', 'null'],
    ['an array', '[1,2,3]'],
    ['a string', '"good"'],
    ['path without a slash', JSON.stringify({ id: 'good', match: { path: 'good' }, upstream: 'u1' })],
    ['unknown field', JSON.stringify({ id: 'good', match: { path: '/good' }, upstream: 'u1', bogus: true })],
    ['wrong types', JSON.stringify({ id: 'good', match: { path: '/good', methods: 'GET' }, upstream: 42, timeoutMs: 'soon' })],
    ['__proto__ key', '{"id":"good","match":{"path":"/good"},"upstream":"u1","__proto__":{"polluted":true}}'],
    ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22, 0xc3, 0x28, 0x00])],
    ['100k-deep nesting', deep(100_000)],
    ['400 KiB of junk', 'x'.repeat(400 * 1024)],
  ];

  it('garbage over a working route: the last good version serves, the route shows "invalid", errors are counted and logged', async () => {
    const before = metricValue(await scrape(nodes[0]!), 'switchyard_config_errors_total', { kind: 'routes' }) ?? 0;
    for (const [what, value] of routeGarbage) {
      await rawPut('routes/good', value);
      assertAlive();
      await stillServes('t1', what);
      for (const gw of nodes) {
        const r = await admin(gw, 'GET', '/routes/good');
        assert.equal(r.status, 200, `${what}: GET /routes/good -> ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        assert.equal(r.body.status, 'invalid', `${what}: status of route good: ${JSON.stringify(r.body).slice(0, 300)}`);
        assert.ok(Array.isArray(r.body.errors) && r.body.errors.length > 0, `${what}: errors listed`);
      }
    }
    for (const gw of nodes) {
      const after = metricValue(await scrape(gw), 'switchyard_config_errors_total', { kind: 'routes' }) ?? 0;
      assert.ok(after > 0, `switchyard_config_errors_total{kind="routes"} on ${gw.adminUrl} is ${after}`);
      assert.match(gw.output(), /"key":"routes\/good"/, `log of ${gw.adminUrl} names the key`);
    }
    const after = metricValue(await scrape(nodes[0]!), 'switchyard_config_errors_total', { kind: 'routes' }) ?? 0;
    assert.ok(after - before >= routeGarbage.length - 2, `config errors counted: ${after - before} for ${routeGarbage.length} bad values`);
    // Lists still answer with garbage stored.
    for (const gw of nodes) for (const p of ['/routes', '/upstreams']) assert.equal((await admin(gw, 'GET', p)).status, 200, `GET ${p}`);

    // A later valid write to the key applies (here through the admin API, to the other upstream).
    await putRoute(nodes[1]!, 'good', { path: '/good' }, 'u2');
    for (const gw of nodes) {
      await servedWithin(`${gw.dataUrls[0]}/good/x`, 't2', 2000);
      const r = await admin(gw, 'GET', '/routes/good');
      assert.equal(r.body.status, 'active', `route good after a valid write: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.errors, undefined);
    }
  });

  it('garbage over a working upstream keeps its last good version; garbage in new and odd keys hurts nothing', async () => {
    // route good -> u2 (from the previous test); u2's key gets garbage.
    const upGarbage: Array<[string, string]> = [
      ['broken JSON', '{"name":"u2","pools":'],
      ['target not a URL', JSON.stringify({ name: 'u2', pools: { main: { targets: ['not a url'] } }, weights: { main: 100 } })],
      ['pool with two sources', JSON.stringify({ name: 'u2', pools: { main: { targets: [t1.url], registry: true } } })],
      ['pools not an object', JSON.stringify({ name: 'u2', pools: 7 })],
    ];
    for (const [what, value] of upGarbage) {
      await rawPut('upstreams/u2', value);
      assertAlive();
      await stillServes('t2', `upstream u2: ${what}`);
      for (const gw of nodes) {
        const r = await admin(gw, 'GET', '/upstreams/u2');
        assert.equal(r.status, 200, `${what}: GET /upstreams/u2`);
        assert.ok(Array.isArray(r.body.errors) && r.body.errors.length > 0, `${what}: GET /upstreams/u2 lists errors: ${JSON.stringify(r.body).slice(0, 300)}`);
      }
    }
    for (const gw of nodes) {
      assert.ok((metricValue(await scrape(gw), 'switchyard_config_errors_total', { kind: 'upstreams' }) ?? 0) > 0, 'upstream errors counted');
      assert.match(gw.output(), /"key":"upstreams\/u2"/, `log of ${gw.adminUrl} names the upstream key`);
    }

    // Keys that name no resource (a node may ignore them: no revision to wait for), then a new key holding garbage.
    await rawPut('routes/', JSON.stringify({ id: '', match: { path: '/' }, upstream: 'u1' }), false);
    await rawPut('routes/a/b', JSON.stringify({ id: 'a', match: { path: '/' }, upstream: 'u1' }), false);
    await rawPut('upstreams/', 'garbage', false);
    await rawPut('upstreamsX', 'garbage', false);
    await rawPut('routes/Not An Id!', JSON.stringify({ id: 'Not An Id!', match: { path: '/' }, upstream: 'u1' }));
    await rawPut('routes/fresh', '{"id":"fresh","match":{"path":"/fresh"},"upstream":"u1"');
    assertAlive();
    await stillServes('t2', 'after garbage in odd keys');
    for (const gw of nodes) {
      const r = await admin(gw, 'GET', '/routes/fresh');
      assert.equal(r.body.status, 'invalid', `new garbage route: ${JSON.stringify(r.body)}`);
      assert.equal((await hit(`${gw.dataUrls[0]}/fresh`)).status, 404, 'a garbage route never serves');
      // No catch-all appeared from the odd keys.
      assert.equal((await hit(`${gw.dataUrls[0]}/elsewhere`)).status, 404, 'odd keys must not create routes');
      for (const p of ['/routes', '/upstreams']) assert.equal((await admin(gw, 'GET', p)).status, 200, `GET ${p} with odd keys stored`);
    }

    // Valid values written straight into etcd apply: u2 now points at t1, fresh serves.
    await rawPut('upstreams/u2', JSON.stringify({ name: 'u2', pools: { main: { targets: [t1.url] } }, weights: { main: 100 } }));
    await rawPut('routes/fresh', JSON.stringify({ id: 'fresh', match: { path: '/fresh' }, upstream: 'u2' }));
    for (const gw of nodes) {
      await servedWithin(`${gw.dataUrls[0]}/good`, 't1', 2000);
      await servedWithin(`${gw.dataUrls[0]}/fresh`, 't1', 2000);
      const u = await admin(gw, 'GET', '/upstreams/u2');
      assert.equal(u.body.errors, undefined, `u2 after a valid value: ${JSON.stringify(u.body)}`);
      assert.equal((await admin(gw, 'GET', '/routes/fresh')).body.status, 'active');
    }
    assertAlive();
  });

  it('a node started with garbage already stored starts, is ready, serves the valid routes and reports the bad ones', async () => {
    const junk = await rawPut('routes/junk', '{"id":"junk","match":{"path":"/junk"},"upstream":');
    const late = await startEtcdNode(etcd.endpoints, { prefix, nodeId: 'node-late' });
    nodes.push(late);
    await waitFor(async () => {
      const r = await readyz(late);
      return r.status === 200 && r.appliedRevision >= junk;
    }, { timeoutMs: 5000, what: 'the late node to be ready at the current revision' });
    await servedWithin(`${late.dataUrls[0]}/good`, 't1', 2000);
    await servedWithin(`${late.dataUrls[0]}/fresh`, 't1', 2000);
    assert.equal((await hit(`${late.dataUrls[0]}/junk`)).status, 404);
    assert.equal((await hit(`${late.dataUrls[0]}/elsewhere`)).status, 404, 'odd keys must not create routes');
    const r = await admin(late, 'GET', '/routes/junk');
    assert.equal(r.body.status, 'invalid');
    assert.ok((metricValue(await scrape(late), 'switchyard_config_errors_total', { kind: 'routes' }) ?? 0) > 0);
    assert.match(late.output(), /"key":"routes\/junk"/);
    assertAlive();
  });
});
