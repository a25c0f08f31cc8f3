// The etcd store (`--store etcd://H:P[,H:P...]`, CONTRACT §1): routes and
// upstreams under `<prefix>routes/<id>` and `<prefix>upstreams/<name>`, the
// value being the stored JSON text verbatim.
//
// Reads: load() is one range read over [<prefix>routes/, <prefix>upstreams0)
// at one revision R (the response header's). The watch follows that range from
// R+1 and applies events in order to a copy-on-write snapshot; everything that
// arrives in one watch response or before the next setImmediate is delivered
// as one snapshot (latest wins). On any doubt (watcher 'error', e.g. a
// compacted start revision; 'disconnected'; a reconnect; events out of order;
// a write that never shows up on the watch) the watch is dropped, everything is
// listed again at a fresh revision, that snapshot is delivered if it differs
// from the last one delivered, and a new watch starts at its revision + 1. The
// abandoned watcher is cancelled and stripped of listeners, so nothing etcd3
// replays into it on its own reconnect can reach the snapshot. Watchers run on
// a client of their own, whose per-host circuit breakers learn from failed
// watch streams which cluster member is dead.
//
// Writes are txns so they return the revision they produced and can be
// conditional (mod_revision compare). Deleting an upstream compares, in the
// same txn, that no key under routes/ was created or changed since the
// revision at which the routes were checked (a range compare: one op however
// many routes exist), and retries with the fresh routes if one was.
//
// Deadlines: every call carries an absolute deadline of requestTimeoutMs, plus
// a local timer 500 ms later in case the client itself hangs, so a write
// against a dead or hung etcd rejects with StoreUnavailableError in bounded
// time; it never resolves unless etcd committed it.
import {
  Etcd3, GRPCDeadlineExceededError, type ICompare, type IKeyValue, type IOptions, type IRangeRequest, type IRequestOp,
  type ITxnResponse, type IWatchResponse,
} from 'etcd3';
import type { ResourceKind } from '../resources.js';
import { etcdClientOptions, followWatcher, isAuthError, isUnreachable, prefixEnd, type WatchEnd } from './etcd-client.js';
import {
  ConflictError, NotFoundError, PreconditionFailedError, StoreError, StoreUnavailableError, routeUpstreamOf,
  type SnapshotChanges, type Store, type StoredEntry, type StoreSnapshot, type WriteOptions,
} from './store.js';
import { OverlayMap } from './overlay-map.js';

export interface EtcdStoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface EtcdStoreOptions {
  /** Client URLs, e.g. ['http://127.0.0.1:2379'] (see parseEtcdUri). */
  endpoints: string[];
  /** Key prefix, e.g. '/switchyard/'. */
  prefix: string;
  /** TLS material; when given, endpoints are contacted over https. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
  /** Deadline of every etcd call. Default 3000. */
  requestTimeoutMs?: number;
  /** Keys per range read when listing everything (default READ_PAGE). */
  readPage?: number;
  logger?: EtcdStoreLogger;
}

/** `etcd://h:p,h:p` or `etcds://h:p` -> client URLs (port 2379 when omitted). */
export function parseEtcdUri(uri: string): { endpoints: string[]; tls: boolean } {
  const m = /^(etcds?):\/\/(.*)$/i.exec(uri.trim());
  if (!m) throw new Error(`not an etcd store URI: "${uri}" (expected etcd://HOST:PORT[,HOST:PORT...] or etcds://...)`);
  const tls = m[1]!.toLowerCase() === 'etcds';
  const rest = m[2]!.replace(/\/+$/, '');
  if (!rest) throw new Error(`etcd store URI "${uri}" names no endpoint`);
  if (/[/?#@]/.test(rest)) {
    throw new Error(
      `etcd store URI "${uri}" may only list HOST:PORT pairs (credentials go in SWITCHYARD_ETCD_USER / SWITCHYARD_ETCD_PASSWORD)`,
    );
  }
  const endpoints = rest.split(',').map((raw) => {
    const part = raw.trim();
    const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(part);
    const hp = v6 ? null : /^([A-Za-z0-9.-]+)(?::(\d+))?$/.exec(part);
    const host = v6 ? `[${v6[1]}]` : hp?.[1];
    const portText = v6 ? v6[2] : hp?.[2];
    const port = portText === undefined ? 2379 : Number(portText);
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`etcd store URI "${uri}": bad endpoint "${part}" (expected HOST:PORT)`);
    }
    return `${tls ? 'https' : 'http'}://${host}:${port}`;
  });
  return { endpoints, tls };
}

