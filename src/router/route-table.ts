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
/** Longer host+path pairs bypass the cache, so it holds at most ~max * 256 chars. */
const MAX_CACHED_KEY = 256;
const EMPTY = -1; // free index slot
const MARKER = -2; // slot of a segment prefix that is no route path itself
const DIRECT = -3; // slot value DIRECT - i: the path's routes always resolve to routes[i]

/** A route compiled for lookup; copied out of the route so later mutation can't leak in. */
interface Entry<R> {
  readonly route: R;
  readonly index: number; // in RouteTable.routes
  readonly id: string;
  readonly port: number; // ANY_PORT when unset
  readonly hostRank: number;
  readonly methods: ReadonlySet<string> | null;
}

/** Routes sharing one match.path, grouped by host kind, each list in tie-break order. */
interface Bucket<R> {
  exact: Map<string, Entry<R>[]> | null; // lower-cased host -> entries
  wild: Map<string, Entry<R>[]> | null; // '.example.com' -> entries of '*.example.com'
  any: Entry<R>[];
}

/** Stands for "no route" in the cache (lru-cache values can't be null). */
const MISS = Symbol('miss');

export class RouteTable<R extends Matchable> {
  /** The routes as given, frozen copy. */
  readonly routes: readonly R[];
  // Path index: open addressing over the distinct normalised route paths
  // plus, as markers, every segment prefix of them ('/a' and '/a/b' for
  // '/a/b/c'). A lookup walks the request path left to right, hashing as it
  // goes (no prefix strings allocated), and stops at the first prefix that is
  // neither a route path nor a marker: no route path can extend it. So a
  // lookup costs about (depth of the matching route + 1) probes.
  // Slot j is 4 ints [hash, length, offset of the path in #blob, target]
  // where target is a bucket index, DIRECT - route index (the bucket's best
  // route has no port/host/method constraint, so it wins every request), MARKER
  // or EMPTY. Paths sit in one flat string. A probe touches one or two cache
  // lines and a DIRECT hit no per-route object (with 100k routes memory
  // latency dominates lookups).
  #buckets: Bucket<R>[] = [];
  #blob: string;
  #slots!: Int32Array; // load factor <= 0.7
  #mask = 0;
  #used = 0;
  /** slashLen[k] === 1 when a route path of length k ends in '/': skips most '/a/' probes. */
  #slashLen: Uint8Array;
  #ports = new Set<number>();
  #cache: LRUCache<string, R | typeof MISS> | null;

  constructor(routes: readonly R[], opts: { cacheSize?: number } = {}) {
    this.routes = Object.freeze(routes.slice());
    const methodSets = new Map<string, ReadonlySet<string>>(); // interned: many routes share ['GET'] etc.
    const byPath = new Map<string, Bucket<R>>();
    let maxLen = 0;
    for (let index = 0; index < this.routes.length; index++) {
      const route = this.routes[index]!;
      const m = route.match;
      if (m.port !== undefined) this.#ports.add(m.port);
      let methods: ReadonlySet<string> | null = null;
      if (m.methods && m.methods.length > 0) {
        const up = m.methods.map((x) => x.toUpperCase());
        const k = up.join(' ');
        methods = methodSets.get(k) ?? new Set(up);
        methodSets.set(k, methods);
      }
      const host = m.host ? normHost(m.host) : '';
      const wild = host.startsWith('*.');
      const e: Entry<R> = {
        route,
        index,
        id: route.id,
        port: m.port ?? ANY_PORT,
        hostRank: host === '' ? HOST_ANY : wild ? HOST_WILD : HOST_EXACT,
        methods,
      };
      // Index by the normalised route path so it compares like request paths.
      const key = normalizePath(m.path) ?? m.path;
      let b = byPath.get(key);
      if (b === undefined) {
        b = { exact: null, wild: null, any: [] };
        byPath.set(key, b);
        if (key.length > maxLen) maxLen = key.length;
      }
      if (e.hostRank === HOST_ANY) b.any.push(e);
      else if (wild) push((b.wild ??= new Map()), host.slice(1), e);
      else push((b.exact ??= new Map()), host, e);
    }
    this.#slashLen = new Uint8Array(maxLen + 1);
    const keys: string[] = [];
    const targets: number[] = [];
    let bound = 0; // route paths + their inner '/': at least the number of slots needed
    for (const [key, b] of byPath) {
      if (key.charCodeAt(0) !== SLASH) continue; // not normalisable: can never match
      b.any.sort(compare);
      if (b.exact) for (const l of b.exact.values()) l.sort(compare);
      if (b.wild) for (const l of b.wild.values()) l.sort(compare);
      // Exact/wildcard or port-set entries would sort before an unconstrained head.
      const head = b.any[0];
      const direct =
        b.exact === null && b.wild === null && head !== undefined && head.port === ANY_PORT && head.methods === null;
      targets.push(direct ? DIRECT - head.index : this.#buckets.push(b) - 1);
      keys.push(key);
      if (key.charCodeAt(key.length - 1) === SLASH) this.#slashLen[key.length] = 1;
      for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) === SLASH) bound++;
    }
    this.#resize(bound); // an upper bound: shared prefixes are counted once below
    this.#blob = keys.join(''); // flat
    // Route paths first, then a marker for each segment prefix not yet in;
    // a marker's text is the start of its route path in #blob.
    for (let k = 0, off = 0; k < keys.length; off += keys[k]!.length, k++) {
      this.#insert(hash(keys[k]!), keys[k]!.length, off, targets[k]!);
    }
    for (let k = 0, off = 0; k < keys.length; off += keys[k]!.length, k++) {
      const key = keys[k]!;
      let h = FNV_OFFSET;
      for (let i = 0; i < key.length; i++) {
        const c = key.charCodeAt(i);
        if (c === SLASH && i > 0 && this.#find(key, i, h) === EMPTY) this.#insert(h, i, off, MARKER);
        h = Math.imul(h ^ c, FNV_PRIME);
      }
    }
    this.#resize(this.#used);
    const max = Math.floor(opts.cacheSize ?? DEFAULT_CACHE);
    this.#cache = max > 0 ? new LRUCache({ max }) : null;
  }

