// The embedded store (`--store file:DIR`, CONTRACT §1): a write-ahead log
// plus a compacted snapshot, see file-store-io.ts for the format.
//
// Durability: a write is acknowledged only after its log line is fdatasync'ed,
// and a crash can only tear the unacknowledged tail of the log, which open()
// cuts off. Writes go through one queue, so revision order is log order; the
// writes that pile up while one batch is being synced are committed together
// (group commit: one write + one fdatasync for all of them).
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { ResourceKind } from '../resources.js';
import {
  corrupt, decodeSnapshot, encodeRecord, encodeSnapshot, parseLog, readIfExists, syncDir, writeAll, writeFileDurable,
  type DecodedSnapshot, type LogRecord,
} from './file-store-io.js';
import { acquireLock } from './file-store-lock.js';
import {
  ConflictError, NotFoundError, PreconditionFailedError, StoreUnavailableError, routeUpstreamOf,
  type Store, type StoredEntry, type StoreSnapshot, type WriteOptions,
} from './store.js';

export interface FileStoreOptions {
  logger?: { warn(obj: object, msg: string): void };
  /** Compact once the log outgrows max(this, the last snapshot). Default 4 MiB. */
  compactAfterBytes?: number;
}

const WAL = 'wal.jsonl';
const SNAPSHOT = 'snapshot.json';

/** A Map that refuses changes once built: emitted snapshots are shared by every consumer. */
class FrozenMap<K, V> extends Map<K, V> {
  #sealed = false;
  constructor(from: Iterable<[K, V]>) {
    super();
    for (const [k, v] of from) super.set(k, v);
    this.#sealed = true;
  }
  override set(k: K, v: V): this {
    if (this.#sealed) throw new TypeError('store snapshots are immutable');
    return super.set(k, v);
  }
  override delete(): boolean {
    throw new TypeError('store snapshots are immutable');
  }
  override clear(): void {
    throw new TypeError('store snapshots are immutable');
  }
}

interface Op {
  kind: ResourceKind;
  id: string;
  raw: string | null; // null = delete
  ifRevision: number | undefined;
  resolve(rev: number): void;
  reject(err: Error): void;
}

/** routeUpstreamOf parses JSON; entries are immutable, so parse each once (upstream deletes scan all routes). */
const upstreamCache = new WeakMap<StoredEntry, string | null>();
function upstreamOf(e: StoredEntry): string | null {
  let u = upstreamCache.get(e);
  if (u === undefined) upstreamCache.set(e, (u = routeUpstreamOf(e.raw)));
  return u;
}

export class FileStore implements Store {
  readonly kind = 'file' as const;
  readonly connected = true;

  private readonly maps: Record<ResourceKind, Map<string, StoredEntry>>;
  private revision: number;
  private snap: StoreSnapshot;
  private readonly dirty = { routes: false, upstreams: false };
  private walSize: number;
  private snapSize: number;
  private pending: Op[] = [];
  private flushQueued = false;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly watchers = new Set<(s: StoreSnapshot) => void>();
  private closing: Promise<void> | null = null;
  /** Set after an I/O error on the log: the on-disk state is unknown, so stop writing. */
  private failed: Error | null = null;

  private constructor(
    readonly dir: string,
    private readonly wal: FileHandle,
    private readonly release: () => Promise<void>,
    state: DecodedSnapshot,
    sizes: { wal: number; snapshot: number },
    private readonly opts: FileStoreOptions,
  ) {
    this.maps = { routes: state.routes, upstreams: state.upstreams };
    this.revision = state.revision;
    this.snap = Object.freeze({ revision: state.revision, routes: new FrozenMap(state.routes), upstreams: new FrozenMap(state.upstreams) });
    this.walSize = sizes.wal;
    this.snapSize = sizes.snapshot;
  }

  static async open(dir: string, opts: FileStoreOptions = {}): Promise<FileStore> {
    await fsp.mkdir(dir, { recursive: true });
    const real = await fsp.realpath(dir); // one lock identity however the dir is spelled
    const release = await acquireLock(real, opts.logger);
    try {
      const snapFile = path.join(real, SNAPSHOT);
      const walFile = path.join(real, WAL);
      await fsp.rm(`${snapFile}.tmp`, { force: true }); // a compaction cut short
      const snapText = (await readIfExists(snapFile))?.toString('utf8');
      const state: DecodedSnapshot = snapText === undefined
        ? { revision: 0, routes: new Map(), upstreams: new Map() }
        : decodeSnapshot(snapText, snapFile);
      const walBuf = (await readIfExists(walFile)) ?? Buffer.alloc(0);
      const { records, goodBytes } = parseLog(walBuf, walFile);
      for (const r of records) {
        if (r.rev <= state.revision) continue; // already in the snapshot: compaction died before truncating the log
        if (r.rev !== state.revision + 1) throw corrupt(walFile, `revision jumps from ${state.revision} to ${r.rev}`);
        apply(state, r);
      }
      const wal = await fsp.open(walFile, 'a');
      try {
        if (goodBytes < walBuf.length) {
          opts.logger?.warn({ file: walFile, bytes: walBuf.length - goodBytes }, 'file store: dropping a torn, unacknowledged write at the end of the log');
          await wal.truncate(goodBytes);
          await wal.datasync();
        }
        await syncDir(real); // the log's directory entry, if it was just created
      } catch (err) {
        await wal.close();
        throw err;
      }
      return new FileStore(real, wal, release, state, { wal: goodBytes, snapshot: snapText === undefined ? 0 : Buffer.byteLength(snapText) }, opts);
    } catch (err) {
      await release();
      throw err;
    }
  }