function snapshotOf(revision: number, routes: ReadonlyMap<string, StoredEntry>, upstreams: ReadonlyMap<string, StoredEntry>, changes?: SnapshotChanges): StoreSnapshot {
  return Object.freeze(changes ? { revision, routes, upstreams, changes } : { revision, routes, upstreams });
}

function sameEntries(a: ReadonlyMap<string, StoredEntry>, b: ReadonlyMap<string, StoredEntry>): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (const [id, e] of a) {
    const o = b.get(id);
    if (!o || o.modRevision !== e.modRevision || o.raw !== e.raw) return false;
  }
  return true;
}

/** Keys per range read of a full load (~2 MB of routes). */
const READ_PAGE = 10_000;

const closedError = () => new StoreUnavailableError('etcd store is closed');
const nextBackoff = (ms: number) => (ms ? Math.min(1000, ms * 2) : 100);
const errMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Watch events not yet in a snapshot: per kind, id -> new entry or undefined (deleted). */
interface Pending {
  revision: number;
  routes: Map<string, StoredEntry | undefined> | null; // null = unchanged since #state
  upstreams: Map<string, StoredEntry | undefined> | null;
}

const quietLogger: EtcdStoreLogger = { info() {}, warn() {}, error() {} };

export class EtcdStore implements Store {
  readonly kind = 'etcd' as const;

  readonly #client: Etcd3;
  /** Client for watch streams only, created on the first watch. */
  #watchClient: Etcd3 | null = null;
  readonly #clientOptions: () => IOptions;
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #readPage: number;
  readonly #log: EtcdStoreLogger;
  readonly #rangeStart: Buffer; // <prefix>routes/
  readonly #rangeEnd: Buffer; // <prefix>upstreams0 (end of <prefix>upstreams/)
  readonly #routesStart: Buffer;
  readonly #routesEnd: Buffer;

  #connected = false;
  #closed = false;
  #closing: Promise<void> | null = null;
  #probing = false;

  /** The newest snapshot known (from a full read or the watch). */
  #state: StoreSnapshot | null = null;
  /** Watch events applied since #state, not yet turned into a snapshot. */
  #pending: Pending | null = null;
  #flushQueued = false;
  /** Watch events at or below this revision are already in #state (it came from a full read). */
  #skipThrough = 0;
  #delivered: StoreSnapshot | null = null;
  readonly #listeners = new Set<(s: StoreSnapshot) => void>();
  #watchCtl: AbortController | null = null;
  /** Ends the current watcher so the watch loop re-lists (set while a watcher runs). */
  #kick: ((why: string) => void) | null = null;
  #waiters: Array<{ rev: number; done: () => void }> = [];

  private constructor(opts: EtcdStoreOptions) {
    if (!opts.endpoints.length) throw new Error('etcd store: no endpoints');
    this.#prefix = opts.prefix;
    this.#timeout = opts.requestTimeoutMs ?? 3000;
    this.#readPage = opts.readPage ?? READ_PAGE;
    this.#log = opts.logger ?? quietLogger;
    const connect = { endpoints: opts.endpoints, tls: opts.tls, auth: opts.auth, requestTimeoutMs: this.#timeout };
    this.#clientOptions = () => etcdClientOptions(connect);
    this.#client = new Etcd3(this.#clientOptions());
    this.#rangeStart = Buffer.from(`${this.#prefix}routes/`);
    this.#rangeEnd = prefixEnd(Buffer.from(`${this.#prefix}upstreams/`));
    this.#routesStart = this.#rangeStart;
    this.#routesEnd = prefixEnd(this.#routesStart);
  }

  /**
   * Opens the store. An unreachable etcd is not an error (the gateway keeps
   * serving its last table; `connected` is false until etcd answers); bad
   * credentials are.
   */
  static async open(opts: EtcdStoreOptions): Promise<EtcdStore> {
    const store = new EtcdStore(opts);
    try {
      await store.#call('probe', (o) => store.#client.kv.range({ key: store.#rangeStart, range_end: store.#rangeEnd, count_only: true }, o), true);
    } catch (err) {
      if (err instanceof StoreUnavailableError && !isAuthError((err as { cause?: unknown }).cause)) {
        store.#log.warn({ err, endpoints: opts.endpoints }, 'etcd store: etcd is not reachable yet; continuing without it');
      } else {
        await store.close();
        throw err;
      }
    }
    return store;
  }

  /** False while etcd is unreachable: after a failed call or a dropped watch, until a call succeeds again. */
  get connected(): boolean {
    return this.#connected;
  }

  async load(): Promise<StoreSnapshot> {
    const snap = await this.#readAll();
    this.#absorb(snap);
    return snap;
  }

  async get(kind: ResourceKind, id: string): Promise<StoredEntry | null> {
    const key = this.#key(kind, id);
    const res = await this.#call('get', (o) => this.#client.kv.range({ key }, o), true);
    const kv = res.kvs[0];
    return kv ? Object.freeze({ id, raw: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) }) : null;
  }

