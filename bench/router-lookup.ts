// Router microbenchmark: build time, heap and median ns per lookup for tables of
// 10, 10 000 and 100 000 routes from a fixed corpus, with the lookup cache warm
// and disabled. Prints one JSON object. `node dist/bench/router-lookup.js`
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RouteTable, type Matchable } from '../src/router/route-table.js';
import type { RouteMatch } from '../src/resources.js';

const SIZES = [10, 10_000, 100_000];
const LOOKUPS = 10_000;
const BATCH = 16; // lookups per timer read: one hrtime call costs about as much as a lookup
const ROUNDS = 5;
const TRIALS = 3; // best median of these: the box may be shared, noise only adds time

interface Route extends Matchable {
  upstream: string;
}
interface Lookup {
  port: number;
  host: string | undefined;
  method: string;
  path: string;
}

/** Deterministic PRNG (mulberry32) so every run sees the same corpus. */
function rng(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) % n) as number;
  };
}

const WORDS = ['api', 'v1', 'v2', 'orders', 'users', 'items', 'search', 'static', 'img', 'auth', 'cart', 'admin', 'reports', 'feed', 'media', 'ws'];
const METHODS = [['GET'], ['GET', 'HEAD'], ['POST'], ['PUT', 'PATCH', 'DELETE']];

export function corpus(n: number): Route[] {
  const rnd = rng(n);
  const routes: Route[] = [];
  for (let i = 0; i < n; i++) {
    const depth = 1 + rnd(4); // 1-4 segments
    const segs = [`svc${rnd(Math.max(1, n >> 3))}`];
    for (let d = 1; d < depth; d++) segs.push(WORDS[rnd(WORDS.length)]!);
    const match: RouteMatch = { path: '/' + segs.join('/') };
    const h = rnd(100);
    if (h < 15) match.host = `h${rnd(1000)}.example.com`;
    else if (h < 20) match.host = `*.t${rnd(100)}.example.com`;
    if (rnd(5) === 0) match.methods = METHODS[rnd(METHODS.length)]!;
    if (rnd(20) === 0) match.port = 8081;
    routes.push({ id: `r${i}`, match, upstream: `u${i % 100}` });
  }
  return routes;
}

export function lookups(routes: Route[]): Lookup[] {
  const rnd = rng(12345);
  const out: Lookup[] = [];
  for (let i = 0; i < LOOKUPS; i++) {
    const r = routes[rnd(routes.length)]!;
    let path = rnd(5) === 0 ? `/miss${rnd(1000)}/x` : r.match.path; // ~20% paths no route prefixes
    for (let k = rnd(3); k > 0; k--) path += '/' + (rnd(2) ? WORDS[rnd(WORDS.length)] : String(rnd(100_000)));
    const host = r.match.host && rnd(10) < 7 ? r.match.host.replace('*', `x${rnd(9)}`) : rnd(2) ? `h${rnd(1000)}.example.com:8080` : undefined;
    out.push({ port: rnd(20) === 0 ? 8081 : 8080, host, method: rnd(4) === 0 ? 'POST' : 'GET', path });
  }
  return out;
}

/** Best of TRIALS runs of trial(). */
function time(table: RouteTable<Route>, ls: Lookup[]): { medianNs: number; meanNs: number; hits: number } {
  let best = trial(table, ls);
  for (let i = 1; i < TRIALS; i++) {
    const t = trial(table, ls);
    if (t.medianNs < best.medianNs) best = t;
  }
  return best;
}

/** Median and mean ns per lookup, timed in batches after one warm-up pass. */
function trial(table: RouteTable<Route>, ls: Lookup[]): { medianNs: number; meanNs: number; hits: number } {
  let hits = 0;
  const per: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    for (let i = 0; i + BATCH <= ls.length; i += BATCH) {
      const t0 = process.hrtime.bigint();
      for (let j = i; j < i + BATCH; j++) {
        const l = ls[j]!;
        if (table.match(l.port, l.host, l.method, l.path) !== null) hits++;
      }
      const dt = Number(process.hrtime.bigint() - t0) / BATCH;
      if (round > 0) per.push(dt); // round 0 warms the JIT (and the cache)
    }
  }
  per.sort((a, b) => a - b);
  const mean = per.reduce((a, b) => a + b, 0) / per.length;
  return { medianNs: Math.round(per[per.length >> 1]!), meanNs: Math.round(mean), hits: hits / (ROUNDS + 1) };
}

function gcFn(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** JS heap plus ArrayBuffer backing stores (the table's index is an Int32Array). */
function mem(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** One table size; its own frame so nothing of it is live when the next one measures heap. */
function measure(n: number, gc: () => void) {
  const routes = corpus(n);
  const ls = lookups(routes);
  gc();
  const heap0 = mem();
  const t0 = performance.now();
  const cold = new RouteTable(routes, { cacheSize: 0 });
  const buildMs = performance.now() - t0;
  gc();
  const heapMB = (mem() - heap0) / 2 ** 20;
  const coldT = time(cold, ls);
  gc();
  const heap1 = mem();
  const warm = new RouteTable(routes); // default cache of 10 000
  const warmT = time(warm, ls);
  gc();
  const cacheMB = (mem() - heap1) / 2 ** 20 - heapMB; // the full cache alone
  return {
    routes: n,
    buildMs: +buildMs.toFixed(1),
    tableMB: +heapMB.toFixed(2),
    hitRate: +(coldT.hits / ls.length).toFixed(3),
    coldNs: { median: coldT.medianNs, mean: coldT.meanNs },
    warmNs: { median: warmT.medianNs, mean: warmT.meanNs, cacheEntries: warm.cacheSize, cacheMB: +cacheMB.toFixed(2) },
  };
}

export async function main(): Promise<void> {
  const gc = gcFn();
  const results = SIZES.map((n) => measure(n, gc));
  const load = loadavg()[0]!.toFixed(2);
  console.log(JSON.stringify({ node: process.version, loadavg1m: load, lookups: LOOKUPS, batch: BATCH, rounds: ROUNDS, trials: TRIALS, results }, null, 2));
}

if (import.meta.url === `file://${process.argv[1]}`) main();
