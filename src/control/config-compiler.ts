import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { ConfigErrorDetail, ListenerPolicy, RouteSpec, UpstreamSpec } from '../resources.js';
import type { RequestMetrics } from '../proxy/request-metrics.js';
import { CompiledRoute } from '../router/compiled-route.js';
import type { Generation, GoodEntry } from '../router/generation.js';
import { RouteTable, type Matchable } from '../router/route-table.js';
import { CompiledPool } from '../upstreams/pool.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, type PoolRuntime, type UpstreamRuntimes } from '../upstreams/pool-runtime.js';
import type { DiscoveryRegistry } from '../upstreams/discovery/discovery-registry.js';
import type { TargetRegistry } from '../upstreams/target-registry.js';
import { originOf, type Target } from '../upstreams/target.js';
import { CompiledUpstream } from '../upstreams/upstream.js';
import type { RouteStatus } from './gateway-view.js';
import { OverlayMap } from './overlay-map.js';
import { ReadonlyMapBase } from './readonly-map-base.js';
import type { SnapshotChanges, StoreSnapshot, StoredEntry } from './store.js';
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

interface Validated<S> {
  /** The good version of every entry (an invalid one keeps its last good version). */
  good: ReadonlyMap<string, GoodEntry<S>>;
  errors: Map<string, ConfigErrorDetail[]>;
  /** Entries whose good version is new since the previous generation (added or changed), in store order. */
  fresh: Map<string, GoodEntry<S>>;
  /** Ids the previous generation had that are gone from the store. */
  removed: string[];
}

/**
 * Validates the stored entries, reusing the previous generation's result when
 * the stored text is unchanged. An invalid entry is reported and its last
 * good version (if any) keeps serving: one bad entry never blocks the rest.
 * `only` (the ids changed since the snapshot `prevGood` came from) limits
 * the work to those; without it every entry is looked at (a map lookup and a
 * string comparison, usually by identity, for an unchanged one).
 */
function validateAll<S>(
  kind: 'routes' | 'upstreams',
  entries: ReadonlyMap<string, StoredEntry>,
  prevGood: ReadonlyMap<string, GoodEntry<S>> | undefined,
  prevErrors: ReadonlyMap<string, ConfigErrorDetail[]> | undefined,
  only: ReadonlySet<string> | null,
  parse: (raw: string, id: string) => Parsed<S>,
  deps: CompileDeps,
): Validated<S> {
  const fresh = new Map<string, GoodEntry<S>>();
  const errors = new Map<string, ConfigErrorDetail[]>();
  const removed: string[] = [];
  if (only && prevGood && prevErrors) {
    for (const [id, e] of prevErrors) if (!only.has(id)) errors.set(id, e);
  } else only = null;
  let carried = 0; // entries of prevGood still in the store
  for (const id of only ?? entries.keys()) {
    const entry = entries.get(id);
    const prev = prevGood?.get(id);
    if (!entry) {
      if (prev) removed.push(id);
      continue;
    }
    if (prev) {
      carried++;
      if (prev.raw === entry.raw) continue;
    }
    const prevErr = prevErrors?.get(id);
    const r = parse(entry.raw, id);
    if (r.ok) {
      fresh.set(id, { raw: entry.raw, spec: r.value });
      continue;
    }
    errors.set(id, r.errors);
    // Report once per bad value, not on every later rebuild.
    if (!prevErr || JSON.stringify(prevErr) !== JSON.stringify(r.errors)) {
      deps.configErrors.inc({ kind });
      deps.logger.error({ key: `${kind}/${id}`, errors: r.errors }, 'invalid config entry skipped; last good version keeps serving');
    }
  }
  if (!prevGood) return { good: OverlayMap.of(fresh), errors, fresh, removed };
  if (!only && carried < prevGood.size) for (const id of prevGood.keys()) if (!entries.has(id)) removed.push(id);
  if (fresh.size === 0 && removed.length === 0) return { good: prevGood, errors, fresh, removed };
  const changes: [string, GoodEntry<S> | undefined][] = removed.map((id) => [id, undefined]);
  for (const e of fresh) changes.push(e);
  return { good: OverlayMap.of(prevGood).with(changes), errors, fresh, removed };
}

