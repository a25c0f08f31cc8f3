// Rebuild microbenchmark: compileGeneration (validate + compile + route
// table) in process, for 10, 10 000 and 100 000 routes of the routes-10k
// corpus on one upstream. Per size, median ms of:
// - full: a table from scratch (no previous generation: a fresh start or a
//   re-list), the "full rebuild" of issue 7;
// - one route changed, with the store's change hint (what an etcd watch
//   event gives) and without it (every entry compared: the file store);
// - 512 routes changed with the hint (a bulk load's watch batch).
// Prints one JSON object. `node dist/bench/rebuild.js`
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { Counter } from 'prom-client';
import { compileGeneration, type CompileDeps } from '../src/control/config-compiler.js';
import type { StoredEntry } from '../src/control/store.js';
import { RequestMetrics } from '../src/proxy/request-metrics.js';
import type { Generation } from '../src/router/generation.js';
import { UpstreamRuntimes } from '../src/upstreams/pool-runtime.js';
import { TargetRegistry } from '../src/upstreams/target-registry.js';
import { BENCH_UPSTREAM } from './candidates/switchyard.js';
import { routes10k } from './scenarios/routes-10k.js';

const SIZES = [10, 10_000, 100_000];

export interface RebuildRow {
  routes: number;
  /** Median ms per compile. */
  fullMs: number;
  oneHintMs: number;
  oneNoHintMs: number;
  batch512HintMs: number;
  heapMB: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

function deps(): CompileDeps {
  return {
    registry: new TargetRegistry(),
    runtimes: new UpstreamRuntimes(),
    policy: { listenPorts: new Set([8080]), portRange: null },
    metrics: new RequestMetrics(),
    configErrors: new Counter({ name: 'bench_config_errors', help: 'x', labelNames: ['kind'] as const, registers: [] }),
    logger: pino({ level: 'silent' }),
    maxBodySize: 0,
  };
}

function measure(n: number, gc: () => void): RebuildRow {
  const d = deps();
  let rev = 1;
  const routes = new Map<string, StoredEntry>();
  const specs = routes10k(n);
  for (const r of specs) routes.set(r.id, { id: r.id, raw: JSON.stringify(r), modRevision: rev++ });
  const upstream = { name: BENCH_UPSTREAM, pools: { main: { targets: ['http://127.0.0.1:9'] } }, weights: { main: 100 } };
  const upstreams = new Map([[BENCH_UPSTREAM, { id: BENCH_UPSTREAM, raw: JSON.stringify(upstream), modRevision: rev++ }]]);
  const time = (fn: () => Generation): [number, Generation] => {
    const t0 = performance.now();
    const g = fn();
    return [performance.now() - t0, g];
  };
  const runs = n >= 100_000 ? 3 : 7;
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const full: number[] = [];
  let gen: Generation | null = null;
  for (let i = 0; i < runs; i++) {
    const [ms, g] = time(() => compileGeneration({ revision: rev, routes, upstreams }, null, d).generation);
    full.push(ms);
    gen = g;
  }
  gc();
  const heapMB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  /** Changes `count` routes (timeoutMs), then compiles with or without the hint. */
  let k = 0;
  const change = (count: number, hint: boolean): number => {
    const ids = new Set<string>();
    for (let i = 0; i < count; i++) {
      const spec = specs[(k++ * 7919) % specs.length]!;
      const e = routes.get(spec.id)!;
      routes.set(spec.id, { id: spec.id, raw: JSON.stringify({ ...spec, timeoutMs: 30_000 + (k % 2) }), modRevision: ++rev });
      ids.add(e.id);
    }
    const snapshot = { revision: rev, routes: new Map(routes), upstreams };
    const [ms, g] = time(() => compileGeneration(snapshot, gen, d, hint ? { routes: ids, upstreams: new Set() } : null).generation);
    gen = g;
    return ms;
  };
  const reps = n >= 100_000 ? 9 : 21;
  const oneHint = Array.from({ length: reps }, () => change(1, true));
  const oneNoHint = Array.from({ length: Math.min(reps, 7) }, () => change(1, false));
  const batch = Array.from({ length: Math.min(reps, 7) }, () => change(Math.min(512, n), true));
  return {
    routes: n,
    fullMs: +median(full).toFixed(1),
    oneHintMs: +median(oneHint).toFixed(2),
    oneNoHintMs: +median(oneNoHint).toFixed(2),
    batch512HintMs: +median(batch).toFixed(1),
    heapMB: +heapMB.toFixed(1),
  };
}

export async function main(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const results = SIZES.map((n) => measure(n, gc));
  console.log(JSON.stringify({ node: process.version, loadavg1m: loadavg()[0]!.toFixed(2), results }, null, 2));
}

if (import.meta.url === `file://${process.argv[1]}`) main();