  watch(onSnapshot: (snapshot: StoreSnapshot) => void, signal: AbortSignal): void {
    if (signal.aborted || this.#closed) return;
    const l = (s: StoreSnapshot) => onSnapshot(s); // own identity: one listener may watch twice
    this.#listeners.add(l);
    signal.addEventListener('abort', () => {
      this.#listeners.delete(l);
      if (!this.#listeners.size) this.#stopWatching();
    }, { once: true });
    this.#startWatching();
  }

  async put(kind: ResourceKind, id: string, value: unknown, opts?: WriteOptions): Promise<number> {
    const key = this.#key(kind, id);
    const raw = JSON.stringify(value);
    if (typeof raw !== 'string') throw new TypeError(`cannot store ${typeof value}`);
    const ifRevision = opts?.ifRevision;
    const compare: ICompare[] = ifRevision === undefined ? [] : [modEquals(key, ifRevision)];
    const res = await this.#txn('put', compare, [{ request_put: { key, value: Buffer.from(raw) } }], [{ request_range: { key } }]);
    if (!res.succeeded) throw preconditionFailed(kind, id, ifRevision!, rangeOf(res, 0)[0]);
    return this.#afterWrite(Number(res.header.revision));
  }

  async delete(kind: ResourceKind, id: string, opts?: WriteOptions): Promise<number> {
    const key = this.#key(kind, id);
    const ifRevision = opts?.ifRevision;
    if (kind === 'upstreams') return this.#deleteUpstream(key, id, ifRevision);
    // Exists (mod_revision > 0) and, if asked, is at ifRevision.
    const compare: ICompare[] = [modGreater(key, 0)];
    if (ifRevision !== undefined) compare.push(modEquals(key, ifRevision));
    const res = await this.#txn('delete', compare, [{ request_delete_range: { key } }], [{ request_range: { key } }]);
    if (!res.succeeded) {
      const cur = rangeOf(res, 0)[0];
      if (ifRevision !== undefined && ifRevision !== modOf(cur)) throw preconditionFailed(kind, id, ifRevision, cur);
      throw new NotFoundError(`${what(kind, id)} not found`);
    }
    return this.#afterWrite(Number(res.header.revision));
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closed = true;
      this.#listeners.clear();
      this.#stopWatching();
      this.#closing = Promise.resolve().then(() => {
        this.#client.close();
        this.#watchClient?.close();
      });
    }
    return this.#closing;
  }

  // ---- writes -------------------------------------------------------------

  /**
   * Deletes an upstream unless a route uses it, atomically: the routes are read
   * at revision R, and the delete txn also compares that every key under
   * routes/ has mod_revision < R+1 (range compare; a deleted route can only
   * make the check more permissive). If a route changed meanwhile, the txn's
   * else branch returns the fresh upstream and routes and the check runs again.
   */
  async #deleteUpstream(key: Buffer, id: string, ifRevision: number | undefined): Promise<number> {
    const routes: IRangeRequest = { key: this.#routesStart, range_end: this.#routesEnd };
    const read: IRequestOp[] = [{ request_range: { key } }, { request_range: routes }];
    let res = await this.#txn('delete', [], read, [], true);
    for (let attempt = 0; ; attempt++) {
      const rev = Number(res.header.revision);
      const cur = rangeOf(res, 0)[0];
      if (ifRevision !== undefined && ifRevision !== modOf(cur)) throw preconditionFailed('upstreams', id, ifRevision, cur);
      if (!cur) throw new NotFoundError(`${what('upstreams', id)} not found`);
      const users: string[] = [];
      for (const kv of rangeOf(res, 1)) {
        const routeId = kv.key.toString('utf8').slice(this.#routesStart.length);
        if (!routeId.includes('/') && routeUpstreamOf(kv.value.toString('utf8')) === id) users.push(routeId);
      }
      if (users.length) {
        users.sort();
        const named = users.slice(0, 10).join(', ') + (users.length > 10 ? ` and ${users.length - 10} more` : '');
        throw new ConflictError(`${what('upstreams', id)} is used by route${users.length > 1 ? 's' : ''} ${named}`);
      }
      if (attempt >= 20) throw new StoreUnavailableError(`${what('upstreams', id)}: routes kept changing during the delete; try again`);
      const compare: ICompare[] = [
        modEquals(key, modOf(cur)),
        { key: this.#routesStart, range_end: this.#routesEnd, target: 'Mod', result: 'Less', mod_revision: String(rev + 1) } as ICompare,
      ];
      res = await this.#txn('delete', compare, [{ request_delete_range: { key } }], read);
      if (res.succeeded) return this.#afterWrite(Number(res.header.revision));
    }
  }

  #txn(what: string, compare: ICompare[], success: IRequestOp[], failure: IRequestOp[], readOnly = false): Promise<ITxnResponse> {
    return this.#call(what, (o) => this.#client.kv.txn({ compare, success, failure }, o), readOnly);
  }

  /**
   * Store contract: while someone watches, a write resolves only once its
   * snapshot was delivered. If the watch does not show it within the request
   * timeout (it is broken in a way nobody noticed), re-list and resolve anyway:
   * the write is durable.
   */
  #afterWrite(rev: number): Promise<number> | number {
    if (!this.#watchCtl || this.#closed || (this.#state?.revision ?? 0) >= rev) return rev;
    return new Promise((resolve) => {
      const waiter = {
        rev,
        done: () => {
          clearTimeout(timer);
          resolve(rev);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        this.#log.warn({ revision: rev }, 'etcd store: a write did not show up on the watch in time; re-listing');
        this.#requestResync('write not seen on the watch');
        resolve(rev);
      }, this.#timeout);
      this.#waiters.push(waiter);
    });
  }

  #releaseWaiters(all = false): void {
    if (!this.#waiters.length) return;
    const upTo = all ? Infinity : (this.#state?.revision ?? 0);
    const ready = this.#waiters.filter((w) => w.rev <= upTo);
    if (!ready.length) return;
    this.#waiters = this.#waiters.filter((w) => w.rev > upTo);
    for (const w of ready) w.done();
  }

  // ---- calls --------------------------------------------------------------

  /**
   * Runs one etcd call with an absolute deadline (retries inside etcd3 cannot
   * extend it) and a local timer as a backstop. Reads (`idempotent`) are tried
   * again on a connection error while time is left; writes never are: etcd may
   * have applied them.
   */
  #call<T>(op: string, fn: (o: { deadline: number }) => Promise<T>, idempotent: boolean): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    const deadline = Date.now() + this.#timeout;
    const attempt = async (): Promise<T> => {
      for (let n = 1; ; n++) {
        try {
          return await fn({ deadline });
        } catch (err) {
          const retry = idempotent && n < 3 && !this.#closed && isUnreachable(err)
            && !(err instanceof GRPCDeadlineExceededError) && deadline - Date.now() > 100;
          if (!retry) throw err;
          await sleep(25);
        }
      }
    };
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(this.#failure(op, new Error(`no answer from etcd within ${this.#timeout} ms`), true));
      }, this.#timeout + 500);
      attempt().then(
        (r) => {
          clearTimeout(timer);
          if (!this.#closed) this.#setConnected(true, 'call');
          resolve(r);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(this.#failure(op, err));
        },
      );
    });
  }

  #failure(op: string, err: unknown, timedOut = false): Error {
    if (this.#closed) return closedError();
    if (err instanceof StoreError) return err;
    if (timedOut || isUnreachable(err)) {
      this.#setConnected(false, 'call', err);
      return withCause(new StoreUnavailableError(`etcd ${op} failed: ${errMessage(err)}`), err);
    }
    if (isAuthError(err)) return withCause(new StoreUnavailableError(`etcd ${op} refused: ${errMessage(err)}`), err);
    return withCause(new StoreError(`etcd ${op} failed: ${errMessage(err)}`, 'store_error'), err);
  }

  #setConnected(up: boolean, source: 'call' | 'watch', err?: unknown): void {
    if (up === this.#connected) return;
    this.#connected = up;
    if (up) {
      this.#log.info({}, 'etcd store: connected to etcd');
      // A call got through again: the watch may have been cut meanwhile.
      if (source === 'call') this.#requestResync('reconnected');
    } else {
      this.#log.warn({ err }, 'etcd store: etcd is unreachable');
      void this.#probe();
    }
  }

  /** While disconnected, polls etcd with a cheap read so `connected` comes back without other traffic. */
  async #probe(): Promise<void> {
    if (this.#probing) return;
    this.#probing = true;
    try {
      let backoff = 0;
      while (!this.#connected && !this.#closed) {
        backoff = nextBackoff(backoff);
        await sleep(backoff);
        if (this.#connected || this.#closed) break;
        await this.#call('probe', (o) => this.#client.kv.range({ key: this.#rangeStart, range_end: this.#rangeEnd, count_only: true }, o), false)
          .catch(() => {});
      }
    } finally {
      this.#probing = false;
    }
  }

  // ---- snapshots ------------------------------------------------------------

  #key(kind: ResourceKind, id: string): Buffer {
    if ((kind !== 'routes' && kind !== 'upstreams') || typeof id !== 'string' || !id || id.includes('/')) {
      throw new TypeError(`bad store key ${String(kind)}/${String(id)}`);
    }
    return Buffer.from(`${this.#prefix}${kind}/${id}`);
  }

  /** kind and id of a key in the watched range, or null for any other key (e.g. `routes/a/b`). */
  #parseKey(key: Buffer): { kind: ResourceKind; id: string } | null {
    const k = key.toString('utf8');
    if (!k.startsWith(this.#prefix)) return null;
    const rest = k.slice(this.#prefix.length);
    const slash = rest.indexOf('/');
    const kind = rest.slice(0, slash);
    const id = rest.slice(slash + 1);
    if ((kind !== 'routes' && kind !== 'upstreams') || !id || id.includes('/')) return null;
    return { kind, id };
  }

  /**
   * Everything at one revision: range reads of #readPage keys, every page
   * after the first pinned to the first one's revision. (One read of 100 000
   * routes is a 23 MB response, decoded into 100 000 key/value objects at
   * once: a transient of a hundred MB or so that the heap keeps.)
   */
  async #readAll(): Promise<StoreSnapshot> {
    const maps = { routes: new Map<string, StoredEntry>(), upstreams: new Map<string, StoredEntry>() };
    let revision: string | undefined;
    let key = this.#rangeStart;
    for (;;) {
      const from = key;
      const res = await this.#call('load', (o) => this.#client.kv.range({ key: from, range_end: this.#rangeEnd, limit: this.#readPage, ...(revision ? { revision } : {}) }, o), true);
      revision ??= res.header.revision;
      for (const kv of res.kvs) {
        const k = this.#parseKey(kv.key);
        if (k) maps[k.kind].set(k.id, Object.freeze({ id: k.id, raw: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) }));
      }
      const last = res.kvs.at(-1);
      if (!res.more || !last) break;
      key = Buffer.concat([last.key, Buffer.from([0])]); // the next key after it
    }
    return snapshotOf(Number(revision), OverlayMap.of(maps.routes), OverlayMap.of(maps.upstreams));
  }

  /** Takes a full read as the new state if it is newer than what the watch has; delivers it if it differs. */
  #absorb(snap: StoreSnapshot): void {
    if (this.#closed) return;
    const cur = this.#pending?.revision ?? this.#state?.revision ?? -1;
    if (snap.revision <= cur) return;
    this.#pending = null; // the read includes every event up to its revision
    this.#skipThrough = snap.revision;
    this.#setState(snap, this.#relabel(snap));
  }

  /**
   * A full read is as of its header revision, which also counts writes outside
   * the config range (node records, elections, leases). Delivered as is, two
   * nodes that re-listed a moment apart (e.g. after an outage) would report
   * different applied revisions for the same table until the next config
   * write. So a read that only adds or changes entries relative to the last
   * delivered snapshot is delivered at the revision of its newest entry: what
   * a node that followed the watch reports for the same table. A read that
   * lacks an entry the last delivery had (a delete, whose revision a range read
   * cannot show) keeps its header revision. #state keeps the header revision
   * either way: the watch resumes after it.
   */
  #relabel(snap: StoreSnapshot): StoreSnapshot {
    const last = this.#delivered;
    if (!last) return snap;
    let newest = 0;
    for (const kind of ['routes', 'upstreams'] as const) {
      for (const id of last[kind].keys()) if (!snap[kind].has(id)) return snap;
      for (const e of snap[kind].values()) newest = Math.max(newest, e.modRevision);
    }
    return newest > last.revision && newest < snap.revision ? snapshotOf(newest, snap.routes, snap.upstreams) : snap;
  }

  #setState(snap: StoreSnapshot, deliver: StoreSnapshot = snap): void {
    this.#state = snap;
    this.#deliver(deliver);
    this.#releaseWaiters();
  }

  #deliver(snap: StoreSnapshot): void {
    if (!this.#listeners.size) return;
    const last = this.#delivered;
    // A snapshot from watch events (`changes`) differs from the last by construction; a full read is compared.
    if (last && (snap.revision <= last.revision || (!snap.changes && sameEntries(snap.routes, last.routes) && sameEntries(snap.upstreams, last.upstreams)))) return;
    this.#delivered = snap;
    for (const l of [...this.#listeners]) {
      try {
        l(snap);
      } catch (err) {
        this.#log.error({ err }, 'etcd store: watch listener threw');
      }
    }
  }

  /** Applies one watch response; false when it cannot be trusted (the caller re-lists). */
  #onWatchData(res: IWatchResponse): boolean {
    const state = this.#state;
    if (!state) return false;
    for (const ev of res.events ?? []) {
      const rev = Number(ev.kv.mod_revision);
      if (!Number.isSafeInteger(rev) || rev <= 0) return false;
      if (rev <= this.#skipThrough) continue;
      const cur = this.#pending?.revision ?? state.revision;
      if (rev < cur) return false; // out of order: never apply
      const k = this.#parseKey(ev.kv.key);
      if (!k) continue;
      const p = (this.#pending ??= { revision: cur, routes: null, upstreams: null });
      const changes = (p[k.kind] ??= new Map());
      if (String(ev.type).toLowerCase() === 'delete') changes.set(k.id, undefined);
      else changes.set(k.id, Object.freeze({ id: k.id, raw: ev.kv.value.toString('utf8'), modRevision: rev }));
      p.revision = rev;
    }
    if (this.#pending && !this.#flushQueued) {
      this.#flushQueued = true;
      setImmediate(() => this.#flush());
    }
    return true;
  }

  /** Turns the events applied since the last snapshot into one (coalescing a burst). */
  #flush(): void {
    this.#flushQueued = false;
    const p = this.#pending;
    const state = this.#state;
    if (!p || !state || this.#closed) return;
    this.#pending = null;
    // Only the changed entries are copied (OverlayMap): a 100 000-entry map per watch response made bulk loads quadratic.
    const next = (kind: ResourceKind) => {
      const changes = p[kind];
      return changes ? OverlayMap.of(state[kind]).with(changes) : state[kind];
    };
    const changes: SnapshotChanges = { baseRevision: state.revision, routes: new Set(p.routes?.keys()), upstreams: new Set(p.upstreams?.keys()) };
    this.#setState(snapshotOf(p.revision, next('routes'), next('upstreams'), changes));
  }

  // ---- watch loop ------------------------------------------------------------

  #startWatching(): void {
    if (this.#watchCtl || this.#closed || !this.#listeners.size) return;
    const ctl = new AbortController();
    this.#watchCtl = ctl;
    void this.#watchLoop(ctl.signal).catch((err: unknown) => {
      this.#log.error({ err }, 'etcd store: watch loop failed');
      if (this.#watchCtl === ctl) {
        this.#watchCtl = null;
        setTimeout(() => this.#startWatching(), 1000).unref();
      }
    });
  }

  #stopWatching(): void {
    this.#watchCtl?.abort();
    this.#watchCtl = null;
    this.#releaseWaiters(true);
  }

  #requestResync(why: string): void {
    this.#kick?.(why);
  }

  async #watchLoop(signal: AbortSignal): Promise<void> {
    let needList = !this.#state;
    let backoff = 0;
    let failing = false;
    while (!signal.aborted) {
      if (needList) {
        try {
          const snap = await this.#readAll();
          if (signal.aborted) return;
          this.#absorb(snap);
          if (failing) this.#log.info({ revision: snap.revision }, 'etcd store: re-listed after an outage');
          failing = false;
        } catch (err) {
          if (signal.aborted) return;
          if (!failing) this.#log.warn({ err }, 'etcd store: re-list failed; retrying');
          failing = true;
          backoff = nextBackoff(backoff);
          await sleep(backoff, signal);
          continue;
        }
      }
      needList = true;
      this.#flush(); // start after every event applied so far
      const from = this.#state!.revision + 1;
      const end = await this.#watchOnce(from, signal);
      if (signal.aborted) return;
      const log = end.reason === 'error' || end.reason === 'disconnected' ? this.#log.warn : this.#log.info;
      log.call(this.#log, { err: end.err, reason: end.reason, fromRevision: from }, 'etcd store: watch ended; re-listing');
      // A watch that ran for a while earns an immediate re-list; one that keeps failing backs off (to 1 s).
      backoff = end.connectedAt !== null && Date.now() - end.connectedAt > 1000 ? 0 : nextBackoff(backoff);
      if (backoff) await sleep(backoff, signal);
    }
  }

  /**
   * One watcher from `from`; resolves when it ends for any reason. The watch
   * client is kept across a 'disconnected' (its circuit breakers remember the
   * dead member) and replaced after anything else: etcd3 never creates another
   * watcher on a stream where etcd answered a create with "created + canceled"
   * (e.g. permission denied; verified), so a watcher that does not get created
   * within the request timeout also counts as a failure.
   */
  #watchOnce(from: number, signal: AbortSignal): Promise<WatchEnd> {
    const client = (this.#watchClient ??= new Etcd3(this.#clientOptions()));
    const watcher = client.watch().inRange({ start: this.#rangeStart, end: this.#rangeEnd }).startRevision(String(from)).watcher();
    const w = followWatcher(watcher, this.#timeout, signal, {
      connected: () => this.#setConnected(true, 'watch'),
      disconnected: (err) => this.#setConnected(false, 'watch', err),
      ended: ({ reason }) => {
        if (this.#kick === w.end) this.#kick = null;
        if (reason !== 'disconnected' && reason !== 'stopped' && this.#watchClient === client) {
          this.#watchClient = null;
          client.close();
        }
      },
    });
    this.#kick = w.end;
    watcher.on('data', (res: IWatchResponse) => {
      if (!this.#onWatchData(res)) w.end('events out of order');
    });
    return w.ended;
  }
}

// ---- txn helpers --------------------------------------------------------------

function modEquals(key: Buffer, rev: number): ICompare {
  return { key, target: 'Mod', result: 'Equal', mod_revision: String(rev) };
}
function modGreater(key: Buffer, rev: number): ICompare {
  return { key, target: 'Mod', result: 'Greater', mod_revision: String(rev) };
}
function rangeOf(res: ITxnResponse, i: number): IKeyValue[] {
  return res.responses[i]?.response_range?.kvs ?? [];
}
function modOf(kv: IKeyValue | undefined): number {
  return kv ? Number(kv.mod_revision) : 0;
}
function what(kind: ResourceKind, id: string): string {
  return `${kind === 'routes' ? 'route' : 'upstream'} "${id}"`;
}
function preconditionFailed(kind: ResourceKind, id: string, expected: number, cur: IKeyValue | undefined): PreconditionFailedError {
  const current = modOf(cur);
  return new PreconditionFailedError(
    `${what(kind, id)} ${current ? `is at revision ${current}` : 'does not exist'}, expected ${expected || 'it not to exist'}`,
    current,
  );
}
function withCause<E extends Error>(e: E, cause: unknown): E {
  Object.defineProperty(e, 'cause', { value: cause, enumerable: false, configurable: true, writable: true });
  return e;
}
