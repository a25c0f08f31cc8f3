// Exclusive lock on a file store directory, so two gateway processes never
// append to one log. The lock is a file `lock` holding {"pid","start"}; Node
// has no flock(), so liveness is judged from the pid (and, on Linux, the
// process start time, because a restarted container reuses the same pids).
import { randomUUID } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import path from 'node:path';
import { errCode, readIfExists, syncDir, writeFileDurable } from './file-store-io.js';
import { StoreError } from './store.js';

/** Lock files held by this process: the pid check cannot tell our own stores apart. */
const heldHere = new Set<string>();

interface Holder { pid: number; start: string | null }

/** Linux: field 22 of /proc/PID/stat; null where there is no /proc. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function parseHolder(text: string): Holder | null {
  try {
    const h = JSON.parse(text) as Holder;
    return Number.isSafeInteger(h?.pid) && h.pid > 0 ? { pid: h.pid, start: typeof h.start === 'string' ? h.start : null } : null;
  } catch {
    return null;
  }
}

function isAlive(h: Holder): boolean {
  // Our own pid but not in heldHere: a previous incarnation with the same pid
  // (pid 1 in a restarted container) that died holding it.
  if (h.pid === process.pid) return false;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    return errCode(err) === 'EPERM'; // exists, owned by someone else
  }
  const now = h.start === null ? null : startTimeOf(h.pid);
  return now === null || now === h.start;
}

const lockedError = (dir: string, pid: number, self: boolean) =>
  new StoreError(
    `file store ${dir} is locked by pid ${pid}${self ? ' (this process)' : ''}: another switchyard ` +
      'process is using it. Stop that process or use another --store directory.',
    'store_locked',
  );

/**
 * Takes the lock on `dir` (a real path), taking over a stale one. Resolves
 * with the function that releases it.
 */
export async function acquireLock(dir: string, logger?: { warn(obj: object, msg: string): void }): Promise<() => Promise<void>> {
  const file = path.join(dir, 'lock');
  if (heldHere.has(file)) throw lockedError(dir, process.pid, true);
  heldHere.add(file); // synchronously, before any await, against a concurrent open() here
  const mine = `${JSON.stringify({ pid: process.pid, start: startTimeOf(process.pid) })}\n`;
  // Written whole under a temp name and link()ed into place: the lock never
  // appears empty or half-written, and link() fails atomically if one exists.
  const tmp = `${file}.${process.pid}.${randomUUID()}`;
  try {
    await writeFileDurable(tmp, mine);
    for (let attempt = 0; ; attempt++) {
      try {
        await fsp.link(tmp, file);
        break;
      } catch (err) {
        if (errCode(err) !== 'EEXIST' || attempt >= 5) throw err;
      }
      const text = (await readIfExists(file))?.toString('utf8');
      if (text === undefined) continue; // released meanwhile
      const holder = parseHolder(text);
      if (holder && isAlive(holder)) throw lockedError(dir, holder.pid, false);
      // Stale. Move it aside under a unique name so that of several takers only
      // one gets this file, then check it is still the stale one we judged.
      const aside = `${file}.stale.${randomUUID()}`;
      try {
        await fsp.rename(file, aside);
      } catch (err) {
        if (errCode(err) === 'ENOENT') continue;
        throw err;
      }
      if ((await fsp.readFile(aside, 'utf8')) !== text) await fsp.link(aside, file).catch(() => {}); // a fresh lock: put it back
      else logger?.warn({ dir, stalePid: holder?.pid ?? null }, 'file store: taking over a stale lock');
      await fsp.unlink(aside);
    }
    await syncDir(dir);
  } catch (err) {
    heldHere.delete(file);
    throw err;
  } finally {
    await fsp.rm(tmp, { force: true });
  }
  return async () => {
    try {
      if ((await readIfExists(file))?.toString('utf8') === mine) await fsp.unlink(file);
    } finally {
      heldHere.delete(file);
    }
  };
}
