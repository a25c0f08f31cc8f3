import { LRUCache } from 'lru-cache';
import type { RouteMatch } from '../resources.js';
import { normalizePath } from './normalize-path.js';

/** Anything with an id and a CONTRACT §2 match can be put in a RouteTable. */
export interface Matchable {
  readonly id: string;
  readonly match: RouteMatch;
}

// Matching (CONTRACT §2): a route applies when its port, host and methods (each
// if set) fit the request; the longest segment-aware match.path wins; ties go
// to port set, then exact host > wildcard > no host, then the smaller id.
// Host wildcards follow Envoy: '*.example.com' is a suffix match on
// '.example.com' with at least one character before it, so it matches
// 'a.example.com' and 'a.b.example.com' but not 'example.com'. Two wildcards
// that both match tie on the id (the contract ranks all wildcards alike).

const SLASH = 47;
const DOT = 46;
const ANY_PORT = -1;
const HOST_EXACT = 0;
const HOST_WILD = 1;
const HOST_ANY = 2;
const DEFAULT_CACHE = 10_000;
/**
 * Tables smaller than this get no cache by default: a lookup in them costs
 * about what a cache hit does (10 000 routes: 346 ns median uncached, 395 ns
 * through the cache, bench/router-lookup.ts), and each new table's cache is
 * ~1 ms of allocation on the request path after every config change. From
 * ~100 000 routes on, memory latency makes the cache pay (769 -> 423 ns).
 */
const CACHE_FROM_ROUTES = 50_000;
/** Longer host+path pairs bypass the cache, so it holds at most ~max * 256 chars. */
const MAX_CACHED_KEY = 256;
const EMPTY = -1; // free index slot
const MARKER = -2; // slot of a segment prefix that is no route path itself
const DIRECT = -3; // slot value DIRECT - i: the path's routes always resolve to routes[i]

/** A route compiled for lookup; copied out of the route so later mutation can't leak in. */
interface Entry {
  readonly index: number; // in RouteTable.#routes
  readonly id: string;
  readonly port: number; // ANY_PORT when unset
  readonly hostRank: number;
  /** Normalised host ('' for none; '*.x.com' for a wildcard). */
  readonly host: string;
  readonly methods: ReadonlySet<string> | null;
}

/** Routes sharing one match.path, grouped by host kind, each list in tie-break order. Never mutated once built. */
interface Bucket {
  exact: Map<string, Entry[]> | null; // lower-cased host -> entries
  wild: Map<string, Entry[]> | null; // '.example.com' -> entries of '*.example.com'
  any: Entry[];
}

/** Stands for "no route" in the cache (lru-cache values can't be null). */
const MISS = Symbol('miss');

/** What RouteTable.update() hands its constructor (module-private: not constructible outside). */
class Derivation<R extends Matchable> {
  constructor(
    readonly prev: RouteTable<R>,
    readonly remove: readonly Matchable[],
    readonly add: readonly R[],
    readonly rebind: ((route: R) => R) | null,
  ) {}
}

export class RouteTable<R extends Matchable> {
  // Path index: open addressing over the distinct normalised route paths
  // plus, as markers, every segment prefix of them ('/a' and '/a/b' for
  // '/a/b/c'). A lookup walks the request path left to right, hashing as it
  // goes (no prefix strings allocated), and stops at the first prefix that is
  // neither a route path nor a marker: no route path can extend it. So a
  // lookup costs about (depth of the matching route + 1) probes.
  // Slot j is 4 ints [hash, length, offset of the path in #blob, target]
  // where target is a bucket index, DIRECT - route index (the path's only
  // route, with no port/host/method constraint: it wins every request), MARKER
  // or EMPTY. Paths sit in one flat string. A probe touches one or two cache
  // lines and a DIRECT hit no per-route object (with 100k routes memory
  // latency dominates lookups).
  //
  // update() derives a table from this one for a few changed routes without
  // rebuilding: slots, buckets and routes are copied (flat arrays), changed
  // paths get new buckets, new paths are appended to the blob, and a path
  // that lost its last route becomes a marker (a marker only makes a lookup
  // walk on, so a stale one is harmless). Freed route indices are reused;
  // once stale slots and holes add up, update() builds afresh.
  #routes: (R | undefined)[] = [];
  /** Indices of #routes left empty by removed routes (reused by later updates). */
  #free: number[] = [];
  /** Routes whose path can never match (not normalisable): kept for `routes`, not indexed. */
  #unindexed: R[] = [];
  #buckets: (Bucket | null)[] = [];
  #blob = '';
  #slots!: Int32Array; // load factor <= 0.7
  #mask = 0;
  #used = 0;
  /** Slots and route indices left stale by updates; a full build clears them. */
  #stale = 0;
  /** slashLen[k] === 1 when a route path of length k ends in '/': skips most '/a/' probes. */
  #slashLen: Uint8Array = new Uint8Array(1);
  #portCount = new Map<number, number>();
  #ports: ReadonlySet<number> = new Set();
  /** Created by the first lookup (undefined until then): a table never looked up costs no cache. */
  #cache: LRUCache<string, R | typeof MISS> | null | undefined = undefined;
  /** opts.cacheSize; undefined = by the table's size (CACHE_FROM_ROUTES). */
  readonly #cacheOpt: number | undefined;
  #methodSets: Map<string, ReadonlySet<string>>; // interned: many routes share ['GET'] etc.
  #list: readonly R[] | null = null;