/**
 * `drains` collects targets their discovery source takes out of rotation
 * (a registrar marked them draining), with the upstream's drain timeout.
 * `prev` (the previous generation's compiled upstream, when its spec is
 * unchanged) is returned as is if the pools come out the same: routes bound
 * to it then need no rebinding.
 */
function compileUpstream(spec: UpstreamSpec, deps: CompileDeps, live: Set<string>, drains: Map<string, number>, prev: CompiledUpstream | null): CompiledUpstream {
  const parts: { name: string; weight: number; targets: Target[]; runtime: PoolRuntime }[] = [];
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
    parts.push({ name, weight: spec.weights?.[name] ?? 0, targets, runtime: runtime.pool(name) });
  }
  const same = (p: CompiledPool, q: (typeof parts)[number]) =>
    p.name === q.name && p.weight === q.weight && p.runtime === q.runtime && p.targets.length === q.targets.length && p.targets.every((t, i) => t === q.targets[i]);
  if (prev && prev.pools.length === parts.length && prev.pools.every((p, i) => same(p, parts[i]!))) return prev;
  const balancer = spec.balancer ?? 'round-robin';
  return new CompiledUpstream(spec.name, parts.map((q) => new CompiledPool(q.name, q.weight, q.targets, balancer, q.runtime)));
}
/** Applies target drains (drainTargets of every upstream, and discovered ones in `drains`) to the live targets. */
function applyTargetDrains(ups: ReadonlyMap<string, GoodEntry<UpstreamSpec>>, deps: CompileDeps, drains: Map<string, number>): void {
  for (const { spec } of ups.values()) {
    for (const url of spec.drainTargets ?? []) drains.set(originOf(url), spec.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
  }
  for (const t of deps.registry.all) t.setDraining(drains.has(t.origin), drains.get(t.origin) ?? 0);
}

function compileRoute(id: string, spec: RouteSpec, upstreams: ReadonlyMap<string, CompiledUpstream>, deps: CompileDeps): CompiledRoute {
  const upstream = upstreams.get(spec.upstream) ?? null;
  const strip = spec.stripPrefix ? spec.match.path.replace(/\/+$/, '') || '/' : null;
  return new CompiledRoute(id, spec.match, spec.upstream, upstream, strip === '/' ? null : strip, spec.timeoutMs ?? 30000, spec.retries ?? 1, deps.metrics.series(id, spec.upstream), spec.maxBodyBytes ?? deps.maxBodySize ?? 0, spec.redirectHttps === true);
}

/** The same route bound to another compiled upstream (or none). */
function rebindRoute(r: CompiledRoute, upstream: CompiledUpstream | null): CompiledRoute {
  return new CompiledRoute(r.id, r.match, r.upstreamName, upstream, r.stripPrefix, r.timeoutMs, r.retries, r.series, r.maxBodyBytes, r.redirectHttps);
}

/**
 * The previous table with the changed routes swapped (RouteTable.update:
 * a full build only when much changed), unchanged routes kept as they are
 * unless their upstream was compiled anew.
 */
function updateTable(prev: Generation, routes: Validated<RouteSpec>, upstreams: ReadonlyMap<string, CompiledUpstream>, deps: CompileDeps): RouteTable<CompiledRoute> {
  const rebound = new Set<string>();
  for (const [name, u] of prev.upstreams) if (upstreams.get(name) !== u) rebound.add(name);
  for (const name of upstreams.keys()) if (!prev.upstreams.has(name)) rebound.add(name);
  const remove: Matchable[] = [];
  const add: CompiledRoute[] = [];
  for (const id of routes.removed) remove.push({ id, match: prev.goodRoutes.get(id)!.spec.match });
  for (const [id, { spec }] of routes.fresh) {
    const old = prev.goodRoutes.get(id);
    if (old) remove.push({ id, match: old.spec.match });
    add.push(compileRoute(id, spec, upstreams, deps));
  }
  if (remove.length === 0 && add.length === 0 && rebound.size === 0) return prev.table;
  const rebind = rebound.size === 0 ? null : (r: CompiledRoute) => (rebound.has(r.upstreamName) ? rebindRoute(r, upstreams.get(r.upstreamName) ?? null) : r);
  return prev.table.update(remove, add, rebind);
}

/**
 * snapshot -> validated resources -> compiled, immutable generation.
 * `changed`: the ids changed since the snapshot `prev` was compiled from
 * (a hint from the store); null = unknown, every entry is compared.
 */
export function compileGeneration(
  snapshot: StoreSnapshot,
  prev: Generation | null,
  deps: CompileDeps,
  changed: Pick<SnapshotChanges, 'routes' | 'upstreams'> | null = null,
): { generation: Generation; liveOrigins: Set<string> } {
  const routes = validateAll<RouteSpec>('routes', snapshot.routes, prev?.goodRoutes, prev?.routeErrors, changed?.routes ?? null, (raw, id) => parseStoredRoute(raw, deps.policy, id), deps);
  const ups = validateAll<UpstreamSpec>('upstreams', snapshot.upstreams, prev?.goodUpstreams, prev?.upstreamErrors, changed?.upstreams ?? null, (raw, id) => parseStoredUpstream(raw, id), deps);

  const liveOrigins = new Set<string>();
  const upstreams = new Map<string, CompiledUpstream>();
  const drains = new Map<string, number>();
  deps.discovery?.beginCompile();
  for (const [name, good] of ups.good) {
    const reusable = prev?.goodUpstreams.get(name) === good ? (prev.upstreams.get(name) ?? null) : null;
    upstreams.set(name, compileUpstream(good.spec, deps, liveOrigins, drains, reusable));
  }
  applyTargetDrains(ups.good, deps, drains);
  deps.discovery?.endCompile();

  let table: RouteTable<CompiledRoute>;
  if (prev) table = updateTable(prev, routes, upstreams, deps);
  else {
    const compiled: CompiledRoute[] = [];
    for (const [id, { spec }] of routes.good) compiled.push(compileRoute(id, spec, upstreams, deps));
    table = new RouteTable(compiled);
  }

  const generation: Generation = {
    revision: snapshot.revision,
    table,
    upstreams,
    routeStatus: new RouteStatusView(routes.good, routes.errors, upstreams),
    routeErrors: routes.errors,
    upstreamErrors: ups.errors,
    goodRoutes: routes.good,
    goodUpstreams: ups.good,
    ports: table.ports(),
  };
  return { generation, liveOrigins };
}

/**
 * Every route's status, computed when asked (a map of 100 000 statuses per
 * rebuild would cost more than the rest of a small change): invalid when the
 * stored value fails validation, else active or unresolved by its upstream.
 */
class RouteStatusView extends ReadonlyMapBase<string, RouteStatus> {
  constructor(
    readonly good: ReadonlyMap<string, GoodEntry<RouteSpec>>,
    readonly errors: ReadonlyMap<string, ConfigErrorDetail[]>,
    readonly upstreams: ReadonlyMap<string, CompiledUpstream>,
  ) {
    super();
  }

  get(id: string): RouteStatus | undefined {
    const errors = this.errors.get(id);
    if (errors) return { status: 'invalid', errors };
    const g = this.good.get(id);
    if (!g) return undefined;
    return this.upstreams.has(g.spec.upstream) ? ACTIVE : { status: 'unresolved', reason: `upstream "${g.spec.upstream}" does not exist` };
  }

  has(id: string): boolean {
    return this.errors.has(id) || this.good.has(id);
  }

  get size(): number {
    let n = this.good.size;
    for (const id of this.errors.keys()) if (!this.good.has(id)) n++;
    return n;
  }

  override *keys(): MapIterator<string> {
    yield* this.good.keys();
    for (const id of this.errors.keys()) if (!this.good.has(id)) yield id;
  }

  *entries(): MapIterator<[string, RouteStatus]> {
    for (const id of this.keys()) yield [id, this.get(id)!];
  }
}

const ACTIVE: RouteStatus = Object.freeze({ status: 'active' });