  get size(): number {
    return this.routes.length;
  }

  /** Entries in the lookup cache now (0 when disabled). */
  get cacheSize(): number {
    return this.#cache?.size ?? 0;
  }

  /** Every match.port some route names. */
  ports(): ReadonlySet<number> {
    return this.#ports;
  }

  /**
   * `path` must already be normalised (normalizePath); `host` is the Host
   * header (':port' allowed, any case); `method` as Node reports it (upper-case).
   */
  match(port: number, host: string | undefined, method: string, path: string): R | null {
    const h = host ? normHost(host) : '';
    const cache = this.#cache;
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
   * and the one including it ('/api/'), then the whole path. Buckets found
   * are collected shortest first, then tried longest first.
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
      if (k + 2 > found.length) found = grow(k);
      if (i > 0) {
        const b = this.#find(path, i, h);
        if (b === EMPTY) {
          walked = false; // nothing extends path[0, i)
          break;
        }
        if (b !== MARKER) found[k++] = b;
      }
      h = Math.imul(h ^ c, FNV_PRIME);
      if (i + 1 < n && i + 1 < slashLen.length && slashLen[i + 1] === 1) {
        const b = this.#find(path, i + 1, h);
        if (b >= 0 || b <= DIRECT) found[k++] = b;
      }
    }
    if (walked) {
      const b = this.#find(path, n, h);
      if (b >= 0 || b <= DIRECT) found[k++] = b;
    }
    while (k > 0) {
      const b = found[--k]!;
      if (b <= DIRECT) return this.routes[DIRECT - b]!;
      const e = pick(this.#buckets[b]!, port, host, method);
      if (e !== null) return e.route;
    }
    return null;
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
    const slots = this.#slots;
    const blob = this.#blob;
    const wrap = this.#mask * 4 + 3;
    let marker = false;
    for (let j = (h & this.#mask) * 4; ; j = (j + 4) & wrap) {
      const b = slots[j + 3]!;
      if (b === EMPTY) return marker ? MARKER : EMPTY;
      if (slots[j] !== h || slots[j + 1] !== len) continue;
      if (b === MARKER) {
        marker = true; // the chain may still hold the real entry: keep looking
        continue;
      }
      const off = slots[j + 2]!;
      let i = 0;
      while (i < len && blob.charCodeAt(off + i) === path.charCodeAt(i)) i++;
      if (i === len) return b;
    }
  }
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
function pick<R>(b: Bucket<R>, port: number, host: string, method: string): Entry<R> | null {
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

function first<R>(list: Entry<R>[] | undefined, port: number, method: string): Entry<R> | null {
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
function compare<R>(a: Entry<R>, b: Entry<R>): number {
  const pa = a.port === ANY_PORT ? 1 : 0;
  const pb = b.port === ANY_PORT ? 1 : 0;
  if (pa !== pb) return pa - pb;
  if (a.hostRank !== b.hostRank) return a.hostRank - b.hostRank;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function push<R>(m: Map<string, Entry<R>[]>, k: string, e: Entry<R>): void {
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
