import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FileStore, type FileStoreOptions } from '../../src/control/file-store.js';
import { StoreUnavailableError, type StoreSnapshot } from '../../src/control/store.js';
import { storeConformance } from './store-conformance.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'switchyard-filestore-'));
  dirs.push(d);
  return d;
}

storeConformance('file', async () => {
  const dir = tempDir();
  const store = await FileStore.open(dir);
  return { store, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
});

const route = (id: string, extra: object = {}) => ({ id, match: { path: `/${id}` }, upstream: 'u', ...extra });
const plain = (s: StoreSnapshot) => ({
  revision: s.revision,
  routes: [...s.routes.values()].map((e) => ({ ...e })),
  upstreams: [...s.upstreams.values()].map((e) => ({ ...e })),
});
function capture() {
  const warnings: string[] = [];
  return { warnings, logger: { warn: (_obj: object, msg: string) => void warnings.push(msg) } };
}
/** Opens, runs `fn`, always closes. */
async function using<T>(dir: string, fn: (s: FileStore) => Promise<T>, opts: FileStoreOptions = {}): Promise<T> {
  const s = await FileStore.open(dir, opts);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
/** A few writes of both kinds, including a delete; resolves with the final state. */
const populate = (s: FileStore) => (async () => {
  await s.put('upstreams', 'u', { name: 'u', pools: {} });
  for (let i = 0; i < 5; i++) await s.put('routes', `r${i}`, route(`r${i}`));
  await s.put('routes', 'r1', route('r1', { retries: 3 }));
  await s.delete('routes', 'r4');
  return plain(await s.load());
})();

describe('FileStore', () => {
  it('starts at revision 0 and counts +1 per write, deletes included', async () => {
    const dir = tempDir();
    await using(dir, async (s) => {
      assert.equal(s.kind, 'file');
      assert.equal(s.connected, true);
      assert.equal((await s.load()).revision, 0);
      assert.equal(await s.put('routes', 'a', route('a')), 1);
      assert.equal(await s.put('routes', 'a', route('a')), 2);
      assert.equal(await s.delete('routes', 'a'), 3);
      assert.equal(await s.put('upstreams', 'u', {}), 4);
    });
  });

  it('a reopened store has every entry at the same revision', async () => {
    const dir = tempDir();
    const before = await using(dir, populate);
    assert.equal(before.revision, 8);
    await using(dir, async (s) => {
      assert.deepEqual(plain(await s.load()), before);
      assert.equal(await s.put('routes', 'next', route('next')), 9);
    });
  });

  it('compaction empties the log, and the revision never goes back after it', async () => {
    const dir = tempDir();
    const wal = path.join(dir, 'wal.jsonl');
    const state = await using(dir, async (s) => {
      await populate(s);
      await s.compact();
      assert.equal(statSync(wal).size, 0);
      assert.ok(existsSync(path.join(dir, 'snapshot.json')));
      await s.put('routes', 'late', route('late'));
      await s.delete('routes', 'late'); // the newest writes exist only in the log
      return plain(await s.load());
    });
    assert.equal(state.revision, 10);
    await using(dir, async (s) => {
      assert.deepEqual(plain(await s.load()), state);
      for (const id of ['r0', 'r1', 'r2', 'r3']) await s.delete('routes', id);
      await s.delete('upstreams', 'u');
      await s.compact(); // an empty table at revision 15
    });
    await using(dir, async (s) => {
      const snap = await s.load();
      assert.deepEqual([snap.revision, snap.routes.size, snap.upstreams.size], [15, 0, 0]);
      assert.equal(await s.put('routes', 'x', route('x')), 16);
    });
  });

  it('compacts by itself once the log outgrows the threshold', async () => {
    const dir = tempDir();
    await using(dir, async (s) => {
      const wal = path.join(dir, 'wal.jsonl');
      await s.put('routes', 'a', route('a', { pad: 'x'.repeat(2000) }));
      // Compaction runs after the write is acknowledged, ahead of the next one in the queue.
      // The threshold is then max(option, snapshot size), so the small write is just appended.
      await s.put('routes', 'b', route('b'));
      const snapshot = JSON.parse(readFileSync(path.join(dir, 'snapshot.json'), 'utf8'));
      assert.deepEqual([snapshot.revision, Object.keys(snapshot.routes)], [1, ['a']]);
      const lines = readFileSync(wal, 'utf8').trim().split('\n');
      assert.deepEqual(lines.map((l) => JSON.parse(l).rev), [2]);
    }, { compactAfterBytes: 1000 });
    await using(dir, async (s) => assert.equal((await s.load()).revision, 2));
  });

  it('skips log lines already in the snapshot (crash between snapshot rename and log truncate)', async () => {
    const dir = tempDir();
    const wal = path.join(dir, 'wal.jsonl');
    const state = await using(dir, async (s) => {
      const st = await populate(s);
      const log = readFileSync(wal);
      await s.compact();
      appendFileSync(wal, log); // as if the truncate never happened
      return st;
    });
    await using(dir, async (s) => {
      assert.deepEqual(plain(await s.load()), state);
      assert.equal(await s.put('routes', 'n', route('n')), state.revision + 1);
    });
    await using(dir, async (s) => assert.equal((await s.load()).revision, state.revision + 1));
  });

  it('ignores and cuts off a torn last log line, then opens and writes', async () => {
    const dir = tempDir();
    const wal = path.join(dir, 'wal.jsonl');
    const state = await using(dir, populate);
    const size = statSync(wal).size;
    for (const garbage of ['{"rev":9,"op":"put","kind":"rou', '{"rev":9,"op":"put","kind":"routes","id":"z","raw":"1","crc":"00000000"}\n']) {
      appendFileSync(wal, garbage);
      const { warnings, logger } = capture();
      await using(dir, async (s) => {
        assert.deepEqual(plain(await s.load()), state);
        assert.equal(statSync(wal).size, size, 'torn bytes removed');
      }, { logger });
      assert.match(warnings.join('\n'), /torn/);
    }
    appendFileSync(wal, '{"rev":9,"op":"pu');
    await using(dir, async (s) => assert.equal(await s.put('routes', 'z', route('z')), 9));
    await using(dir, async (s) => assert.equal((await s.get('routes', 'z'))?.modRevision, 9));
  });

  it('refuses a log damaged before its end instead of dropping acknowledged writes', async () => {
    const dir = tempDir();
    const wal = path.join(dir, 'wal.jsonl');
    await using(dir, populate);
    const lines = readFileSync(wal, 'utf8').split('\n');
    lines[2] = lines[2]!.replace('"r1"', '"r9"'); // valid JSON, wrong crc
    writeFileSync(wal, lines.join('\n'));
    await assert.rejects(FileStore.open(dir), /wal\.jsonl is corrupt \(damaged line/);
  });

  it('refuses a snapshot with a bad checksum with a clear error, never opening empty', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'snapshot.json');
    await using(dir, async (s) => { await populate(s); await s.compact(); });
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('"r0"', '"r7"'));
    await assert.rejects(FileStore.open(dir), (err: Error) =>
      /snapshot\.json is corrupt \(checksum mismatch\)/.test(err.message) && /refusing to open/.test(err.message));
    writeFileSync(file, good.slice(0, good.length / 2));
    await assert.rejects(FileStore.open(dir), /snapshot\.json is corrupt/);
    writeFileSync(file, good); // a refused open left no lock behind
    await using(dir, async (s) => assert.equal((await s.load()).routes.size, 4));
  });

  it('refuses a log whose revisions do not follow the snapshot (lost snapshot)', async () => {
    const dir = tempDir();
    await using(dir, async (s) => { await populate(s); await s.compact(); await s.put('routes', 'n', route('n')); });
    rmSync(path.join(dir, 'snapshot.json'));
    await assert.rejects(FileStore.open(dir), /revision jumps from 0 to 9/);
  });

  it('locks the directory: a second open is refused naming the pid, until closed', async () => {
    const dir = tempDir();
    const first = await FileStore.open(dir);
    await assert.rejects(FileStore.open(dir), new RegExp(`locked by pid ${process.pid}\\b`));
    const link = path.join(tempDir(), 'link');
    symlinkSync(dir, link);
    await assert.rejects(FileStore.open(link), /locked by pid/, 'the same dir through a symlink');
    assert.equal(JSON.parse(readFileSync(path.join(dir, 'lock'), 'utf8')).pid, process.pid);
    await first.close();
    await first.close(); // idempotent
    assert.equal(existsSync(path.join(dir, 'lock')), false);
    await using(dir, async (s) => assert.equal((await s.load()).revision, 0));
  });

  it('refuses a lock held by another live process and takes over stale ones', async () => {
    const dir = tempDir();
    const lock = path.join(dir, 'lock');
    writeFileSync(lock, JSON.stringify({ pid: process.ppid, start: null }));
    await assert.rejects(FileStore.open(dir), new RegExp(`locked by pid ${process.ppid}\\b`));

    const deadPid = spawnSync(process.execPath, ['-e', '']).pid!; // exited and reaped
    const stale = [
      JSON.stringify({ pid: deadPid, start: null }),
      JSON.stringify({ pid: process.pid, start: null }), // our own pid, not held: an earlier life (pid 1 in a container)
      'garbage',
    ];
    if (existsSync('/proc/self/stat')) stale.push(JSON.stringify({ pid: process.ppid, start: 'not-its-start-time' })); // pid reused
    for (const content of stale) {
      writeFileSync(lock, content);
      const { warnings, logger } = capture();
      await using(dir, async () => {
        assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, process.pid, content);
      }, { logger });
      assert.match(warnings.join(), /stale lock/);
    }
  });

  it('close() stops watchers, lets queued writes finish and refuses later ones', async () => {
    const dir = tempDir();
    const s = await FileStore.open(dir);
    let delivered = 0;
    s.watch(() => delivered++, new AbortController().signal);
    const queued = s.put('routes', 'a', route('a'));
    const closing = s.close();
    assert.equal(await queued, 1);
    await closing;
    assert.equal(delivered, 0, 'watchers stopped at close()');
    await assert.rejects(s.put('routes', 'b', route('b')), StoreUnavailableError);
    await assert.rejects(s.load(), StoreUnavailableError);
    await using(dir, async (t) => assert.equal((await t.get('routes', 'a'))?.modRevision, 1));
  });

  it('snapshot maps refuse mutation', async () => {
    await using(tempDir(), async (s) => {
      await s.put('routes', 'a', route('a'));
      const snap = await s.load();
      assert.throws(() => (snap.routes as Map<string, unknown>).set('b', {}), TypeError);
      assert.throws(() => (snap.routes as Map<string, unknown>).delete('a'), TypeError);
      assert.throws(() => { (snap.routes.get('a') as { raw: string }).raw = 'x'; }, TypeError);
      assert.equal(snap.routes.size, 1);
    });
  });

  it('holds 10 000 routes: a put appends one log line, and reopening loads them all', async () => {
    const dir = tempDir();
    const wal = path.join(dir, 'wal.jsonl');
    const N = 10_000;
    await using(dir, async (s) => {
      for (let i = 0; i < N; i += 500) {
        await Promise.all([...Array(500).keys()].map((k) => s.put('routes', `route-${i + k}`, route(`route-${i + k}`))));
      }
      assert.equal((await s.load()).revision, N);
      const size = statSync(wal).size;
      await s.put('routes', 'route-0', route('route-0', { retries: 2 }));
      const grew = statSync(wal).size - size;
      assert.ok(grew > 0 && grew < 300, `one put appended ${grew} bytes`);
      assert.equal(existsSync(path.join(dir, 'snapshot.json')), false, 'no snapshot rewritten');
    });
    const check = (snap: StoreSnapshot) => {
      assert.equal(snap.revision, N + 1);
      assert.equal(snap.routes.size, N);
      assert.equal(snap.routes.get('route-0')?.raw, JSON.stringify(route('route-0', { retries: 2 })));
      assert.equal(snap.routes.get('route-9999')?.raw, JSON.stringify(route('route-9999')));
    };
    await using(dir, async (s) => { check(await s.load()); await s.compact(); }); // from the log
    await using(dir, async (s) => check(await s.load())); // from the snapshot
  });
});
