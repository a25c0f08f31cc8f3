import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { admin, removeDir, startGateway, tempDir } from '../helpers/gateway.js';

describe('kill -9 in the middle of admin writes', () => {
  const dir = tempDir();
  after(() => removeDir(dir));

  it('keeps every acknowledged write and the store loads after restart', async () => {
    const gw = await startGateway({ storeDir: dir });
    const acked = new Map<string, number>();
    let killed = false;
    // 200 writers' worth of PUTs, 4 at a time; the gateway is killed mid-way.
    const writes = Array.from({ length: 200 }, (_, i) => i);
    const worker = async () => {
      for (let i = writes.shift(); i !== undefined; i = writes.shift()) {
        if (acked.size >= 100 && !killed) {
          killed = true;
          await gw.kill9();
        }
        try {
          const r = await admin(gw, 'PUT', `/upstreams/u${i}`, { name: `u${i}`, pools: { p: { targets: [`http://127.0.0.1:${1000 + i}`] } } });
          if (r.status === 200 || r.status === 201) acked.set(`u${i}`, r.body.revision);
        } catch {
          /* connection refused after the kill: not acknowledged */
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    assert.ok(killed, 'the gateway was killed mid-way');
    assert.ok(acked.size >= 100);

    const again = await startGateway({ storeDir: dir });
    try {
      const list = await admin(again, 'GET', '/upstreams');
      assert.equal(list.status, 200);
      const names = new Set((list.body.upstreams as { name: string }[]).map((u) => u.name));
      for (const [name] of acked) assert.ok(names.has(name), `acknowledged ${name} lost`);
      for (const [name, rev] of acked) {
        const one = await admin(again, 'GET', `/upstreams/${name}`);
        assert.equal(one.body.pools.p.targets[0], `http://127.0.0.1:${1000 + Number(name.slice(1))}`);
        assert.equal(one.body.revision, rev);
      }
      const w = await admin(again, 'PUT', '/upstreams/after', { name: 'after', pools: { p: { targets: ['http://127.0.0.1:9'] } } });
      assert.equal(w.status, 201);
      assert.ok(w.body.revision > Math.max(...acked.values()));
    } finally {
      await again.stop();
    }
  });
});
