import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { ConfigErrorDetail, ListenerPolicy, RouteSpec, UpstreamSpec } from '../resources.js';
import type { RequestMetrics } from '../proxy/request-metrics.js';
import { CompiledRoute } from '../router/compiled-route.js';
import type { Generation, GoodEntry } from '../router/generation.js';
import { RouteTable } from '../router/route-table.js';
import { CompiledPool } from '../upstreams/pool.js';
import type { UpstreamRuntimes } from '../upstreams/pool-runtime.js';
import { DEFAULT_DRAIN_TIMEOUT_MS } from '../upstreams/pool-runtime.js';
import type { DiscoveryRegistry } from '../upstreams/discovery/discovery-registry.js';
import type { TargetRegistry } from '../upstreams/target-registry.js';
import { originOf } from '../upstreams/target.js';
import { CompiledUpstream } from '../upstreams/upstream.js';
import type { RouteStatus } from './gateway-view.js';
import type { StoreSnapshot, StoredEntry } from './store.js';
import { parseStoredRoute, parseStoredUpstream } from './validate.js';

export interface CompileDeps {
  registry: TargetRegistry;
  runtimes: UpstreamRuntimes;
  policy: ListenerPolicy;
  metrics: RequestMetrics;
  configErrors: Counter<'kind'>;
  logger: Logger;
  /** --max-body-size: the body limit of routes without maxBodyBytes (0 = unlimited). */
  maxBodySize?: number;
  /** Sources of `process`, `dns` and `registry` pools; without it such pools are empty. */
  discovery?: DiscoveryRegistry;
}

type Parsed<S> = { ok: true; value: S } | { ok: false; errors: ConfigErrorDetail[] };

/**
 * Validates every stored entry, reusing the previous generation's result when
 * the stored text is unchanged. An invalid entry is reported and its last
 * good version (if any) keeps serving: one bad entry never blocks the rest.
 */
function validateAll<S>(
  kind: 'routes' | 'upstreams',
  entries: ReadonlyMap<string, StoredEntry>,
  prevGood: ReadonlyMap<string, GoodEntry<S>> | undefined,
  prevErrors: ReadonlyMap<string, ConfigErrorDetail[]> | undefined,
  parse: (raw: string, id: string) => Parsed<S>,
  deps: CompileDeps,
): { good: Map<string, GoodEntry<S>>; errors: Map<string, ConfigErrorDetail[]> } {
  const good = new Map<string, GoodEntry<S>>();
  const errors = new Map<string, ConfigErrorDetail[]>();
  for (const [id, entry] of entries) {
    const prev = prevGood?.get(id);
    if (prev && prev.raw === entry.raw) {
      good.set(id, prev);
      continue;
    }
    const prevErr = prevErrors?.get(id);
    const r = parse(entry.raw, id);
    if (r.ok) {
      good.set(id, { raw: entry.raw, spec: r.value });
      continue;
    }
    errors.set(id, r.errors);
    if (prev) good.set(id, prev);
    // Report once per bad value, not on every later rebuild.
    if (!prevErr || JSON.stringify(prevErr) !== JSON.stringify(r.errors)) {
      deps.configErrors.inc({ kind });
      deps.logger.error({ key: `${kind}/${id}`, errors: r.errors }, 'invalid config entry skipped; last good version keeps serving');
    }
  }
  return { good, errors };
}

/**
 * `drains` collects targets their discovery source takes out of rotation
 * (a registrar marked them draining), with the upstream's drain timeout.
 */
