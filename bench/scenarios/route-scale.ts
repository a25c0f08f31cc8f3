// (d) route table scale: 10, 10 000 and 100 000 routes.
//
// 1. Lookup cost: bench/router-lookup.ts (its main, in a child process)
//    gives the median ns per lookup of the route table alone, cache disabled
//    ("cold", the acceptance figure) and with the gateway's default cache.
//    Rebuild cost: bench/rebuild.ts (child process) times compileGeneration
//    in process: a full build of the table from scratch, one route changed
//    (with and without the store's change hint), 512 changed.
// 2. Loading: one etcd; per size a key prefix of its own. A gateway runs on
//    the empty prefix (just the upstream), then the routes are bulk-loaded
//    straight into etcd, txns of 128 puts, 4 in flight. Measured: first put
//    sent -> /readyz appliedRevision reaches the last revision ("load +
//    apply"), and last put acknowledged -> applied ("bulk catch-up": how far
//    the running gateway is behind the writes when they stop).
//    Then single-route changes (route `bench`, timeoutMs toggled) through
//    etcd: put sent -> applied. Then a fresh gateway is started on the loaded
//    prefix: spawn -> ready at that revision ("fresh start"); its first table
//    apply (compile + swap of every route, switchyard_config_apply_seconds)
//    is the full rebuild of the acceptance check.
// 3. End to end: the fresh gateways of every size under autocannon on
//    `GET /svc4999/orders/42?x=1` (a route among them), interleaved rounds,
//    CPU µs/req; the gateway's RSS (VmRSS) after loading and after the load.
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { check, checksMarkdown, ms } from '../lib/checks.js';
import { bulkPut, putRoute, putUpstream, routeEntries, startBenchEtcd } from '../lib/etcd.js';
import { applyStats, startGateway, waitForRevision, type Gateway } from '../lib/gateway.js';
import { httpRequest } from '../lib/http.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { f0, f1, f2, mdTable } from '../lib/md.js';
import { benchScript } from '../lib/paths.js';
import { cpuTicks, statusKb, ticksToMicros, waitIdle } from '../lib/proc-cpu.js';
import { startProcess } from '../lib/spawn.js';
import { median } from '../lib/stats.js';
import type { CustomContext, CustomReport, ScenarioModule } from '../lib/types.js';
import { startNodeUpstream } from '../lib/upstream.js';
import type { RouteSpec } from '../../src/resources.js';
import { BENCH_UPSTREAM } from '../candidates/switchyard.js';
import { BENCH_PATH, routes10k } from './routes-10k.js';
import type { RebuildRow } from '../rebuild.js';

const SIZES = [10, 10_000, 100_000];

interface LookupRow {
  routes: number;
  buildMs: number;
  tableMB: number;
  coldNs: { median: number; mean: number };
  warmNs: { median: number; mean: number };
}

/** A bench script's main() in a child process (bench/router-lookup.ts, bench/rebuild.ts); its JSON. */
async function childBench<T>(script: string): Promise<{ loadavg1m: string; results: T[] }> {
  const p = await startProcess({
    name: script,
    command: process.execPath,
    args: [benchScript(script)],
    ready: [/^\}\s*$/m],
    timeoutMs: 180_000,
  });
  try {
    return JSON.parse(p.output()) as { loadavg1m: string; results: T[] };
  } finally {
    await p.stop();
  }
}

interface SizeResult {
  routes: number;
  bulk: { txns: number; writeMs: number; loadApplyMs: number; rebuildAfterLastPutMs: number; revision: number; applies: number; applyMs: number };
  /** put sent -> applied, ms, one per change. */
  oneRouteChangeMs: number[];
  /** Mean compile + swap time of those changes (gateway metrics), ms. */
  oneRouteApplyMs: number;
  freshStartMs: number;
  /** Compile + swap of the fresh gateway's first table (gateway metrics), ms. */
  freshApplyMs: number;
  rssAfterLoadMB: number;
  /** RSS of the gateway that took the bulk load and the one-route changes, at the end. */
  rssBulkMB: number;
  rssAfterRunMB?: number;
  hwmMB?: number;
  runs: { round: number; load: LoadResult; cpuMicrosPerReq: number }[];
  error?: string;
}

