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

/** A route compiled for lookup; copied out of the route so later mutation can't leak in. */
interface Entry<R> {
  readonly route: R;
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
  // Path index: open addressing over the distinct normalised route paths,
  // probed with hashes computed in one pass over the request path, so a lookup
  // allocates no prefix strings. Slot j is 4 ints [hash, length, offset of the
  // path in #blob, bucket index (-1 empty)] and the paths sit in one flat
  // string: a probe touches one or two cache lines instead of chasing
  // per-path objects (with 100k routes memory latency dominates lookups).
  #buckets: Bucket<R>[] = [];
  #blob: string;
  #slots: Int32Array; // load factor <= 0.5
  #mask: number;
  /** hasLen[k] === 1 when some route path has length k: skips most probes. */
  #hasLen: Uint8Array;
  #ports = new Set<number>();
  #cache: LRUCache<string, R | typeof MISS> | null;

  constructor(routes: readonly R[], opts: { cacheSize?: number } = {}) {
    this.routes = Object.freeze(routes.slice());
    const methodSets = new Map<string, ReadonlySet<string>>(); // interned: many routes share ['GET'] etc.
    const byPath = new Map<string, Bucket<R>>();
    let maxLen = 0;
    for (const route of this.routes) {
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
    this.#hasLen = new Uint8Array(maxLen + 1);
    let cap = 8;
    while (cap < byPath.size * 2) cap *= 2;
    const slots = (this.#slots = new Int32Array(cap * 4));
    this.#mask = cap - 1;
    for (let j = 3; j < slots.length; j += 4) slots[j] = -1;
    const keys: string[] = [];
    let off = 0;
    for (const [key, b] of byPath) {
      this.#hasLen[key.length] = 1;
      const h = hash(key);
      let j = h & this.#mask;
      while (slots[j * 4 + 3] !== -1) j = (j + 1) & this.#mask;
      slots.set([h, key.length, off, keys.length], j * 4);
      off += key.length;
      keys.push(key);
      this.#buckets.push(b);
      b.any.sort(compare);
      if (b.exact) for (const l of b.exact.values()) l.sort(compare);
      if (b.wild) for (const l of b.wild.values()) l.sort(compare);
    }
    this.#blob = keys.join(''); // flat
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

  /** `path` must already be normalised (normalizePath). `host` may carry ':port'. */
  match(port: number, host: string | undefined, method: string, path: string): R | null {
    const h = host ? normHost(host) : '';
    const cache = this.#cache;
    if (cache === null) return this.#lookup(port, h, method, path);
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
   * Longest prefix first. Candidates are the whole path and, at each '/', the
   * prefix before it ('/api' of '/api/x') and the one including it ('/api/');
   * their hashes are collected left to right, then probed right to left.
   */
  #lookup(port: number, host: string, method: string, path: string): R | null {
    const n = path.length;
    const hasLen = this.#hasLen;
    let lens = candLen;
    let hashes = candHash;
    let k = 0;
    let h = FNV_OFFSET;
    for (let i = 0; i < n; i++) {
      const c = path.charCodeAt(i);
      if (c === SLASH) {
        if (k + 2 > lens.length) [lens, hashes] = grow(k);
        if (i > 0 && i < hasLen.length && hasLen[i] === 1) (lens[k] = i), (hashes[k++] = h);
        h = Math.imul(h ^ c, FNV_PRIME);
        if (i + 1 < n && i + 1 < hasLen.length && hasLen[i + 1] === 1) (lens[k] = i + 1), (hashes[k++] = h);
      } else h = Math.imul(h ^ c, FNV_PRIME);
    }
    let e = n < hasLen.length && hasLen[n] === 1 ? this.#probe(path, n, h, port, host, method) : null;
    while (e === null && k > 0) {
      k--;
      e = this.#probe(path, lens[k]!, hashes[k]!, port, host, method);
    }
    return e === null ? null : e.route;
  }

  /** The best applicable route whose path is path[0, len), hashed to h. */
  #probe(path: string, len: number, h: number, port: number, host: string, method: string): Entry<R> | null {
    const slots = this.#slots;
    const blob = this.#blob;
    for (let j = (h & this.#mask) * 4; ; j = (j + 4) & (this.#mask * 4 + 3)) {
      const b = slots[j + 3]!;
      if (b === -1) return null;
      if (slots[j] !== h || slots[j + 1] !== len) continue;
      const off = slots[j + 2]!;
      let i = 0;
      while (i < len && blob.charCodeAt(off + i) === path.charCodeAt(i)) i++;
      if (i === len) return pick(this.#buckets[b]!, port, host, method);
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

// Scratch for #lookup's candidates, shared by all tables: lookups are
// synchronous and never re-entered. Grows (rarely) for paths with many '/'.
let candLen: Int32Array = new Int32Array(64);
let candHash: Int32Array = new Int32Array(64);
function grow(used: number): [Int32Array, Int32Array] {
  const l = new Int32Array(Math.max(64, used * 2));
  const h = new Int32Array(l.length);
  l.set(candLen.subarray(0, used));
  h.set(candHash.subarray(0, used));
  candLen = l;
  candHash = h;
  return [l, h];
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
