import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeSnapshot, errCode, snapshotChunks, writeFileAtomic } from './file-store-io.js';
import type { StoreSnapshot } from './store.js';

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Saves follow each other at least this far apart (ms). */
const MIN_GAP_MS = 250;

/**
 * The last table a node applied from a remote store, kept on local disk
 * (atomic write, sha256 checksum) so a node restarted while the store is
 * unreachable serves what it served before instead of nothing. Saves are
 * coalesced: only the newest pending snapshot is written.
 */
export class LastKnownGood {
  readonly file: string;
  readonly #log: Log;
  #pending: StoreSnapshot | null = null;
  #writing: Promise<void> | null = null;
  #savedRevision = -1;
  /** Earliest start of the next save (performance.now()). */
  #notBefore = 0;
  /** Set when the last save failed (disk full, permissions): reported, serving goes on. */
  lastError: string | null = null;
  /** Called on every failed save (the gateway counts them in switchyard_state_write_errors_total). */
  onWriteError: ((err: Error) => void) | null = null;

  constructor(file: string, log: Log) {
    this.file = file;
    this.#log = log;
  }

  /** The saved snapshot, or null when there is none or it fails its checksum (logged). */
  async load(): Promise<StoreSnapshot | null> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (err) {
      if (errCode(err) === 'ENOENT') return null;
      this.#log.error({ file: this.file, err: (err as Error).message }, 'cannot read the last-known-good snapshot');
      return null;
    }
    try {
      const s = decodeSnapshot(text, this.file);
      this.#savedRevision = s.revision;
      return Object.freeze(s);
    } catch (err) {
      this.#log.error({ file: this.file, err: (err as Error).message }, 'last-known-good snapshot rejected');
      return null;
    }
  }

  /** Queues `snapshot` for writing; returns once it (or a newer one) is on disk or failed. */
  save(snapshot: StoreSnapshot): Promise<void> {
    if (snapshot.revision <= this.#savedRevision && !this.#pending) return Promise.resolve();
    this.#pending = snapshot;
    this.#writing ??= this.#drain().finally(() => (this.#writing = null));
    return this.#writing;
  }

  async #drain(): Promise<void> {
    while (this.#pending) {
      const wait = this.#notBefore - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
      const s = this.#pending;
      this.#pending = null;
      try {
        await fsp.mkdir(path.dirname(this.file), { recursive: true });
        // Encoding costs CPU (~0.1 s for 100 000 routes) and each save two
        // fsyncs (on the disk etcd may share): while the table keeps
        // changing, the next save waits 4x the encoding time and at least
        // MIN_GAP_MS. A save after a quiet spell starts at once.
        let cpuMs = 0;
        const chunks = snapshotChunks(s.revision, s.routes, s.upstreams);
        const timed = { *[Symbol.iterator]() {
          for (;;) {
            const t0 = performance.now();
            const next = chunks.next();
            cpuMs += performance.now() - t0;
            if (next.done) return;
            yield next.value;
          }
        } };
        await writeFileAtomic(this.file, timed);
        this.#notBefore = performance.now() + Math.max(MIN_GAP_MS, 4 * cpuMs);
        this.#savedRevision = s.revision;
        if (this.lastError) this.#log.info({ file: this.file }, 'last-known-good snapshot written again');
        this.lastError = null;
      } catch (err) {
        this.lastError = (err as Error).message;
        this.#log.error({ file: this.file, err: this.lastError }, 'cannot write the last-known-good snapshot; serving continues');
        this.onWriteError?.(err as Error);
      }
    }
  }
}