export const routeScale: ScenarioModule = {
  name: 'route-scale',
  summary: 'route table of 10 / 10 000 / 100 000 routes: lookup ns, etcd bulk load + rebuild, one-route change, fresh start, RSS, req/s',
  create: () => ({
    kind: 'custom',
    name: 'route-scale',
    title: 'route table scale: 10, 10 000 and 100 000 routes on etcd',
    run,
  }),
};

async function run(ctx: CustomContext): Promise<CustomReport> {
  const { env, settings, log } = ctx;
  const quick = settings.quick;

  log('route-scale: router-lookup microbenchmark (child process)');
  const lookup = await childBench<LookupRow>('router-lookup');
  log('route-scale: rebuild microbenchmark (child process)');
  const rebuild = await childBench<RebuildRow>('rebuild');
  for (const r of rebuild.results) {
    log(`route-scale ${r.routes}: compile from scratch ${r.fullMs} ms; one route changed ${r.oneHintMs} ms (hint) / ${r.oneNoHintMs} ms (no hint); 512 changed ${r.batch512HintMs} ms`);
  }

  const etcd = await startBenchEtcd();
  const upstream = await startNodeUpstream({ cpu: env.upstreamCpu });
  const gateways: Gateway[] = [];
  const results: SizeResult[] = [];
  const stateRoot = mkdtempSync(path.join(env.tmpRoot, 'scale-state-'));
  let n = 0;
  const gwStart = (size: number, prefix: string, what: string) =>
    startGateway({
      name: `switchyard ${size} routes (${what})`,
      store: etcd.storeUri,
      args: ['--prefix', prefix, '--node-id', `scale-${size}-${what}`, '--state-dir', path.join(stateRoot, String(n++))],
      cpu: env.proxyCpu,
      timeoutMs: 120_000,
      env: { SWITCHYARD_ETCD_TIMEOUT_MS: '10000' },
    });
  const fresh = new Map<number, Gateway>();
  try {
    for (const size of SIZES) {
      const prefix = `/bench-scale-${size}/`;
      const res: SizeResult = {
        routes: size,
        bulk: { txns: 0, writeMs: NaN, loadApplyMs: NaN, rebuildAfterLastPutMs: NaN, revision: 0, applies: NaN, applyMs: NaN },
        oneRouteChangeMs: [],
        oneRouteApplyMs: NaN,
        freshStartMs: NaN,
        freshApplyMs: NaN,
        rssAfterLoadMB: NaN,
        rssBulkMB: NaN,
        runs: [],
      };
      results.push(res);
      try {
        const up = await putUpstream(etcd.client, prefix, { name: BENCH_UPSTREAM, pools: { main: { targets: [upstream.url] } }, weights: { main: 100 } });
        const routes = routes10k(size);
        const bench = routes.find((r) => r.id === 'bench')!;
        const gw = await gwStart(size, prefix, 'bulk');
        gateways.push(gw);
        await waitForRevision(gw, up.revision, 30_000, 10);
        const a0 = await applyStats(gw.adminUrl);
        const bulk = await bulkPut(etcd.client, routeEntries(prefix, routes), { batch: 128, concurrency: 4 });
        res.bulk.txns = bulk.txns;
        res.bulk.writeMs = bulk.writeMs;
        res.bulk.revision = bulk.revision;
        {
          const applied = await waitForRevision(gw, bulk.revision, 150_000, 2);
          const a1 = await applyStats(gw.adminUrl);
          res.bulk.loadApplyMs = applied - bulk.firstSentAt;
          res.bulk.rebuildAfterLastPutMs = applied - bulk.lastAckAt;
          res.bulk.applies = a1.count - a0.count;
          res.bulk.applyMs = a1.sumMs - a0.sumMs;
          log(
            `route-scale ${size}: ${bulk.txns} txns written in ${bulk.writeMs.toFixed(0)} ms; applied ${res.bulk.loadApplyMs.toFixed(0)} ms after the first put, ` +
              `${res.bulk.rebuildAfterLastPutMs.toFixed(0)} ms after the last; ${res.bulk.applies} table rebuilds took ${res.bulk.applyMs.toFixed(0)} ms in all`,
          );
        }

        // One-route changes on a loaded table: put sent -> /readyz shows it.
        let revision = bulk.revision;
        const changes = size >= 100_000 ? (quick ? 3 : 5) : quick ? 5 : 15;
        const oneRouteChanges = async (g: Gateway) => {
          await waitIdle([g.proc.pid], { timeoutMs: 15_000 });
          const c0 = await applyStats(g.adminUrl);
          for (let i = 0; i < changes; i++) {
            await sleep(150); // let the previous rebuild settle
            const changed: RouteSpec = { ...bench, timeoutMs: 30_000 + ((i + 1) % 2) };
            const put = await putRoute(etcd.client, prefix, changed);
            const t = await waitForRevision(g, put.revision, 30_000, 1);
            res.oneRouteChangeMs.push(t - put.sentAt);
            revision = put.revision;
          }
          const c1 = await applyStats(g.adminUrl);
          res.oneRouteApplyMs = (c1.sumMs - c0.sumMs) / (c1.count - c0.count);
          log(`route-scale ${size}: one-route change applied in ${res.oneRouteChangeMs.map((x) => x.toFixed(0)).join(', ')} ms (rebuild ${res.oneRouteApplyMs.toFixed(0)} ms each)`);
        };
        await oneRouteChanges(gw);
        res.rssBulkMB = statusKb(gw.proc.pid, 'VmRSS') / 1024;
        await gw.proc.stop(5000);

        // A fresh gateway on the loaded prefix.
        const t0 = performance.now();
        const g2 = await gwStart(size, prefix, 'fresh');
        gateways.push(g2);
        const ready = await waitForRevision(g2, revision, 120_000, 2);
        res.freshStartMs = ready - t0;
        const fa = await applyStats(g2.adminUrl);
        res.freshApplyMs = fa.count > 0 ? fa.sumMs / fa.count : NaN;
        const probe = await httpRequest(g2.dataUrl + BENCH_PATH);
        if (probe.status !== 200) throw new Error(`GET ${BENCH_PATH} on the fresh ${size}-route gateway: ${probe.status}`);
        await sleep(500);
        res.rssAfterLoadMB = statusKb(g2.proc.pid, 'VmRSS') / 1024;
        log(`route-scale ${size}: fresh gateway ready in ${res.freshStartMs.toFixed(0)} ms, RSS ${res.rssAfterLoadMB.toFixed(0)} MB`);
        fresh.set(size, g2);
      } catch (err) {
        res.error = (err as Error).message.split('\n')[0];
        log(`route-scale ${size}: FAILED: ${(err as Error).message}`);
      }
    }

    // Let the fresh gateways finish loading (GC, last-known-good file) first.
    const idle = await waitIdle([...fresh.values()].map((g) => g.proc.pid), { maxPct: 5, timeoutMs: 30_000 });
    log(`route-scale: gateways at ${idle.toFixed(1)} % CPU before the load runs`);
    // End to end, interleaved: round 1 (10, 10k, 100k), round 2 ...
    for (let round = 1; round <= settings.rounds; round++) {
      for (const res of results) {
        const gw = fresh.get(res.routes);
        if (!gw) continue;
        const load = { url: gw.dataUrl, request: { method: 'GET' as const, path: BENCH_PATH }, connections: settings.connections, durationS: settings.durationS };
        try {
          if (settings.warmupS > 0) await runLoad({ ...load, durationS: settings.warmupS });
          const c0 = cpuTicks(gw.proc.pid);
          const r = await runLoad(load);
          const c1 = cpuTicks(gw.proc.pid);
          const cpu = r.responses ? ticksToMicros(c1 - c0) / r.responses : NaN;
          res.runs.push({ round, load: r, cpuMicrosPerReq: cpu });
          log(
            `[route-scale ${round}/${settings.rounds}] ${`${res.routes} routes`.padEnd(14)} ${f0(r.rps).padStart(7)} req/s  p99 ${r.p99Ms.toFixed(2)} ms  ` +
              `err ${r.errors}/${r.non2xx}  cpu ${cpu.toFixed(1)} µs/req`,
          );
        } catch (err) {
          log(`route-scale ${res.routes}, round ${round}: FAILED: ${(err as Error).message}`);
        }
        await sleep(200);
      }
    }
    for (const res of results) {
      const gw = fresh.get(res.routes);
      if (!gw) continue;
      res.rssAfterRunMB = statusKb(gw.proc.pid, 'VmRSS') / 1024;
      res.hwmMB = statusKb(gw.proc.pid, 'VmHWM') / 1024;
    }
  } finally {
    await Promise.all(gateways.map((g) => g.proc.stop(5000).catch(() => undefined)));
    await upstream.stop();
    await etcd.close();
  }

  const bySize = (s: number) => results.find((r) => r.routes === s);
  const lk = (s: number) => lookup.results.find((r) => r.routes === s);
  const r10k = bySize(10_000);
  const r100k = bySize(100_000);
  const rb = (s: number) => rebuild.results.find((r) => r.routes === s);
  const checks = [
    check('100 000 routes: median lookup, cache off', lk(100_000)?.coldNs.median ?? NaN, '<=', 1000, (x) => `${f0(x)} ns`),
    check('100 000 routes: full rebuild (fresh gateway\'s first table: compile + swap)', r100k?.freshApplyMs ?? NaN, '<=', 1000, ms(0),
      `in process, bench/rebuild.ts: ${f0(rb(100_000)?.fullMs ?? NaN)} ms`),
    check('100 000 routes: bulk catch-up, last put -> applied', r100k?.bulk.rebuildAfterLastPutMs ?? NaN, '<=', 1000, ms(0),
      `bulk load into a running gateway, ${f0(r100k?.bulk.writeMs ?? NaN)} ms of writes`),
    check('100 000 routes: one-route change, put -> applied (median)', median(r100k?.oneRouteChangeMs ?? []), '<=', 100, ms(0)),
    check('100 000 routes: gateway RSS (max of after load / after the runs)', Math.max(r100k?.rssAfterLoadMB ?? NaN, r100k?.rssAfterRunMB ?? NaN), '<=', 300, (x) => `${x.toFixed(0)} MB`,
      `the bulk-loaded gateway: ${f0(r100k?.rssBulkMB ?? NaN)} MB`),
    check('10 000 routes: bulk load into a running gateway, first put -> applied', r10k?.bulk.loadApplyMs ?? NaN, '<', 2000, ms(0)),
    check('10 000 routes: fresh gateway, spawn -> ready', r10k?.freshStartMs ?? NaN, '<', 2000, ms(0)),
    check('10 000 routes: one-route change, put -> applied (median)', median(r10k?.oneRouteChangeMs ?? []), '<', 50, ms(0)),
  ];

  const lookupTable = mdTable(
    ['routes', 'build ms', 'table MB', 'lookup ns, cache off (median / mean)', 'lookup ns, default cache (median / mean)'],
    lookup.results.map((r) => [f0(r.routes), f1(r.buildMs), f2(r.tableMB), `${f0(r.coldNs.median)} / ${f0(r.coldNs.mean)}`, `${f0(r.warmNs.median)} / ${f0(r.warmNs.mean)}`]),
  );
  const rebuildTable = mdTable(
    ['routes', 'from scratch ms', 'one route changed, with the store\'s hint ms', 'one route changed, no hint ms', '512 changed, hint ms', 'generation heap MB'],
    rebuild.results.map((r) => [f0(r.routes), f1(r.fullMs), f2(r.oneHintMs), f2(r.oneNoHintMs), f1(r.batch512HintMs), f1(r.heapMB)]),
  );
  const maxOf = (xs: number[]) => (xs.length ? Math.max(...xs) : NaN);
  const loadTable = mdTable(
    [
      'routes', 'etcd txns', 'bulk write ms', 'load + apply ms', 'bulk catch-up: last put -> applied ms', 'rebuilds during the load (ms in all)',
      'one-route change ms (median / max)', 'its rebuild ms', 'fresh start ms (its table apply ms)', 'RSS MB of the bulk-loaded gateway', 'RSS MB fresh gateway after load / after runs (peak)',
    ],
    results.map((r) => [
      f0(r.routes),
      f0(r.bulk.txns),
      f0(r.bulk.writeMs),
      f0(r.bulk.loadApplyMs),
      f0(r.bulk.rebuildAfterLastPutMs),
      `${f0(r.bulk.applies)} (${f0(r.bulk.applyMs)})`,
      `${f1(median(r.oneRouteChangeMs))} / ${f1(maxOf(r.oneRouteChangeMs))}`,
      f1(r.oneRouteApplyMs),
      `${f0(r.freshStartMs)} (${f0(r.freshApplyMs)})`,
      f0(r.rssBulkMB),
      `${f0(r.rssAfterLoadMB)} / ${f0(r.rssAfterRunMB ?? NaN)} (${f0(r.hwmMB ?? NaN)})`,
    ]),
  );
  const e2eTable = mdTable(
    ['routes', 'req/s', 'p50 ms', 'p99 ms', 'errors / non-2xx', 'CPU µs/req', 'req/s by round', 'CPU µs/req by round'],
    results.map((r) => [
      f0(r.routes),
      f0(median(r.runs.map((x) => x.load.rps))),
      f2(median(r.runs.map((x) => x.load.p50Ms))),
      f2(median(r.runs.map((x) => x.load.p99Ms))),
      r.runs.length ? `${r.runs.reduce((a, x) => a + x.load.errors, 0)} / ${r.runs.reduce((a, x) => a + x.load.non2xx, 0)}` : '—',
      f1(median(r.runs.map((x) => x.cpuMicrosPerReq))),
      r.runs.map((x) => f0(x.load.rps)).join(' · '),
      r.runs.map((x) => f1(x.cpuMicrosPerReq)).join(' · '),
    ]),
  );
  const errors = results.filter((r) => r.error).map((r) => `- ${r.routes} routes failed: ${r.error}`);
  const markdown = [
    '## route-scale: route table scale, 10 / 10 000 / 100 000 routes on etcd',
    '',
    `Route lookup alone (bench/router-lookup.ts, 10 000 lookups, ~20 % misses; load average ${lookup.loadavg1m} when it ran):`,
    '',
    lookupTable,
    '',
    `Rebuild alone (bench/rebuild.ts: compileGeneration in process, median ms; the hint is the changed ids an etcd watch event carries; load average ${rebuild.loadavg1m} when it ran):`,
    '',
    rebuildTable,
    '',
    'Loading through etcd (routes written straight into etcd, txns of 128 puts, 4 in flight; times until `/readyz` shows the revision; ' +
      'rebuild and apply figures from the gateway\'s `switchyard_config_apply_seconds`; fresh start = spawn until `/readyz` is ready at the revision, ' +
      'most of it Node start-up and module loading, as the 10-route row shows):',
    '',
    loadTable,
    '',
    `End to end: \`GET ${BENCH_PATH}\` (route \`bench\` among them), autocannon -c ${settings.connections}, ${settings.rounds} interleaved rounds × ${settings.durationS} s, gateway on etcd (fresh start above):`,
    '',
    e2eTable,
    '',
    'Acceptance:',
    '',
    checksMarkdown(checks),
    ...(errors.length ? ['', ...errors] : []),
  ].join('\n');
  return {
    markdown,
    data: { lookup, rebuild, sizes: results },
    checks,
    failed: results.some((r) => r.error !== undefined),
  };
}
