// Fault injection (issue 8 part 5): the disk under --state-dir is full, so an
// etcd node cannot write its last-known-good table. A route write still
// applies and serves; the failed write is reported (an error log line and
// switchyard_state_write_errors_total); the file keeps the last table that was
// written (never a torn one); once the disk has space again, the next apply
// writes the snapshot.
//
// "Disk full" is real: --state-dir is a 64 KiB tmpfs (we run as root in the
// sandbox) filled up with a filler file, so writes fail with ENOSPC. Where
// mounting is not allowed, the state dir's parent is swapped for a plain file
// instead (writes fail with ENOTDIR): the same failure path, another errno.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statfsSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { putRoute, putUpstream } from '../helpers/config.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { lastKnownGoodRevision, readyz, startEtcdNode, stopAllNodes, uniquePrefix } from '../helpers/etcd-gateway.js';
import { tempDir, type GatewayProcess } from '../helpers/gateway.js';
import { metricValue, scrape } from '../helpers/metrics.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

interface FullDisk {
  readonly mode: 'tmpfs' | 'enotdir';
  readonly stateDir: string;
  /** The errno a write gets while full. */
  readonly errno: string;
  /** Where the state dir's files are while the disk is full. */
  readonly stateDirWhileFull: string;
  fill(): void;
  free(): void;
  cleanup(): void;
}

/** A tiny tmpfs at a fresh mount point, filled on demand. */
function tmpfsDisk(): FullDisk | null {
  const mnt = tempDir('switchyard-full-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch {
    return null;
  }
  const filler = path.join(mnt, 'filler');
  return {
    mode: 'tmpfs',
    stateDir: mnt,
    errno: 'ENOSPC',
    stateDirWhileFull: mnt,
    fill() {
      const fd = openSync(filler, 'w');
      try {
        const block = Buffer.alloc(4096, 1);
        for (;;) writeSync(fd, block); // until ENOSPC
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
      assert.equal(statfsSync(mnt).bavail, 0, 'the state dir has no free block left');
    },
    free() {
      unlinkSync(filler);
      assert.ok(statfsSync(mnt).bavail > 0);
    },
    cleanup() {
      try {
        execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
      } catch {
        /* not mounted */
      }
    },
  };
}

/** Without mount: the state dir's parent becomes a plain file while "full". */
function enotdirDisk(): FullDisk {
  const root = tempDir('switchyard-full-');
  const parent = path.join(root, 'p');
  mkdirSync(parent);
  return {
    mode: 'enotdir',
    stateDir: path.join(parent, 'state'),
    errno: 'ENOTDIR',
    stateDirWhileFull: path.join(`${parent}.away`, 'state'),
    fill() {
      renameSync(parent, `${parent}.away`);
      writeFileSync(parent, 'not a directory');
    },
    free() {
      rmSync(parent);
      renameSync(`${parent}.away`, parent);
    },
    cleanup() {},
  };
}

describe('last-known-good snapshot on a full disk', () => {
  let etcd: EtcdCluster;
  let up: TestUpstream;
  let gw: GatewayProcess;
  let disk: FullDisk;
  const prefix = uniquePrefix('diskfull');

  before(async () => {
    // SWITCHYARD_TEST_NO_MOUNT=1 forces the fallback (to check it where mount works).
    disk = (process.env.SWITCHYARD_TEST_NO_MOUNT ? null : tmpfsDisk()) ?? enotdirDisk();
    [etcd, up] = await Promise.all([startEtcd(), startUpstream('u1')]);
    gw = await startEtcdNode(etcd.endpoints, { prefix, nodeId: 'node-full', stateDir: disk.stateDir, logLevel: 'info' });
  });

  after(async () => {
    await stopAllNodes();
    await etcd?.close();
    await up?.close();
    disk?.cleanup();
  });

  const errors = async () => metricValue(await scrape(gw), 'switchyard_state_write_errors_total');
  const snapshotFiles = () => readdirSync(disk.stateDir).filter((f) => f.startsWith('last-known-good-'));

  it('a route write applies and serves while the snapshot cannot be written; the next apply after space returns writes it', async (t) => {
    t.diagnostic(`disk full simulated with ${disk.mode} (${disk.errno})`);
    await putUpstream(gw, 'u1', [up.url]);
    const revA = (await putRoute(gw, 'a', { path: '/a' }, 'u1')).body.revision as number;
    await waitFor(() => lastKnownGoodRevision(disk.stateDir) === revA, { timeoutMs: 3000, what: `the snapshot at revision ${revA}` });
    assert.equal(await errors(), 0, 'no write error yet');

    disk.fill();
    const revB = (await putRoute(gw, 'b', { path: '/b' }, 'u1')).body.revision as number;
    // Serving continues: the new route is live.
    const res = await waitFor(async () => {
      const r = await fetch(`${gw.dataUrls[0]}/b/x`, { signal: AbortSignal.timeout(2000) });
      const body = (await r.json()) as { upstream?: string };
      return r.status === 200 && body.upstream === 'u1' ? body : null;
    }, { timeoutMs: 3000, what: 'route b served while the disk is full' });
    assert.equal(res.upstream, 'u1');
    // The failure is reported: metric and log line, naming the errno.
    await waitFor(async () => ((await errors()) ?? 0) >= 1, { timeoutMs: 3000, what: 'switchyard_state_write_errors_total >= 1' });
    const logLine = gw.output().split('\n').find((l) => l.includes('cannot write the last-known-good snapshot'));
    assert.ok(logLine, `an error log line; output:\n${gw.output().slice(-2000)}`);
    assert.match(logLine, new RegExp(disk.errno));
    assert.match(logLine, /"level":50/, 'logged at error level');
    // The file still holds the last table written, whole.
    assert.equal(lastKnownGoodRevision(disk.stateDirWhileFull), revA, 'the snapshot on disk is still the one of revision A');
    const rz = await readyz(gw);
    assert.deepEqual([rz.status, rz.ready, rz.store, rz.appliedRevision], [200, true, 'connected', revB], 'ready, at the new revision');

    // Space again: the next apply writes the snapshot.
    disk.free();
    const failures = (await errors())!;
    const revC = (await putRoute(gw, 'c', { path: '/c' }, 'u1')).body.revision as number;
    await waitFor(() => lastKnownGoodRevision(disk.stateDir) === revC, { timeoutMs: 3000, what: `the snapshot at revision ${revC} once the disk has space` });
    assert.equal(await errors(), failures, 'no further write errors');
    assert.ok(gw.output().includes('last-known-good snapshot written again'), 'the recovery is logged');
    assert.deepEqual(snapshotFiles().filter((f) => !f.endsWith('.json')), [], 'no temp file left behind');
    for (const p of ['/a', '/b', '/c']) {
      const r = await fetch(`${gw.dataUrls[0]}${p}`);
      assert.equal(r.status, 200, `GET ${p}`);
      await r.arrayBuffer();
    }
  });
});
