// A real crash test: a child process writes to the store and reports every
// acknowledged write; it is SIGKILLed mid-stream, and every acknowledged write
// must have survived. The runs share one directory, so each run also recovers
// from the crashes (and compactions) of the runs before it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { FileStore } from '../../src/control/file-store.js';

const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const storeDir = path.join(dir, 'store');
const script = path.join(dir, 'writer.mjs');

/** The value written under `id`; the parent recomputes it to check what it reads. */
const valueOf = (id: string) => {
  const i = Number(id.slice(id.lastIndexOf('-') + 1));
  return { id, i, pad: 'p'.repeat((i * 37) % 400), text: 'ü ✓ 🚀' };
};

// argv: storeDir run mode compactAfterBytes. Waits for a line on stdin (so the
// parent can test the lock while it is surely held), then writes 200 routes,
// sequentially or 10 at a time, printing `ack <id> <rev>` for each; then idles
// until killed.
writeFileSync(script, `
import { FileStore } from ${JSON.stringify(new URL('../../src/control/file-store.js', import.meta.url).href)};
const [dir, run, mode, compact, selfKillAt] = process.argv.slice(2);
let acks = 0;
const valueOf = ${valueOf.toString()};
const store = await FileStore.open(dir, { compactAfterBytes: Number(compact) || undefined });
process.stdout.write('ready\\n');
await new Promise((r) => process.stdin.once('data', r));
const put = async (i) => {
  const id = 'c' + run + '-' + i;
  const rev = await store.put('routes', id, valueOf(id));
  process.stdout.write('ack ' + id + ' ' + rev + '\\n');
  if (++acks === Number(selfKillAt)) process.kill(process.pid, 'SIGKILL');
};
const width = mode === 'parallel' ? 10 : 1;
for (let i = 0; i < 200; i += width) await Promise.all(Array.from({ length: width }, (_, k) => put(i + k)));
setInterval(() => {}, 1 << 30);
`);

/** Every acknowledged write of every run so far: id -> revision. */
const acked = new Map<string, number>();

// `self`: the child SIGKILLs itself in the same tick as it prints the ack, the
// narrowest window there is between acknowledging a write and persisting it.
const runs = [
  { killAt: 100, mode: 'sequential', compactAfterBytes: 0, self: false }, // log only
  { killAt: 37, mode: 'sequential', compactAfterBytes: 2048, self: false }, // compacting every few writes
  { killAt: 163, mode: 'parallel', compactAfterBytes: 8192, self: false }, // group commits and compactions
  { killAt: 1, mode: 'parallel', compactAfterBytes: 0, self: false },
  { killAt: 60, mode: 'sequential', compactAfterBytes: 0, self: true },
  { killAt: 125, mode: 'parallel', compactAfterBytes: 4096, self: true },
];

describe('FileStore survives kill -9', () => {
  runs.forEach((r, run) => {
    it(`run ${run}: ${r.mode} writes, compactAfterBytes ${r.compactAfterBytes || 'default'}, SIGKILL${r.self ? ' by itself' : ''} after ${r.killAt} acks`, { timeout: 60_000 }, async (t) => {
      const child = spawn(process.execPath, [script, storeDir, String(run), r.mode, String(r.compactAfterBytes), String(r.self ? r.killAt : 0)], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      const exited = once(child, 'exit');
      const lines = createInterface({ input: child.stdout });
      const drained = once(lines, 'close');
      let acks = 0;
      const ready = new Promise<void>((resolve) => lines.on('line', (line) => {
        const [word, id, rev] = line.split(' ');
        if (word === 'ready') resolve();
        if (word !== 'ack') return;
        acked.set(id!, Number(rev));
        // Kill at once, from the line handler: the child is writing right now.
        if (++acks === r.killAt && !r.self) child.kill('SIGKILL');
      }));
      await Promise.race([ready, exited]);

      // While the child holds the store, nobody else may open it.
      await assert.rejects(FileStore.open(storeDir), new RegExp(`locked by pid ${child.pid}\\b`), stderr);
      child.stdin.write('go\n');

      const [code, signal] = await exited;
      await drained;
      assert.equal(signal, 'SIGKILL', `the child was to be killed, it exited with ${code}: ${stderr}`);
      assert.ok(acks >= r.killAt);

      const store = await FileStore.open(storeDir); // takes over the dead child's lock
      try {
        const snap = await store.load();
        for (const [id, rev] of acked) {
          const e = snap.routes.get(id);
          assert.ok(e, `acknowledged write ${id}@${rev} lost`);
          assert.equal(e.modRevision, rev, id);
        }
        // Nothing torn: every stored entry (acknowledged or not) is exactly what was written.
        for (const [id, e] of snap.routes) assert.equal(e.raw, JSON.stringify(valueOf(id)), id);
        // Only puts of distinct ids were made, so revisions are gap-free.
        assert.equal(snap.revision, snap.routes.size);
        const durable = [...snap.routes.keys()].filter((id) => id.startsWith(`c${run}-`)).length;
        t.diagnostic(`${acks} acks seen, ${durable} writes of this run durable, revision ${snap.revision}`);

        const id = `after-${run}`;
        const rev = await store.put('routes', id, valueOf(id));
        assert.equal(rev, snap.revision + 1);
        acked.set(id, rev);
      } finally {
        await store.close();
      }
    });
  });
});