  constructor(routes: readonly R[], opts: { cacheSize?: number; derive?: Derivation<R> } = {}) {
    this.#cacheOpt = opts.cacheSize === undefined ? undefined : Math.floor(opts.cacheSize);
    const d = opts.derive;
    this.#methodSets = d ? d.prev.#methodSets : new Map();
    if (d) this.#derive(d);
    else this.#build(routes);
  }

  /**
   * A new table: this one without the routes of `remove` (by id; their
   * match must be the one they were added with) and with those of `add`.
   * `rebind`, when given, replaces every kept route by rebind(route), which
   * must keep its id and match (e.g. the same route bound to a new upstream
   * object). This table stays as it is. Costs about a copy of the flat
   * arrays plus the changed paths, instead of a full build.
   */
  update(remove: readonly Matchable[], add: readonly R[], rebind: ((route: R) => R) | null = null): RouteTable<R> {
    const changes = remove.length + add.length;
    if (changes > Math.max(64, this.size / 2) || (this.#stale > 1024 && this.#stale > this.size / 4)) {
      // Many changes, or much left stale: build afresh.
      const gone = new Set(remove.map((m) => m.id));
      const kept = this.routes.filter((r) => !gone.has(r.id));
      return new RouteTable(rebind ? kept.map(rebind).concat(add) : kept.concat(add), { cacheSize: this.#cacheOpt });
    }
    return new RouteTable<R>([], { cacheSize: this.#cacheOpt, derive: new Derivation(this, remove, add, rebind) });
  }

  get size(): number {
    return this.#routes.length - this.#free.length + this.#unindexed.length;
  }

  /** The routes in the table (frozen). */
  get routes(): readonly R[] {
    if (this.#list === null) {
      const out: R[] = [];
      for (const r of this.#routes) if (r !== undefined) out.push(r);
      this.#list = Object.freeze(out.concat(this.#unindexed));
    }
    return this.#list;
  }

  /** Entries in the lookup cache now (0 when disabled). */
  get cacheSize(): number {
    return this.#cache?.size ?? 0;
  }

  /** Every match.port some route names. */
  ports(): ReadonlySet<number> {
    return this.#ports;
  }

  #build(routes: readonly R[]): void {
    const byPath = new Map<string, Entry[]>();
    let maxLen = 0;
    for (const route of routes) {
      this.#countPort(route, 1);
      // Index by the normalised route path so it compares like request paths.
      const key = keyOf(route);
      if (key === null) {
        this.#unindexed.push(route);
        continue;
      }
      const e = this.#entry(route, this.#routes.push(route) - 1);
      const list = byPath.get(key);
      if (list === undefined) {
        byPath.set(key, [e]);
        if (key.length > maxLen) maxLen = key.length;
      } else list.push(e);
    }
    this.#ports = new Set(this.#portCount.keys());
    this.#slashLen = new Uint8Array(maxLen + 1);
    const keys: string[] = [];
    const targets: number[] = [];
    let bound = 0; // route paths + their inner '/': at least the number of slots needed
    for (const [key, list] of byPath) {
      targets.push(this.#targetOf(list));
      keys.push(key);
      if (key.charCodeAt(key.length - 1) === SLASH) this.#slashLen[key.length] = 1;
      bound += slashes(key);
    }
    this.#resize(bound); // an upper bound: shared prefixes are counted once below
    this.#blob = keys.join(''); // flat
    this.#insertPaths(keys, targets, 0);
    this.#resize(this.#used);
  }

  /**
   * Route paths first, then a marker for each segment prefix not yet in; a
   * marker's text is the start of its route path in #blob. keys[k] sits at
   * `off` + the lengths before it.
   */
  #insertPaths(keys: readonly string[], targets: readonly number[], off: number): void {
    for (let k = 0, o = off; k < keys.length; o += keys[k]!.length, k++) {
      this.#insert(hash(keys[k]!), keys[k]!.length, o, targets[k]!);
    }
    for (let k = 0, o = off; k < keys.length; o += keys[k]!.length, k++) {
      const key = keys[k]!;
      let h = FNV_OFFSET;
      for (let i = 0; i < key.length; i++) {
        const c = key.charCodeAt(i);
        if (c === SLASH && i > 0 && this.#find(key, i, h) === EMPTY) this.#insert(h, i, o, MARKER);
        h = Math.imul(h ^ c, FNV_PRIME);
      }
    }
  }

  /** The slot target for the routes of one path: DIRECT for a lone unconstrained route, else a new bucket. */
  #targetOf(list: Entry[], reuse = -1): number {
    if (list.length === 1) {
      const e = list[0]!;
      if (e.hostRank === HOST_ANY && e.port === ANY_PORT && e.methods === null) return DIRECT - e.index;
    }
    if (reuse < 0) return this.#buckets.push(bucketOf(list)) - 1;
    this.#buckets[reuse] = bucketOf(list);
    return reuse;
  }

  #derive(d: Derivation<R>): void {
    const prev = d.prev;
    const rebind = d.rebind;
    this.#routes = rebind ? prev.#routes.map((r) => (r === undefined ? r : rebind(r))) : prev.#routes.slice();
    this.#unindexed = rebind ? prev.#unindexed.map(rebind) : prev.#unindexed.slice();
    this.#free = prev.#free.slice();
    this.#buckets = prev.#buckets.slice();
    this.#portCount = new Map(prev.#portCount);
    this.#stale = prev.#stale;
    // The changes, by path.
    const byKey = new Map<string, { gone: Set<string>; added: R[] }>();
    const at = (key: string) => {
      let c = byKey.get(key);
      if (c === undefined) byKey.set(key, (c = { gone: new Set(), added: [] }));
      return c;
    };
    for (const m of d.remove) {
      this.#countPort(m, -1);
      const key = keyOf(m);
      if (key === null) this.#unindexed = this.#unindexed.filter((r) => r.id !== m.id);
      else at(key).gone.add(m.id);
    }
    for (const r of d.add) {
      this.#countPort(r, 1);
      const key = keyOf(r);
      if (key === null) this.#unindexed.push(r);
      else at(key).added.push(r);
    }
    this.#ports = new Set(this.#portCount.keys());
    // Slots: copied, or rehashed into a larger array when the new paths may not fit.
    let bound = prev.#used;
    for (const key of byKey.keys()) bound += slashes(key);
    this.#blob = prev.#blob;
    this.#mask = prev.#mask;
    this.#used = prev.#used;
    let cap = prev.#mask + 1;
    if (bound > cap * 0.7) {
      this.#slots = prev.#slots; // read by #resize, which allocates a new array
      this.#resize(bound);
    } else this.#slots = prev.#slots.slice();
    let slashLen = prev.#slashLen;
    const newKeys: string[] = [];
    const newTargets: number[] = [];
    for (const [key, c] of byKey) {
      const h = hash(key);
      const j = this.#slotOf(key, h);
      const old = j === -1 ? MARKER : this.#slots[j + 3]!;
      const list = this.#entriesOf(old).filter((e) => {
        if (!c.gone.has(e.id)) return true;
        this.#routes[e.index] = undefined;
        this.#free.push(e.index);
        this.#stale++;
        return false;
      });
      for (const r of c.added) {
        const index = this.#free.pop() ?? this.#routes.length;
        if (index !== this.#routes.length) this.#stale--;
        this.#routes[index] = r;
        list.push(this.#entry(r, index));
      }
      if (old >= 0) this.#buckets[old] = null;
      const target = list.length === 0 ? MARKER : this.#targetOf(list, old);
      if (target === MARKER && old !== MARKER) this.#stale++;
      if (j !== -1) this.#slots[j + 3] = target;
      else if (target !== MARKER) {
        newKeys.push(key);
        newTargets.push(target);
      }
      if (target !== MARKER && key.charCodeAt(key.length - 1) === SLASH && slashLen[key.length] !== 1) {
        if (slashLen === prev.#slashLen || slashLen.length <= key.length) {
          const grown = new Uint8Array(Math.max(slashLen.length, key.length + 1));
          grown.set(slashLen);
          slashLen = grown;
        }
        slashLen[key.length] = 1;
      }
    }
    this.#slashLen = slashLen;
    if (newKeys.length > 0) {
      const off = this.#blob.length;
      this.#blob = this.#blob + newKeys.join('');
      this.#insertPaths(newKeys, newTargets, off);
    }
  }

  /** The entries of a slot target, as a fresh list. */
  #entriesOf(target: number): Entry[] {
    if (target <= DIRECT) return [this.#entry(this.#routes[DIRECT - target]!, DIRECT - target)];
    if (target < 0) return [];
    const b = this.#buckets[target]!;
    const out = b.any.slice();
    if (b.exact) for (const l of b.exact.values()) out.push(...l);
    if (b.wild) for (const l of b.wild.values()) out.push(...l);
    return out;
  }

  /** The slot (index into #slots) holding exactly the path `key` (hash h), route path or marker; -1 if none. */
  #slotOf(key: string, h: number): number {
    const slots = this.#slots;
    const len = key.length;
    for (let j = (h & this.#mask) * 4; ; j = (j + 4) & (this.#mask * 4 + 3)) {
      if (slots[j + 3] === EMPTY) return -1;
      if (slots[j] === h && slots[j + 1] === len && this.#keyIs(j, key, len)) return j;
    }
  }

  #entry(route: Matchable, index: number): Entry {
    const m = route.match;
    let methods: ReadonlySet<string> | null = null;
    if (m.methods && m.methods.length > 0) {
      const up = m.methods.map((x) => x.toUpperCase());
      const k = up.join(' ');
      methods = this.#methodSets.get(k) ?? new Set(up);
      this.#methodSets.set(k, methods);
    }
    const host = m.host ? normHost(m.host) : '';
    const wild = host.startsWith('*.');
    return {
      index,
      id: route.id,
      port: m.port ?? ANY_PORT,
      hostRank: host === '' ? HOST_ANY : wild ? HOST_WILD : HOST_EXACT,
      host,
      methods,
    };
  }

  #countPort(route: Matchable, by: 1 | -1): void {
    const p = route.match.port;
    if (p === undefined) return;
    const n = (this.#portCount.get(p) ?? 0) + by;
    if (n > 0) this.#portCount.set(p, n);
    else this.#portCount.delete(p);
  }

  /**
   * `path` must already be normalised (normalizePath); `host` is the Host
   * header (':port' allowed, any case); `method` as Node reports it (upper-case).
   */
  match(port: number, host: string | undefined, method: string, path: string): R | null {
    const h = host ? normHost(host) : '';
    let cache = this.#cache;
    if (cache === undefined) {
      const max = this.#cacheOpt ?? (this.size >= CACHE_FROM_ROUTES ? DEFAULT_CACHE : 0);
      cache = this.#cache = max > 0 ? new LRUCache({ max }) : null;
    }
    if (cache === null || h.length + path.length > MAX_CACHED_KEY) {
      return this.#lookup(port, h, method, path);
    }
    // Unambiguous key: port is digits and method a token (no spaces); the
    // host length says where the host ends and the path starts.
    const key = port + ' ' + method + ' ' + h.length + ' ' + h + path;
    const hit = cache.get(key);
    if (hit !== undefined) return hit === MISS ? null : hit;
    const r = this.#lookup(port, h, method, path);
    cache.set(key, r ?? MISS);
    return r;
  }

  /**
   * Candidates are, at each '/', the prefix before it ('/api' of '/api/x')
   * and the one including it ('/api/'), then the whole path. Slots found
   * are collected shortest first (slot, length, hash), then tried longest
   * first. A slot is taken on hash and length while walking and its path
   * compared only when tried: the shorter prefixes a longer match wins over
   * never cost a read of the key text (a cache miss each in a big table).
   */
  #lookup(port: number, host: string, method: string, path: string): R | null {
    const n = path.length;
    const slashLen = this.#slashLen;
    let found = scratch;
    let k = 0;
    let h = FNV_OFFSET;
    let walked = true;
    for (let i = 0; i < n; i++) {
      const c = path.charCodeAt(i);
      if (c !== SLASH) {
        h = Math.imul(h ^ c, FNV_PRIME);
        continue;
      }
      if (k + 6 > found.length) found = grow(k);
      if (i > 0) {
        const j = this.#probe(i, h);
        if (j === EMPTY) {
          walked = false; // nothing extends path[0, i)
          break;
        }
        if (j >= 0) (found[k] = j), (found[k + 1] = i), (found[k + 2] = h), (k += 3);
      }
      h = Math.imul(h ^ c, FNV_PRIME);
      if (i + 1 < n && i + 1 < slashLen.length && slashLen[i + 1] === 1) {
        const j = this.#probe(i + 1, h);
        if (j >= 0) (found[k] = j), (found[k + 1] = i + 1), (found[k + 2] = h), (k += 3);
      }
    }
    if (walked) {
      if (k + 3 > found.length) found = grow(k);
      const j = this.#probe(n, h);
      if (j >= 0) (found[k] = j), (found[k + 1] = n), (found[k + 2] = h), (k += 3);
    }
    while (k > 0) {
      k -= 3;
      const len = found[k + 1]!;
      let b = this.#slots[found[k]! + 3]!;
      // A hash and length match of another text: look the prefix up in full.
      if (!this.#keyIs(found[k]!, path, len)) {
        b = this.#find(path, len, found[k + 2]!);
        if (b === EMPTY || b === MARKER) continue;
      }
      if (b <= DIRECT) return this.#routes[DIRECT - b]!;
      const e = pick(this.#buckets[b]!, port, host, method);
      if (e !== null) return this.#routes[e.index]!;
    }
    return null;
  }

  /** Whether slot j holds exactly path[0, len). */
  #keyIs(j: number, path: string, len: number): boolean {
    const blob = this.#blob;
    const off = this.#slots[j + 2]!;
    let i = 0;
    while (i < len && blob.charCodeAt(off + i) === path.charCodeAt(i)) i++;
    return i === len;
  }

  /** (Re)allocate the slots for n entries at load <= 0.7, moving any present. */
  #resize(n: number): void {
    let cap = 8;
    while (cap * 0.7 < n) cap *= 2;
    const old = this.#slots;
    if (old !== undefined && old.length === cap * 4) return;
    this.#slots = new Int32Array(cap * 4);
    this.#mask = cap - 1;
    this.#used = 0;
    for (let j = 3; j < this.#slots.length; j += 4) this.#slots[j] = EMPTY;
    if (old === undefined) return;
    for (let j = 0; j < old.length; j += 4) {
      if (old[j + 3] !== EMPTY) this.#insert(old[j]!, old[j + 1]!, old[j + 2]!, old[j + 3]!);
    }
  }

  #insert(h: number, len: number, off: number, target: number): void {
    this.#used++;
    let j = h & this.#mask;
    while (this.#slots[j * 4 + 3] !== EMPTY) j = (j + 1) & this.#mask;
    const s = this.#slots;
    (s[j * 4] = h), (s[j * 4 + 1] = len), (s[j * 4 + 2] = off), (s[j * 4 + 3] = target);
  }

  /**
   * The slot target of path[0, len) (hash h), or EMPTY when not indexed.
   * Route paths are compared in full; a marker is taken on hash and length
   * alone (saves a cache miss a lookup): a false one only walks further.
   */
  #find(path: string, len: number, h: number): number {
    return this.#scan(path, len, h);
  }

  /** The first slot (not its target) holding a route path with hash h and length len, its text unchecked; else MARKER or EMPTY as #find. */
  #probe(len: number, h: number): number {
    return this.#scan(null, len, h);
  }

  /** One walk of h's probe chain for #find (path given: texts compared, the target returned) and #probe (null: the first slot). */
  #scan(path: string | null, len: number, h: number): number {
    const slots = this.#slots;
    const wrap = this.#mask * 4 + 3;
    let marker = false;
    for (let j = (h & this.#mask) * 4; ; j = (j + 4) & wrap) {
      const b = slots[j + 3]!;
      if (b === EMPTY) return marker ? MARKER : EMPTY;
      if (slots[j] !== h || slots[j + 1] !== len) continue;
      // A marker: the chain may still hold the real entry, keep looking.
      if (b === MARKER) marker = true;
      else if (path === null) return j;
      else if (this.#keyIs(j, path, len)) return b;
    }
  }
}

/** A route's path as the index holds it (normalised like request paths), or null when it can never match. */
function keyOf(route: Matchable): string | null {
  const key = normalizePath(route.match.path) ?? route.match.path;
  return key.charCodeAt(0) === SLASH ? key : null;
}

function slashes(key: string): number {
  let n = 0;
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === SLASH) n++;
  return n;
}

/** The routes of one path as a bucket: grouped by host kind, each list sorted. */
function bucketOf(list: readonly Entry[]): Bucket {
  const b: Bucket = { exact: null, wild: null, any: [] };
  for (const e of list) {
    if (e.hostRank === HOST_ANY) b.any.push(e);
    else {
      const host = e.host;
      if (e.hostRank === HOST_WILD) push((b.wild ??= new Map()), host.slice(1), e);
      else push((b.exact ??= new Map()), host, e);
    }
  }
  b.any.sort(compare);
  if (b.exact) for (const l of b.exact.values()) l.sort(compare);
  if (b.wild) for (const l of b.wild.values()) l.sort(compare);
  return b;
}

// FNV-1a over UTF-16 code units; the same function indexes route paths and probes.
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
function hash(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

// Scratch for #lookup's bucket indices, shared by all tables: lookups are
// synchronous and never re-entered. Grows (rarely) for paths with many '/'.
let scratch: Int32Array = new Int32Array(64);
function grow(used: number): Int32Array {
  const next = new Int32Array(Math.max(64, used * 2));
  next.set(scratch.subarray(0, used));
  return (scratch = next);
}

/** Best applicable entry of a bucket: each group's first fit, then the tie-break across groups. */
function pick(b: Bucket, port: number, host: string, method: string): Entry | null {
  let best = first(b.any, port, method);
  if (host === '') return best;
  if (b.exact !== null) {
    const e = first(b.exact.get(host), port, method);
    if (e !== null && (best === null || compare(e, best) < 0)) best = e;
  }
  if (b.wild !== null) {
    // Suffixes at each '.' after the first char: 'a.b.c' -> '.b.c', '.c'.
    for (let i = host.indexOf('.', 1); i !== -1; i = host.indexOf('.', i + 1)) {
      const e = first(b.wild.get(host.slice(i)), port, method);
      if (e !== null && (best === null || compare(e, best) < 0)) best = e;
    }
  }
  return best;
}

function first(list: Entry[] | undefined, port: number, method: string): Entry | null {
  if (list === undefined) return null;
  for (let i = 0; i < list.length; i++) {
    const e = list[i]!;
    if (e.port !== ANY_PORT && e.port !== port) continue;
    if (e.methods !== null && !e.methods.has(method)) continue;
    return e;
  }
  return null;
}

/** Tie-break order among routes of one path: port set, host rank, id. */
function compare(a: Entry, b: Entry): number {
  const pa = a.port === ANY_PORT ? 1 : 0;
  const pb = b.port === ANY_PORT ? 1 : 0;
  if (pa !== pb) return pa - pb;
  if (a.hostRank !== b.hostRank) return a.hostRank - b.hostRank;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function push(m: Map<string, Entry[]>, k: string, e: Entry): void {
  const l = m.get(k);
  if (l === undefined) m.set(k, [e]);
  else l.push(e);
}

/** Host header -> comparable host: port and a trailing FQDN dot dropped, lower-cased. */
function normHost(h: string): string {
  let end = h.length;
  let upper = false;
  const v6 = h.charCodeAt(0) === 91; // '[::1]:8080'
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    if (c === 58 /* ':' */ && !v6) {
      end = i;
      break;
    }
    if (c === 93 /* ']' */ && v6) {
      end = i + 1;
      break;
    }
    if (c >= 65 && c <= 90) upper = true;
  }
  if (end > 0 && h.charCodeAt(end - 1) === DOT) end--;
  const s = end === h.length ? h : h.slice(0, end);
  return upper ? s.toLowerCase() : s; // the common case allocates nothing
}