  load(): Promise<StoreSnapshot> {
    return this.closing ? Promise.reject(closedError()) : Promise.resolve(this.current());
  }

  get(kind: ResourceKind, id: string): Promise<StoredEntry | null> {
    return this.closing ? Promise.reject(closedError()) : Promise.resolve(this.maps[kind].get(id) ?? null);
  }

  watch(onSnapshot: (snapshot: StoreSnapshot) => void, signal: AbortSignal): void {
    if (signal.aborted || this.closing) return;
    const w = (s: StoreSnapshot) => onSnapshot(s); // own identity: one listener may watch twice
    this.watchers.add(w);
    signal.addEventListener('abort', () => this.watchers.delete(w), { once: true });
  }

  put(kind: ResourceKind, id: string, value: unknown, opts?: WriteOptions): Promise<number> {
    let raw: string | undefined;
    try {
      raw = JSON.stringify(value);
    } catch (err) {
      return Promise.reject(err);
    }
    if (typeof raw !== 'string') return Promise.reject(new TypeError(`cannot store ${typeof value}`));
    return this.enqueue(kind, id, raw, opts);
  }

  delete(kind: ResourceKind, id: string, opts?: WriteOptions): Promise<number> {
    return this.enqueue(kind, id, null, opts);
  }

  /** Writes a snapshot and empties the log. Runs by itself when the log grows; public for tests and tools. */
  compact(): Promise<void> {
    return this.closing ? Promise.reject(closedError()) : this.exclusive(() => this.compactNow());
  }

  close(): Promise<void> {
    // Writes queued before close() still commit: they are ahead in the queue.
    if (!this.closing) {
      this.watchers.clear();
      this.closing = this.exclusive(async () => {
        try {
          await this.wal.close();
        } finally {
          await this.release();
        }
      });
    }
    return this.closing;
  }

  private current(): StoreSnapshot {
    if (this.snap.revision !== this.revision) {
      // Copy-on-write: only the kinds written since the last snapshot are copied.
      const copy = (k: ResourceKind) => (this.dirty[k] ? new FrozenMap(this.maps[k]) : this.snap[k]);
      this.snap = Object.freeze({ revision: this.revision, routes: copy('routes'), upstreams: copy('upstreams') });
      this.dirty.routes = this.dirty.upstreams = false;
    }
    return this.snap;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => {});
    return run;
  }

