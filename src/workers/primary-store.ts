import type { ResourceKind } from '../resources.js';
import { StoreError, type Store, type StoreSnapshot, type StoredEntry } from '../control/store.js';

/**
 * A worker's view of the store: the snapshots its primary forwards. Workers
 * never write (the admin API lives in the primary), so writes are refused.
 */
export class PrimaryStore implements Store {
  readonly kind = 'file' as const;
  readonly connected = true;
  #latest: StoreSnapshot | null = null;
  /** The snapshot load() resolved with (see watch()). */
  #loaded: StoreSnapshot | null = null;
  #waiting: ((s: StoreSnapshot) => void)[] = [];
  readonly #listeners = new Set<(s: StoreSnapshot) => void>();

  /** Called for every snapshot the primary sends. */
  deliver(s: StoreSnapshot): void {
    this.#latest = s;
    if (this.#waiting.length) this.#loaded = s;
    for (const w of this.#waiting.splice(0)) w(s);
    for (const l of this.#listeners) l(s);
  }

  load(): Promise<StoreSnapshot> {
    if (this.#latest) this.#loaded = this.#latest;
    return this.#latest ? Promise.resolve(this.#latest) : new Promise((r) => this.#waiting.push(r));
  }

  /**
   * Several IPC messages read at once are emitted back to back, before the
   * caller of load() resumes: a snapshot that came after the one load()
   * resolved with, but before this watch, is handed over here, not dropped.
   */
  watch(onSnapshot: (s: StoreSnapshot) => void, signal: AbortSignal): void {
    this.#listeners.add(onSnapshot);
    signal.addEventListener('abort', () => this.#listeners.delete(onSnapshot), { once: true });
    if (this.#latest && this.#latest !== this.#loaded) onSnapshot(this.#latest);
  }

  get(_kind: ResourceKind, _id: string): Promise<StoredEntry | null> {
    return Promise.reject(new StoreError('workers do not read the store', 'not_supported'));
  }

  put(): Promise<number> {
    return Promise.reject(new StoreError('workers do not write the store', 'not_supported'));
  }

  delete(): Promise<number> {
    return Promise.reject(new StoreError('workers do not write the store', 'not_supported'));
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}
