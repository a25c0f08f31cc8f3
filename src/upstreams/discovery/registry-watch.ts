// Every gateway node on etcd follows `<prefix>registry/` with one watch of
// its own (its own etcd3 client, so it never shares fate or backoff with the
// config store's watch). List at revision R, watch from R+1; when the watch
// ends for any reason (an 'error' is how etcd3 reports a compacted start
// revision, ETCD-NOTES #8) list again and start over, backing off to 1 s
// while etcd is away. Registrations survive an outage in etcd (leases are
// re-extended, notes #16), so the last known set keeps serving meanwhile.
import { Etcd3, type IKeyValue } from 'etcd3';
import type { Logger } from 'pino';
import { etcdClientOptions, followWatcher, type EtcdConnectOptions, type WatchEnd } from '../../control/etcd-client.js';
import { parseRegistration, REGISTRY_DIR, type RegisteredTarget } from './registry-keys.js';

type Listener = () => void;

export class RegistryWatch {
  /** Registrations by id (`<upstream>/<pool>/<encoded origin>`). Replaced, never mutated, on change. */
  entries: ReadonlyMap<string, RegisteredTarget> = new Map();
  /** True once the first full list arrived. */
  synced = false;
  state: 'syncing' | 'ok' | 'resyncing' = 'syncing';
  error: string | null = null;

  readonly #connect: EtcdConnectOptions;
  readonly #prefix: string;
  readonly #log: Logger;
  readonly #listeners = new Set<Listener>();
  readonly #ctl = new AbortController();
  #client: Etcd3 | null = null;
  #started = false;

  constructor(connect: EtcdConnectOptions, prefix: string, logger: Logger) {
    this.#connect = connect;
    this.#prefix = `${prefix}${REGISTRY_DIR}`;
    this.#log = logger;
  }

  /** `fn` runs after every change of `entries`. Returns the unsubscribe function. */
  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    void this.#loop(this.#ctl.signal).catch((err: unknown) => this.#log.error({ err }, 'registry watch: loop failed'));
  }

  #notify(): void {
    for (const fn of [...this.#listeners]) {
      try {
        fn();
      } catch (err) {
        this.#log.error({ err }, 'registry watch: listener threw');
      }
    }
  }

  #parse(kv: IKeyValue): RegisteredTarget | null {
    const id = kv.key.toString('utf8').slice(this.#prefix.length);
    const reg = parseRegistration(id, kv.value.toString('utf8'));
    if (!reg) this.#log.warn({ key: kv.key.toString('utf8') }, 'registry watch: ignoring a key that is not <upstream>/<pool>/<encoded http(s) URL>');
    return reg;
  }

  #set(next: Map<string, RegisteredTarget>): void {
    const prev = this.entries;
    let same = prev.size === next.size;
    if (same) {
      for (const [id, r] of next) {
        const p = prev.get(id);
        if (!p || p.draining !== r.draining) {
          same = false;
          break;
        }
      }
    }
    if (same) return;
    this.entries = next;
    this.#notify();
  }

  #ensureClient(): Etcd3 {
    return (this.#client ??= new Etcd3(etcdClientOptions(this.#connect)));
  }

  #dropClient(): void {
    this.#client?.close();
    this.#client = null;
  }

  async #loop(signal: AbortSignal): Promise<void> {
    let backoff = 0;
    while (!signal.aborted) {
      let revision: number;
      try {
        const res = await this.#ensureClient().getAll().prefix(this.#prefix).options({ deadline: Date.now() + this.#connect.requestTimeoutMs }).exec();
        if (signal.aborted) return;
        revision = Number(res.header.revision);
        const next = new Map<string, RegisteredTarget>();
        for (const kv of res.kvs) {
          const r = this.#parse(kv);
          if (r) next.set(r.id, r);
        }
        if (this.error) this.#log.info({ registered: next.size }, 'registry watch: listed again after a failure');
        this.error = null;
        this.state = 'ok';
        const first = !this.synced;
        this.synced = true;
        this.#set(next);
        if (first) this.#notify(); // settles the registry pools even when the set is empty
      } catch (err) {
        if (signal.aborted) return;
        const msg = (err as Error).message;
        if (msg !== this.error) this.#log.warn({ err: msg }, 'registry watch: cannot list registrations; retrying (the last known set keeps serving)');
        this.error = msg;
        this.state = this.synced ? 'resyncing' : 'syncing';
        this.#dropClient();
        backoff = Math.min(1000, Math.max(100, backoff * 2));
        await sleep(backoff, signal);
        continue;
      }
      const end = await this.#watchOnce(revision + 1, signal);
      if (signal.aborted) return;
      this.#log.info({ reason: end.reason, err: end.err === undefined ? undefined : ((end.err as Error).message ?? String(end.err)) }, 'registry watch: watch ended; listing again');
      this.state = 'resyncing';
      if (end.reason !== 'disconnected') this.#dropClient();
      backoff = end.connectedAt !== null && Date.now() - end.connectedAt > 1000 ? 0 : Math.min(1000, Math.max(100, backoff * 2));
      if (backoff) await sleep(backoff, signal);
    }
  }

  /** One watcher from `from`; resolves when it ends, for whatever reason. */
  #watchOnce(from: number, signal: AbortSignal): Promise<WatchEnd> {
    const watcher = this.#ensureClient().watch().prefix(this.#prefix).startRevision(String(from)).watcher();
    const { ended } = followWatcher(watcher, this.#connect.requestTimeoutMs, signal, { connected: () => (this.state = 'ok') });
    watcher.on('put', (kv) => {
      const r = this.#parse(kv);
      const next = new Map(this.entries);
      const id = kv.key.toString('utf8').slice(this.#prefix.length);
      if (r) next.set(id, r);
      else next.delete(id);
      this.#set(next);
    });
    watcher.on('delete', (kv) => {
      const id = kv.key.toString('utf8').slice(this.#prefix.length);
      if (!this.entries.has(id)) return;
      const next = new Map(this.entries);
      next.delete(id);
      this.#set(next);
    });
    return ended;
  }

  async close(): Promise<void> {
    this.#ctl.abort();
    this.#listeners.clear();
    this.#dropClient();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