  private enqueue(kind: ResourceKind, id: string, raw: string | null, opts?: WriteOptions): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.closing) return reject(closedError());
      if (this.failed) return reject(failedError(this.failed));
      if ((kind !== 'routes' && kind !== 'upstreams') || typeof id !== 'string') {
        return reject(new TypeError(`bad store key ${String(kind)}/${String(id)}`));
      }
      this.pending.push({ kind, id, raw, ifRevision: opts?.ifRevision, resolve, reject });
      if (!this.flushQueued) {
        this.flushQueued = true;
        void this.exclusive(() => this.flush());
      }
    });
  }

  /** Commits everything queued so far as one batch; never throws (each op is settled). */
  private async flush(): Promise<void> {
    this.flushQueued = false;
    const batch = this.pending;
    this.pending = [];
    if (this.failed) return batch.forEach((op) => op.reject(failedError(this.failed!)));

    // Checks run in order against the committed state plus the batch so far,
    // exactly as if each op were committed alone.
    const overlay = new Map<string, StoredEntry | null>(); // `${kind}/${id}` -> entry, null = deleted
    const lookup = (kind: ResourceKind, id: string) => {
      const o = overlay.get(`${kind}/${id}`);
      return o !== undefined ? o : this.maps[kind].get(id) ?? null;
    };
    const settle: Array<() => void> = [];
    let text = '';
    let rev = this.revision;
    for (const op of batch) {
      const entry = lookup(op.kind, op.id);
      const err = this.precheck(op, entry, overlay);
      if (err) {
        settle.push(() => op.reject(err));
        continue;
      }
      const r = ++rev;
      const rec: LogRecord = { rev: r, op: op.raw === null ? 'delete' : 'put', kind: op.kind, id: op.id };
      if (op.raw !== null) rec.raw = op.raw;
      text += encodeRecord(rec);
      overlay.set(`${op.kind}/${op.id}`, op.raw === null ? null : Object.freeze({ id: op.id, raw: op.raw, modRevision: r }));
      settle.push(() => op.resolve(r));
    }

    if (text) {
      try {
        await this.append(text);
      } catch (err) {
        // Checks made against this batch's writes are void too: reject them all.
        return batch.forEach((op) => op.reject(failedError(err as Error)));
      }
      for (const [key, e] of overlay) {
        const kind = key.slice(0, key.indexOf('/')) as ResourceKind;
        const id = key.slice(kind.length + 1);
        if (e) this.maps[kind].set(id, e);
        else this.maps[kind].delete(id);
        this.dirty[kind] = true;
      }
      this.revision = rev;
      // Listeners run before any write of the batch resolves (Store contract).
      if (this.watchers.size) {
        const s = this.current();
        for (const w of [...this.watchers]) {
          try {
            w(s);
          } catch (err) {
            this.opts.logger?.warn({ err }, 'file store: watch listener threw');
          }
        }
      }
    }
    settle.forEach((f) => f());

    if (this.walSize > Math.max(this.opts.compactAfterBytes ?? 4 << 20, this.snapSize)) {
      await this.compactNow().catch((err: unknown) => this.opts.logger?.warn({ err }, 'file store: compaction failed'));
    }
  }

  private precheck(op: Op, entry: StoredEntry | null, overlay: Map<string, StoredEntry | null>): Error | null {
    const current = entry?.modRevision ?? 0;
    const what = `${op.kind === 'routes' ? 'route' : 'upstream'} "${op.id}"`;
    if (op.ifRevision !== undefined && op.ifRevision !== current) {
      return new PreconditionFailedError(
        `${what} ${current ? `is at revision ${current}` : 'does not exist'}, expected ${op.ifRevision || 'it not to exist'}`,
        current,
      );
    }
    if (op.raw !== null) return null;
    if (!entry) return new NotFoundError(`${what} not found`);
    if (op.kind !== 'upstreams') return null;
    const users: string[] = [];
    for (const [id, e] of this.maps.routes) if (!overlay.has(`routes/${id}`) && upstreamOf(e) === op.id) users.push(id);
    for (const [key, e] of overlay) if (e && key.startsWith('routes/') && upstreamOf(e) === op.id) users.push(e.id);
    if (!users.length) return null;
    users.sort();
    const named = users.slice(0, 10).join(', ') + (users.length > 10 ? ` and ${users.length - 10} more` : '');
    return new ConflictError(`${what} is used by route${users.length > 1 ? 's' : ''} ${named}`);
  }

  private async append(text: string): Promise<void> {
    const buf = Buffer.from(text);
    try {
      await writeAll(this.wal, buf);
      await this.wal.datasync();
      this.walSize += buf.length;
    } catch (err) {
      // After a failed write or fsync the file's contents are unknown (a later
      // fsync may "succeed" over lost pages), so refuse further writes; cutting
      // the partial batch off keeps the log loadable.
      this.failed = err as Error;
      await this.wal.truncate(this.walSize).then(() => this.wal.datasync()).catch(() => {});
      throw err;
    }
  }

  /** Must run inside the queue: the log is not appended to meanwhile. */
  private async compactNow(): Promise<void> {
    const file = path.join(this.dir, SNAPSHOT);
    const text = encodeSnapshot(this.revision, this.maps.routes, this.maps.upstreams);
    await writeFileDurable(`${file}.tmp`, text);
    await fsp.rename(`${file}.tmp`, file);
    await syncDir(this.dir);
    this.snapSize = Buffer.byteLength(text);
    // The snapshot now holds all the log does; if we die before the truncate,
    // open() skips log lines at or below the snapshot's revision.
    try {
      await this.wal.truncate(0);
      await this.wal.datasync();
      this.walSize = 0;
    } catch (err) {
      this.failed = err as Error;
      throw err;
    }
  }
}

function apply(state: DecodedSnapshot, r: LogRecord): void {
  if (r.op === 'put') state[r.kind].set(r.id, Object.freeze({ id: r.id, raw: r.raw!, modRevision: r.rev }));
  else state[r.kind].delete(r.id);
  state.revision = r.rev;
}

const closedError = () => new StoreUnavailableError('file store is closed');
const failedError = (err: Error) =>
  new StoreUnavailableError(`file store stopped accepting writes after an I/O error (${err.message}); restart the gateway`);