function compileUpstream(spec: UpstreamSpec, deps: CompileDeps, live: Set<string>, drains: Map<string, number>): CompiledUpstream {
  const pools: CompiledPool[] = [];
  const runtime = deps.runtimes.get(spec.name);
  for (const [name, pool] of Object.entries(spec.pools)) {
    let urls: readonly string[] = pool.targets ?? [];
    if (!pool.targets) {
      const found = deps.discovery?.pool(spec, name, pool) ?? { targets: [], draining: [] };
      urls = found.targets;
      for (const url of found.draining) drains.set(originOf(url), spec.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    }
    const targets = urls.map((url) => {
      const origin = originOf(url);
      live.add(origin);
      const t = deps.registry.acquire(origin);
      t.configure(spec.healthCheck, spec.slowStartMs ?? 0);
      return t;
    });
    pools.push(new CompiledPool(name, spec.weights?.[name] ?? 0, targets, spec.balancer ?? 'round-robin', runtime.pool(name)));
  }
  return new CompiledUpstream(spec.name, pools);
}

/** Applies target drains (drainTargets of every upstream, and discovered ones in `drains`) to the live targets. */
function applyTargetDrains(ups: ReadonlyMap<string, GoodEntry<UpstreamSpec>>, deps: CompileDeps, drains: Map<string, number>): void {
  for (const { spec } of ups.values()) {
    for (const url of spec.drainTargets ?? []) drains.set(originOf(url), spec.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
  }
  for (const t of deps.registry.all) t.setDraining(drains.has(t.origin), drains.get(t.origin) ?? 0);
}

/** snapshot -> validated resources -> compiled, immutable generation. */
export function compileGeneration(snapshot: StoreSnapshot, prev: Generation | null, deps: CompileDeps): { generation: Generation; liveOrigins: Set<string> } {
  const routes = validateAll<RouteSpec>('routes', snapshot.routes, prev?.goodRoutes, prevRouteErrors(prev), (raw, id) => parseStoredRoute(raw, deps.policy, id), deps);
  const ups = validateAll<UpstreamSpec>('upstreams', snapshot.upstreams, prev?.goodUpstreams, prev?.upstreamErrors, (raw, id) => parseStoredUpstream(raw, id), deps);

  const liveOrigins = new Set<string>();
  const upstreams = new Map<string, CompiledUpstream>();
  const drains = new Map<string, number>();
  deps.discovery?.beginCompile();
  for (const [name, { spec }] of ups.good) upstreams.set(name, compileUpstream(spec, deps, liveOrigins, drains));
  applyTargetDrains(ups.good, deps, drains);
  deps.discovery?.endCompile();

  const compiled: CompiledRoute[] = [];
  const routeStatus = new Map<string, RouteStatus>();
  const ports = new Set<number>();
  for (const [id, { spec }] of routes.good) {
    const upstream = upstreams.get(spec.upstream) ?? null;
    const strip = spec.stripPrefix ? spec.match.path.replace(/\/+$/, '') || '/' : null;
    compiled.push(new CompiledRoute(id, spec.match, spec.upstream, upstream, strip === '/' ? null : strip, spec.timeoutMs ?? 30000, spec.retries ?? 1, deps.metrics.series(id, spec.upstream), spec.maxBodyBytes ?? deps.maxBodySize ?? 0, spec.redirectHttps === true));
    if (spec.match.port !== undefined) ports.add(spec.match.port);
    routeStatus.set(id, upstream ? { status: 'active' } : { status: 'unresolved', reason: `upstream "${spec.upstream}" does not exist` });
  }
  for (const [id, errors] of routes.errors) routeStatus.set(id, { status: 'invalid', errors });

  const generation: Generation = {
    revision: snapshot.revision,
    table: new RouteTable(compiled),
    upstreams,
    routeStatus,
    upstreamErrors: ups.errors,
    goodRoutes: routes.good,
    goodUpstreams: ups.good,
    ports,
  };
  return { generation, liveOrigins };
}

function prevRouteErrors(prev: Generation | null): Map<string, ConfigErrorDetail[]> | undefined {
  if (!prev) return undefined;
  const m = new Map<string, ConfigErrorDetail[]>();
  for (const [id, s] of prev.routeStatus) if (s.status === 'invalid') m.set(id, s.errors);
  return m;
}
