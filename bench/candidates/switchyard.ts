// `switchyard`: the real CLI (`node dist/src/cli.js start`) with a file store.
// prepare() starts it once on a seed store directory and writes the upstream
// and the routes through the admin API (PUTs in parallel batches); every
// round then starts a fresh process on a copy of that directory, so seeding
// 10 000 routes happens once per scenario, not once per round.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startGateway, type Gateway } from '../lib/gateway.js';
import { httpRequest, jsonRequest } from '../lib/http.js';
import type { BenchEnv, Candidate, ScenarioContext } from '../lib/types.js';
import type { HealthCheckSpec, RouteSpec, UpstreamSpec } from '../../src/resources.js';
import { nodeFlags } from './node-flags.js';

/** The upstream every seeded route points to. */
export const BENCH_UPSTREAM = 'bench';

export interface SwitchyardOptions {
  /** Candidate name (default `switchyard`). */
  name?: string;
  /** Routes to load; they should point to BENCH_UPSTREAM. Default: one route `/`. */
  routes?: () => RouteSpec[];
  /** Concurrent admin PUTs while seeding (default 256: the file store group-commits, so more in flight means fewer table rebuilds). */
  concurrency?: number;
  /**
   * Candidates with the same key and the same routes share one seeded store
   * per run: the first seeds it through the admin API (slow: every PUT
   * rebuilds the table), later ones copy it and rewrite only the upstream.
   */
  seedKey?: string;
  /** Active health check on the benchmarked upstream. */
  healthCheck?: HealthCheckSpec;
  /** Path this candidate is loaded on instead of the scenario's (a route of `routes`). */
  requestPath?: string;
  /** More `switchyard start` flags for the measured process, e.g. ['--workers', '2']. */
  args?: string[];
  /** Pin to the proxy CPU under --pin (default true); false for `--workers 2`, which needs both CPUs. */
  pin?: boolean;
  /**
   * Called with the gateway pid once it serves (every round): e.g. check that
   * `--workers 2` really started worker processes. Throwing fails the round.
   */
  verify?: (pid: number) => Promise<void>;
  /** Another build's `dist/src/cli.js` for the measured process (A/B against a baseline build; seeding uses this one). */
  cli?: string;
  log?: (msg: string) => void;
}

async function startSwitchyard(env: BenchEnv, name: string, storeDir: string, nodeArgs: string[], extraArgs: string[] = [], pin = true, cli?: string): Promise<Gateway> {
  return startGateway({ name, store: `file:${storeDir}`, nodeArgs, args: extraArgs, cpu: pin ? env.proxyCpu : null, ...(cli ? { cli } : {}) });
}

/** seedKey -> a seeded store directory (in the run's scratch dir, removed with it). */
const seedCache = new Map<string, string>();

/** Runs `fn` over `items` with at most `limit` in flight. */
async function parallel<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function switchyard(opts: SwitchyardOptions = {}): Candidate {
  const name = opts.name ?? 'switchyard';
  const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
  let seedDir: string | null = null;
  let routeCount = 0;

  return {
    name,

    async prepare(ctx: ScenarioContext) {
      seedDir = mkdtempSync(path.join(ctx.env.tmpRoot, `${name}-seed-`));
      const routes = opts.routes ? opts.routes() : [{ id: 'bench', match: { path: '/' }, upstream: BENCH_UPSTREAM }];
      routeCount = routes.length;
      const upstream: UpstreamSpec = { name: BENCH_UPSTREAM, pools: { main: { targets: [ctx.upstream.url] } }, weights: { main: 100 } };
      if (opts.healthCheck) upstream.healthCheck = opts.healthCheck;
      const cached = opts.seedKey ? seedCache.get(opts.seedKey) : undefined;
      if (cached) cpSync(cached, seedDir, { recursive: true, filter: (src) => path.basename(src) !== 'lock' });
      const gw = await startSwitchyard(ctx.env, `${name} (seeding)`, seedDir, []);
      try {
        const t0 = performance.now();
        await jsonRequest(`${gw.adminUrl}/upstreams/${BENCH_UPSTREAM}`, 'PUT', upstream);
        if (!cached) await parallel(routes, opts.concurrency ?? 256, (r) => jsonRequest(`${gw.adminUrl}/routes/${encodeURIComponent(r.id)}`, 'PUT', r));
        const listed = (await jsonRequest(`${gw.adminUrl}/routes`, 'GET')) as { routes?: unknown[] } | unknown[] | null;
        const n = Array.isArray(listed) ? listed.length : Array.isArray(listed?.routes) ? listed.routes.length : NaN;
        if (Number.isFinite(n) && n !== routes.length) throw new Error(`${name}: seeded ${routes.length} routes, GET /routes lists ${n}`);
        if (routes.length > 1)
          log(
            cached
              ? `${name}: reused the store seeded with ${routes.length} routes earlier in this run (upstream rewritten)`
              : `${name}: seeded ${routes.length} routes through the admin API in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
          );
      } finally {
        await gw.proc.stop(5000);
      }
      if (opts.seedKey && !cached) {
        const keep = mkdtempSync(path.join(ctx.env.tmpRoot, `seed-cache-`));
        cpSync(seedDir, keep, { recursive: true, filter: (src) => path.basename(src) !== 'lock' });
        seedCache.set(opts.seedKey, keep);
      }
    },

    async start(ctx) {
      if (seedDir === null) throw new Error(`${name}: prepare() was not run`);
      const storeDir = mkdtempSync(path.join(ctx.env.tmpRoot, `${name}-r${ctx.round}-`));
      cpSync(seedDir, storeDir, { recursive: true, filter: (src) => path.basename(src) !== 'lock' });
      let gw: Gateway | null = null;
      try {
        const t0 = performance.now();
        gw = await startSwitchyard(ctx.env, name, storeDir, nodeFlags(ctx.env, name), opts.args, opts.pin ?? true, opts.cli);
        // Serving once the routing table is loaded: poll the benchmarked path.
        const requestPath = opts.requestPath ?? ctx.scenario.request.path;
        const probeUrl = gw.dataUrl + requestPath;
        const deadline = Date.now() + 60_000;
        for (;;) {
          const res = await httpRequest(probeUrl).catch(() => null);
          if (res?.status === 200) break;
          if (gw.proc.exited) throw new Error(`${name} exited:\n${gw.proc.output()}`);
          if (Date.now() > deadline) throw new Error(`${name}: ${probeUrl} never answered 200 (last ${res?.status ?? 'no answer'}) with ${routeCount} routes`);
          await new Promise((r) => setTimeout(r, 50));
        }
        if (routeCount > 1 && ctx.round === 1) log(`${name}: serving ${routeCount} routes ${((performance.now() - t0) / 1000).toFixed(1)} s after spawn`);
        if (opts.verify) await opts.verify(gw.proc.pid);
        const started = gw;
        return {
          url: started.dataUrl,
          pid: started.proc.pid,
          ...(opts.requestPath ? { path: opts.requestPath } : {}),
          stop: async () => {
            try {
              await started.proc.stop(5000);
            } finally {
              rmSync(storeDir, { recursive: true, force: true });
            }
          },
        };
      } catch (err) {
        await gw?.proc.stop(2000);
        rmSync(storeDir, { recursive: true, force: true });
        throw err;
      }
    },

    async cleanup() {
      if (seedDir) rmSync(seedDir, { recursive: true, force: true });
      seedDir = null;
    },
  };
}
