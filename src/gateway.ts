import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import pino, { type Logger } from 'pino';
import type { GatewayOptions } from './config.js';
import { startAdminApi } from './control/admin-api.js';
import { registerUpstreamActions } from './control/admin-upstream-actions.js';
import { compileGeneration, type CompileDeps } from './control/config-compiler.js';
import { compactHeapSoon } from './control/heap-compaction.js';
import type { GatewayView, NodeUpstreamStatus, PoolStatus, RouteStatus } from './control/gateway-view.js';
import { openStore, type OpenedStore } from './control/open-store.js';
import type { LastKnownGood } from './control/last-known-good.js';
import { LocalNodeRegistry, type NodeRecord, type NodeRegistry, type PoolStats } from './control/node-registry.js';
import { registerNodeEndpoints } from './control/admin-nodes.js';
import { registerDeploymentEndpoints } from './control/admin-deployments.js';
import { Coordinator } from './control/deployments/coordinator.js';
import { StoreUnavailableError, type Store, type StoreSnapshot, type StoredEntry } from './control/store.js';
import { Listeners, urlOf } from './proxy/listeners.js';
import { RequestMetrics } from './proxy/request-metrics.js';
import type { GenerationHolder } from './proxy/request-handler.js';
import type { ConfigErrorDetail, ListenerPolicy } from './resources.js';
import type { Generation } from './router/generation.js';
import { DiscoveryRegistry } from './upstreams/discovery/discovery-registry.js';
import { dnsServersFromEnv } from './upstreams/discovery/dns-source.js';
import { UpstreamRuntimes } from './upstreams/pool-runtime.js';
import { TargetRegistry } from './upstreams/target-registry.js';
import { VERSION } from './version.js';
import { collectCounters, type UpstreamCounters } from './workers/pool-counters.js';

/** This node's in-flight requests to a target origin, over every pool that names it. */
function inflightOf(counters: UpstreamCounters, origin: string): number {
  let n = 0;
  for (const pools of Object.values(counters)) for (const c of Object.values(pools)) n += c.targets[origin] ?? 0;
  return n;
}

/** An apply this long (ms) is a large table built: its garbage is collected once changes stop. */
const COMPACT_AFTER_MS = 200;

/** A rebuild that took this long (ms) makes the next store change wait as long (etcd only). */
const DEFER_AFTER_MS = 20;

/** Ids changed since the last applied snapshot, collected per kind. */
interface ChangedIds {
  routes: Set<string>;
  upstreams: Set<string>;
}
const noChanges = (): ChangedIds => ({ routes: new Set(), upstreams: new Set() });

const EMPTY: StoreSnapshot = Object.freeze({ revision: 0, routes: new Map(), upstreams: new Map() });

/**
 * The table this node serves, as a snapshot: an entry that failed validation
 * is replaced by its last good version, so a node restarted from the
 * last-known-good file serves what it served (not the garbage, and not less).
 */
function servingSnapshot(snapshot: StoreSnapshot, gen: Generation): StoreSnapshot {
  if (gen.upstreamErrors.size === 0 && gen.routeErrors.size === 0) return snapshot;
  const fix = (entries: ReadonlyMap<string, StoredEntry>, good: Generation['goodRoutes'] | Generation['goodUpstreams']) => {
    const out = new Map<string, StoredEntry>();
    for (const [id, e] of entries) {
      const g = good.get(id);
      if (g && g.raw !== e.raw) out.set(id, { id, raw: g.raw, modRevision: e.modRevision });
      else if (g) out.set(id, e);
    }
    return out;
  };
  return { revision: snapshot.revision, routes: fix(snapshot.routes, gen.goodRoutes), upstreams: fix(snapshot.upstreams, gen.goodUpstreams) };
}

/**
 * One gateway node: store -> validated snapshot -> compiled generation ->
 * one atomic swap, and the listeners that serve whatever generation is live.
 */
export class Gateway implements GatewayView, GenerationHolder {
  generation: Generation;
  /** True once the first table is applied (and, for a primary, its workers have it too). */
  get ready(): boolean {
    return this.#ready && (this.externalReady === null || this.externalReady());
  }
  set ready(v: boolean) {
    this.#ready = v;
  }
  #ready = false;
  /** Set by a primary: whether every worker serves a table. */
  externalReady: (() => boolean) | null = null;
  readonly metrics = new Registry();
  readonly listenerPolicy: ListenerPolicy;
  readonly nodeId: string;
  readonly version = VERSION;
  readonly logger: Logger;
  readonly listeners: Listeners;
  readonly #store: Store;
  readonly #nodes: NodeRegistry;
  readonly #lastKnownGood: LastKnownGood | null;
  readonly #options: GatewayOptions;
  /** Data-plane URLs, for the node record. */
  dataPlaneUrls: string[] = [];
  adminUrl = '';
  readonly #startedAt = new Date().toISOString();
  readonly #registry: TargetRegistry;
  readonly #runtimes: UpstreamRuntimes;
  /** Sources of process, dns and registry pools; they outlive generations. */
  readonly #discovery: DiscoveryRegistry;
  readonly #deps: CompileDeps;
  readonly #abort = new AbortController();
  readonly #portRange: GatewayOptions['portRange'];
  readonly #applySeconds: Histogram;
  readonly #revisionGauge: Gauge;
  /** Latest snapshot not yet applied: bursts collapse into one rebuild. */
  #pending: StoreSnapshot | null = null;
  #applying = false;

  /**
   * `single`: one process does everything. With --workers, the `primary`
   * holds the store, admin API and coordinator and serves no traffic; each
   * `worker` serves traffic from the snapshots the primary forwards.
   */
  readonly role: 'single' | 'primary' | 'worker';

  constructor(options: GatewayOptions, opened: Pick<OpenedStore, 'store' | 'nodes' | 'lastKnownGood' | 'etcd'>, logger: Logger, listenPorts: Set<number>, opts: { role?: 'single' | 'primary' | 'worker' } = {}) {
    this.role = opts.role ?? 'single';
    this.#store = opened.store;
    this.#nodes = opened.nodes;
    this.#lastKnownGood = opened.lastKnownGood;
    this.#options = options;
    this.logger = logger;
    this.nodeId = options.nodeId;
    this.#portRange = options.portRange;
    this.listenerPolicy = { listenPorts, portRange: options.portRange };
    collectDefaultMetrics({ register: this.metrics, prefix: 'switchyard_process_' });
    const requestMetrics = new RequestMetrics();
    requestMetrics.register(this.metrics);
    const configErrors = new Counter({ aggregator: 'max', name: 'switchyard_config_errors_total', help: 'Stored config entries that failed validation', labelNames: ['kind'] as const, registers: [this.metrics] });
    const stateWriteErrors = new Counter({ name: 'switchyard_state_write_errors_total', help: 'Failed writes of the last-known-good table to --state-dir (disk full, permissions)', registers: [this.metrics] });
    if (this.#lastKnownGood) this.#lastKnownGood.onWriteError = () => stateWriteErrors.inc();
    this.#applySeconds = new Histogram({ name: 'switchyard_config_apply_seconds', help: 'Time to compile and swap in a new config generation', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5], registers: [this.metrics] });
    this.#revisionGauge = new Gauge({ aggregator: 'min', name: 'switchyard_config_revision', help: 'Store revision of the config serving now', registers: [this.metrics] });
    const self = this;
    new Gauge({ aggregator: 'min', name: 'switchyard_store_connected', help: '1 while the config store is reachable', registers: [this.metrics], collect() { this.set(self.storeConnected ? 1 : 0); } });
    new Gauge({
      name: 'switchyard_upstream_inflight', help: 'Requests in flight per upstream pool', labelNames: ['upstream', 'pool'] as const, registers: [this.metrics],
      collect() {
        this.reset();
        for (const u of self.generation.upstreams.values()) for (const p of u.pools) this.set({ upstream: u.name, pool: p.name }, p.runtime.inflight);
      },
    });
    new Gauge({
      aggregator: 'max', name: 'switchyard_target_healthy', help: '1 while a target takes traffic', labelNames: ['upstream', 'pool', 'target'] as const, registers: [this.metrics],
      collect() {
        this.reset();
        for (const u of self.generation.upstreams.values()) for (const p of u.pools) for (const t of p.targets) this.set({ upstream: u.name, pool: p.name, target: t.origin }, t.ready ? 1 : 0);
      },
    });
    const ejections = new Counter({ name: 'switchyard_target_ejections_total', help: 'Passive health ejections of a target', labelNames: ['target'] as const, registers: [this.metrics] });
    const healthFlips = new Counter({ aggregator: 'max', name: 'switchyard_target_health_changes_total', help: 'Targets entering or leaving rotation', labelNames: ['target', 'state'] as const, registers: [this.metrics] });
    const poolStates = new Counter({ aggregator: 'max', name: 'switchyard_pool_state_changes_total', help: 'Drain and flood events: pools entering a state', labelNames: ['upstream', 'pool', 'state'] as const, registers: [this.metrics] });
    const drainCuts = new Counter({ name: 'switchyard_drain_cut_requests_total', help: 'In-flight requests cut because a drain reached its deadline', labelNames: ['upstream', 'pool'] as const, registers: [this.metrics] });
    this.#registry = new TargetRegistry({ maxResponseHeaderSize: options.limits.maxUpstreamHeaderSize, ca: options.tls.upstreamCa }, {
      onEjection: (t, ms) => {
        ejections.inc({ target: t.origin });
        logger.warn({ target: t.origin, ms }, 'target ejected after consecutive failures');
      },
      onHealthChange: (t, state) => {
        healthFlips.inc({ target: t.origin, state });
        logger.info({ target: t.origin, state }, 'target health changed');
      },
    });
    this.#discovery = new DiscoveryRegistry({
      group: options.group,
      logger,
      targets: this.#registry,
      etcd: opened.etcd ? { connect: opened.etcd, prefix: options.prefix } : null,
      dnsServers: dnsServersFromEnv(),
      onChange: () => this.recompile(),
      onDrainReport: () => this.publishNode(),
      // A primary serves no traffic: it runs the sources and counts its workers' in-flight requests.
      ...(this.role === 'primary' ? { inflight: (origin: string) => inflightOf(this.counters(), origin), settleMs: 600 } : {}),
      passive: this.role === 'worker',
    });
    this.#runtimes = new UpstreamRuntimes({
      onPoolState: (upstream, pool, state) => {
        poolStates.inc({ upstream, pool, state });
        logger.info({ upstream, pool, state }, 'pool state changed');
        this.#discovery.onPoolState(upstream, pool, state);
      },
      onDrainCut: (upstream, pool, n) => {
        drainCuts.inc({ upstream, pool }, n);
        logger.warn({ upstream, pool, requests: n }, 'drain timeout: in-flight requests cut');
      },
    });
    this.#deps = { registry: this.#registry, runtimes: this.#runtimes, policy: this.listenerPolicy, metrics: requestMetrics, configErrors, logger, maxBodySize: options.limits.maxBodySize };
    this.#deps.discovery = this.#discovery;
    this.generation = compileGeneration(EMPTY, null, this.#deps).generation;
    this.listeners = new Listeners(this, logger, options.limits);
  }

  get appliedRevision(): number {
    return this.generation.revision;
  }

  get storeConnected(): boolean {
    return this.#store.connected;
  }

  routeStatus(id: string): RouteStatus | null {
    return this.generation.routeStatus.get(id) ?? null;
  }

  upstreamStatus(name: string): NodeUpstreamStatus | null {
    const u = this.generation.upstreams.get(name);
    if (!u) return null;
    const pools: Record<string, PoolStatus> = {};
    const counters = this.counters()[name] ?? {};
    u.pools.forEach((p, i) => {
      const c = counters[p.name];
      pools[p.name] = {
        weight: Math.round(u.effective[i]! * 100) / 100,
        configuredWeight: p.weight,
        state: c?.state ?? p.runtime.state,
        inflight: c?.inflight ?? 0,
        healthy: p.readyCount(),
        total: p.targets.length,
        cut: c?.cut ?? 0,
        targets: p.targets.map((t) => ({ target: t.origin, state: t.state, inflight: c?.targets[t.origin] ?? 0 })),
      };
      const source = this.#discovery.status(u.name, p.name);
      if (source) pools[p.name]!.source = source;
    });
    return { node: this.nodeId, appliedRevision: this.generation.revision, pools };
  }

  upstreamErrors(name: string): ConfigErrorDetail[] | null {
    return this.generation.upstreamErrors.get(name) ?? null;
  }

  /**
   * Loads the store and applies the first table, then follows the store's
   * watch. With a remote store that cannot be read, the last-known-good table
   * on local disk serves instead (ready, store disconnected); with neither,
   * the node stays not-ready until the store answers. A failed read is never
   * taken for an empty table.
   */
  async loadAndWatch(): Promise<void> {
    this.#discovery.start();
    let first: StoreSnapshot | null = null;
    try {
      first = await this.#store.load();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || !this.#lastKnownGood) throw err;
      first = await this.#lastKnownGood.load();
      if (first) {
        this.#servingLastKnownGood = true;
        this.logger.warn({ revision: first.revision, file: this.#lastKnownGood.file }, 'store unreachable: serving the last-known-good table');
      }
      else this.logger.error({ err: err.message }, 'store unreachable and no last-known-good table: not ready until the store answers');
    }
    if (first) {
      const fromFile = this.#servingLastKnownGood;
      this.#tipRevision = first.revision;
      this.#changed = fromFile ? null : noChanges();
      this.#apply(first, null);
      this.#servingLastKnownGood = fromFile;
      this.ready = true;
    }
    this.#store.watch((s) => this.#offer(s), this.#abort.signal);
  }

  /** True while the table came from the local last-known-good file, not the store. */
  #servingLastKnownGood = false;

  /** Whether a snapshot from the store should replace the live table. */
  #wants(s: StoreSnapshot): boolean {
    // A worker also takes a re-send of its revision: the primary's discovered targets changed.
    return !this.#ready || this.#servingLastKnownGood || s.revision > this.generation.revision || (this.role === 'worker' && s.revision === this.generation.revision);
  }

  #offer(snapshot: StoreSnapshot): void {
    this.#track(snapshot);
    if (!this.#applying && !this.#wants(snapshot)) return;
    this.#pending = snapshot;
    if (this.#applying || this.#deferred) return;
    // With a large table a rebuild takes a while: while changes stream in
    // (a bulk load), the next one waits as long as the last took, so
    // rebuilds use at most about half the CPU and each takes everything that
    // arrived meanwhile. A lone change on a quiet node applies at once. The
    // file store is never deferred: a write it acknowledged is live before
    // its admin answer goes out.
    const wait = this.#nextApplyAt - performance.now();
    if (wait > 0 && this.#store.kind === 'etcd' && this.#ready) {
      this.#deferred = setTimeout(() => {
        this.#deferred = null;
        if (!this.#abort.signal.aborted) this.#applyPending();
      }, wait);
      return;
    }
    this.#applyPending();
  }

  #applyPending(): void {
    this.#applying = true;
    // Applied synchronously: a write acknowledged by the file store is live
    // before its admin answer goes out. Re-entrant offers only replace #pending.
    try {
      while (this.#pending) {
        const s = this.#pending;
        this.#pending = null;
        if (!this.#wants(s)) continue;
        const changed = this.#changed;
        this.#changed = noChanges();
        try {
          this.#apply(s, changed);
        } catch (err) {
          this.#changed = null; // the next compile must not trust hints relative to a table that never went live
          throw err;
        }
        this.#servingLastKnownGood = false;
        this.ready = true;
      }
    } finally {
      this.#applying = false;
    }
  }

  /**
   * Follows the store's change hints: #changed collects the ids changed
   * since the snapshot last applied, as long as every snapshot offered
   * since says it is its predecessor plus some changes; otherwise null (the
   * next compile compares every entry).
   */
  #track(s: StoreSnapshot): void {
    const c = s.changes;
    if (this.#changed && c && c.baseRevision === this.#tipRevision) {
      for (const id of c.routes) this.#changed.routes.add(id);
      for (const id of c.upstreams) this.#changed.upstreams.add(id);
    } else this.#changed = null;
    this.#tipRevision = s.revision;
  }

  #changed: ChangedIds | null = null;
  /** Revision of the newest snapshot offered (or applied). */
  #tipRevision = -1;
  #deferred: NodeJS.Timeout | null = null;
  /** When the next deferrable rebuild may start (performance.now()). */
  #nextApplyAt = 0;

  /**
   * Recompiles the live snapshot: for changes that come from outside the
   * store (discovered targets), which must go through the same compile and
   * swap. Coalesced to one rebuild per turn of the event loop.
   */
  recompile(): void {
    if (this.#recompileQueued || !this.#lastSnapshot) return;
    this.#recompileQueued = true;
    setImmediate(() => {
      this.#recompileQueued = false;
      if (this.#lastSnapshot && !this.#abort.signal.aborted) this.#apply(this.#lastSnapshot, noChanges());
    });
  }

  #recompileQueued = false;
  #lastSnapshot: StoreSnapshot | null = null;

  /** `changed`: ids changed since the snapshot applied last (null: unknown). */
  #apply(snapshot: StoreSnapshot, changed: ChangedIds | null): void {
    this.#lastSnapshot = snapshot;
    const t0 = performance.now();
    const { generation, liveOrigins } = compileGeneration(snapshot, this.generation, this.#deps, changed);
    this.generation = generation; // the swap
    for (const [name, compiled] of generation.upstreams) this.#runtimes.get(name).apply(compiled, generation.goodUpstreams.get(name)!.spec);
    this.#runtimes.retainOnly(new Set(generation.upstreams.keys()));
    this.#registry.retainOnly(liveOrigins);
    const t1 = performance.now();
    this.#applySeconds.observe((t1 - t0) / 1000);
    this.#nextApplyAt = t1 - t0 >= DEFER_AFTER_MS ? t1 + (t1 - t0) : 0;
    if (t1 - t0 >= COMPACT_AFTER_MS) compactHeapSoon();
    this.#revisionGauge.set(generation.revision);
    void this.listeners.syncDynamic(generation.ports, this.#portRange);
    if (this.#lastKnownGood) void this.#lastKnownGood.save(servingSnapshot(snapshot, generation));
    this.onApplied?.(this.#discovery.resolve(snapshot, generation));
    this.publishNode();
    this.logger.debug({ revision: generation.revision, routes: generation.routeStatus.size }, 'config applied');
  }

  /**
   * Pool counters of the processes that serve traffic: this one, or (with
   * --workers) the merged counters its workers last reported.
   */
  counters(): UpstreamCounters {
    return this.externalCounters ? this.externalCounters() : collectCounters(this.generation);
  }

  /** Called after every swap (a primary forwards the snapshot to its workers). */
  onApplied: ((snapshot: StoreSnapshot) => void) | null = null;

  metricsText(): Promise<string> {
    return this.externalMetrics ? this.externalMetrics() : this.metrics.metrics();
  }

  /** Set by a primary: /metrics aggregated over itself and its workers. */
  externalMetrics: (() => Promise<string>) | null = null;

  /** Set by the worker pool of a primary process (which serves no traffic itself). */
  externalCounters: (() => UpstreamCounters) | null = null;

  /** Announces this node (id, addresses, applied revision) in the node registry. */
  publishNode(): void {
    if (!this.adminUrl) return;
    this.#nodes.publish(this.nodeRecord());
  }

  /** This node as the registry shows it, with per-pool health and counters for the deployment gates. */
  nodeRecord(): Omit<NodeRecord, 'lastSeen'> {
    const pools: Record<string, Record<string, PoolStats>> = {};
    const counters = this.counters();
    for (const u of this.generation.upstreams.values()) {
      const byPool: Record<string, PoolStats> = (pools[u.name] = {});
      for (const p of u.pools) {
        const c = counters[u.name]?.[p.name];
        byPool[p.name] = { healthy: p.readyCount(), total: p.targets.length, inflight: c?.inflight ?? 0, requests: c?.requests ?? 0, errors: c?.errors ?? 0 };
      }
    }
    return {
      id: this.nodeId,
      group: this.#options.group,
      address: this.adminUrl,
      dataPlane: this.dataPlaneUrls,
      version: VERSION,
      appliedRevision: this.generation.revision,
      startedAt: this.#startedAt,
      pools,
      registryDrains: this.#discovery.drainReport(),
    };
  }

  /** Publishes the node record every second (fresh counters for the gates). */
  startHeartbeat(): void {
    this.publishNode();
    this.#heartbeat = setInterval(() => this.publishNode(), 1000);
    this.#heartbeat.unref();
  }

  #heartbeat: NodeJS.Timeout | null = null;

  listNodes(): Promise<NodeRecord[]> {
    // One node on the embedded store: its record is always fresh.
    if (this.#nodes instanceof LocalNodeRegistry) return Promise.resolve([{ ...this.nodeRecord(), lastSeen: new Date().toISOString() }]);
    return this.#nodes.list();
  }

  async close(graceMs: number): Promise<void> {
    this.#abort.abort();
    if (this.#deferred) clearTimeout(this.#deferred);
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    await this.#nodes.close();
    await this.listeners.close(graceMs);
    // After the listeners: backends stop only once their in-flight requests are done.
    await this.#discovery.close();
    await this.#registry.closeAll(1000);
    await this.#store.close();
  }
}

