// Owns every TargetSource of this node, keyed by upstream and pool, across
// config generations (the way the TargetRegistry owns Targets): a compile asks
// for a pool's targets with pool(); sources the new generation no longer
// names are closed by endCompile(). A source whose defining spec changed (a
// new command, a new DNS name) is replaced make-before-break: the old one
// keeps serving until the new one has settled (all instances ready, first DNS
// answer), then it is closed (its targets finish their in-flight requests
// before their processes are stopped).
//
// Sources report changes through their context; the gateway then recompiles
// the live snapshot (coalesced), so discovered targets go live through the
// same compile and swap as stored config.
import type { Logger } from 'pino';
import type { EtcdConnectOptions } from '../../control/etcd-client.js';
import type { StoreSnapshot } from '../../control/store.js';
import type { PoolSpec, UpstreamSpec } from '../../resources.js';
import type { Generation } from '../../router/generation.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, type PoolState } from '../pool-runtime.js';
import type { TargetRegistry } from '../target-registry.js';
import { originOf } from '../target.js';
import { DnsTargetSource } from './dns-source.js';
import { ProcessSupervisor } from './process-supervisor.js';
import { RegistryTargetSource } from './registry-source.js';
import { RegistryWatch } from './registry-watch.js';
import type { SourceContext, SourceSettings, SourceStatus, TargetSource } from './target-source.js';

export interface DiscoveryOptions {
  /** This node's --group (process pools run on the nodes of their `groups`). */
  group: string;
  logger: Logger;
  targets: TargetRegistry;
  /** The etcd store this node uses; null with the file store (registry pools stay empty). */
  etcd: { connect: EtcdConnectOptions; prefix: string } | null;
  /** DNS servers for dns pools (SWITCHYARD_DNS_SERVERS); null = the system's. */
  dnsServers: string[] | null;
  /** Discovered targets changed: recompile the live snapshot. */
  onChange(): void;
  /** The per-target in-flight report of draining registrations changed: republish the node record. */
  onDrainReport(): void;
  /**
   * With --workers, the primary (which serves no traffic) runs the sources
   * and reads in-flight counts its workers report: `inflight` gives this
   * node's count for an origin, and `settleMs` how stale those reports may be.
   * Default: the local Target's own count, fresh.
   */
  inflight?: (origin: string) => number;
  settleMs?: number;
  /** A data-plane worker: never runs sources (its primary resolves discovered pools into static ones). */
  passive?: boolean;
}

interface Slot {
  upstream: string;
  pool: string;
  identity: string;
  source: TargetSource;
  /** Sources of an earlier spec still serving until `source` settles. */
  previous: TargetSource[];
}

const REPORT_POLL_MS = 50;
const IDLE_POLL_MS = 25;

/** What makes a source a different one (a change here replaces it); the rest is `update()`d in place. */
function identityOf(pool: PoolSpec): string | null {
  if (pool.process) {
    const { command, args, cwd, env } = pool.process;
    return `process:${JSON.stringify({ command, args, cwd, env })}`;
  }
  if (pool.dns) return `dns:${JSON.stringify({ name: pool.dns.name, port: pool.dns.port })}`;
  if (pool.registry) return 'registry';
  return null;
}

export class DiscoveryRegistry {
  readonly #opts: DiscoveryOptions;
  readonly #slots = new Map<string, Slot>();
  readonly #seen = new Set<string>();
  readonly #watch: RegistryWatch | null;
  /** Draining registrations this node has applied: id -> origin and when. Reported with their in-flight count. */
  #draining = new Map<string, { origin: string; since: number }>();
  #report = '{}';
  #reportTimer: NodeJS.Timeout | null = null;
  readonly #closing = new Set<Promise<void>>();
  #closed = false;

  constructor(opts: DiscoveryOptions) {
    this.#opts = opts;
    this.#watch = opts.etcd ? new RegistryWatch(opts.etcd.connect, opts.etcd.prefix, opts.logger) : null;
  }

  /** Starts following the registry (every node on etcd does, to report drains of any registration). */
  start(): void {
    this.#watch?.start();
    this.#watch?.subscribe(() => this.#opts.onChange());
  }

  beginCompile(): void {
    this.#seen.clear();
  }

  /** The current targets of a discovered pool (not `targets` pools), creating its source on first use. */
  pool(upstream: UpstreamSpec, name: string, pool: PoolSpec): { targets: readonly string[]; draining: readonly string[] } {
    const identity = identityOf(pool);
    if (identity === null || this.#closed || this.#opts.passive) return { targets: [], draining: [] };
    const key = `${upstream.name}\0${name}`;
    this.#seen.add(key);
    const settings: SourceSettings = { spec: pool, healthCheck: upstream.healthCheck, drainTimeoutMs: upstream.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS };
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { upstream: upstream.name, pool: name, identity, source: this.#create(upstream.name, name, pool), previous: [] };
      this.#slots.set(key, slot);
    } else if (slot.identity !== identity) {
      this.#opts.logger.info({ upstream: upstream.name, pool: name }, 'pool source changed: the old one serves until the new one is ready');
      if (slot.source.targets.length > 0) slot.previous.push(slot.source);
      else this.#close(slot.source);
      slot.identity = identity;
      slot.source = this.#create(upstream.name, name, pool);
    }
    slot.source.update(settings);
    if (slot.previous.length && slot.source.settled) {
      for (const old of slot.previous) this.#close(old);
      slot.previous = [];
    }
    if (!slot.previous.length) return { targets: slot.source.targets, draining: slot.source.draining };
    const targets = [...new Set([...slot.previous.flatMap((s) => s.targets), ...slot.source.targets])];
    return { targets, draining: slot.source.draining };
  }

  /** Closes the sources this compile did not name, and notes which registry drains are now live. */
  endCompile(): void {
    for (const [key, slot] of this.#slots) {
      if (this.#seen.has(key)) continue;
      this.#slots.delete(key);
      for (const s of [slot.source, ...slot.previous]) this.#close(s);
    }
    const draining = new Map<string, { origin: string; since: number }>();
    const now = Date.now();
    for (const r of this.#watch?.entries.values() ?? []) if (r.draining) draining.set(r.id, this.#draining.get(r.id) ?? { origin: r.target, since: now });
    this.#draining = draining;
    this.#pollReport();
  }

  #create(upstream: string, pool: string, spec: PoolSpec): TargetSource {
    const ctx: SourceContext = {
      upstream,
      pool,
      logger: this.#opts.logger,
      changed: () => {
        if (!this.#closed) this.#opts.onChange();
      },
      waitIdle: (url, timeoutMs) => this.#waitIdle(originOf(url), timeoutMs),
    };
    if (spec.process) return new ProcessSupervisor(ctx, spec.process, this.#opts.group);
    if (spec.dns) return new DnsTargetSource(ctx, spec.dns, this.#opts.dnsServers);
    return new RegistryTargetSource(ctx, this.#watch);
  }

  /** In-flight requests of this node to an origin. */
  #inflight(origin: string): number {
    return Math.max(0, this.#opts.inflight ? this.#opts.inflight(origin) : (this.#opts.targets.get(origin)?.inflight ?? 0));
  }

  /**
   * Resolves once `origin` has no request in flight, or after `timeoutMs`.
   * Holds the live Target from the moment of the call (the swap that drops it
   * also drops it from the registry). The first look comes after the swap
   * (coalesced to the next turn of the loop) and after `settleMs`.
   */
  #waitIdle(origin: string, timeoutMs: number): Promise<void> {
    const target = this.#opts.targets.get(origin);
    const count = () => Math.max(0, this.#opts.inflight ? this.#opts.inflight(origin) : (target?.inflight ?? 0));
    const deadline = Date.now() + timeoutMs;
    const first = Math.max(IDLE_POLL_MS, this.#opts.settleMs ?? 0);
    return new Promise((resolve) => {
      const check = () => {
        if (count() === 0 || Date.now() >= deadline) return resolve();
        setTimeout(check, IDLE_POLL_MS).unref();
      };
      setTimeout(check, first).unref();
    });
  }

  /**
   * The snapshot a primary forwards to its workers: every discovered pool
   * rewritten as the static `targets` pool it compiled to, and registry drains
   * as `drainTargets`, so workers serve exactly the primary's view without
   * running sources of their own. Unchanged when nothing is discovered.
   */
  resolve(snapshot: StoreSnapshot, generation: Generation): StoreSnapshot {
    if (!this.#slots.size) return snapshot;
    const upstreams = new Map(snapshot.upstreams);
    for (const [name, good] of generation.goodUpstreams) {
      const spec = good.spec;
      if (!Object.values(spec.pools).some((p) => !p.targets)) continue;
      const compiled = generation.upstreams.get(name);
      const pools: Record<string, PoolSpec> = {};
      const drains = new Set(spec.drainTargets ?? []);
      for (const [pool, p] of Object.entries(spec.pools)) {
        if (p.targets) {
          pools[pool] = p;
          continue;
        }
        pools[pool] = { targets: compiled?.pool(pool)?.targets.map((t) => t.origin) ?? [] };
        for (const url of this.#slots.get(`${name}\0${pool}`)?.source.draining ?? []) drains.add(url);
      }
      const entry = snapshot.upstreams.get(name);
      if (!entry) continue;
      const resolved: UpstreamSpec = { ...spec, pools, ...(drains.size ? { drainTargets: [...drains] } : {}) };
      upstreams.set(name, Object.freeze({ ...entry, raw: JSON.stringify(resolved) }));
    }
    return Object.freeze({ ...snapshot, upstreams });
  }

  #close(source: TargetSource): void {
    const p = source
      .close()
      .catch((err: unknown) => this.#opts.logger.error({ err }, 'closing a pool source failed'))
      .finally(() => this.#closing.delete(p));
    this.#closing.add(p);
  }

  status(upstream: string, pool: string): SourceStatus | null {
    const slot = this.#slots.get(`${upstream}\0${pool}`);
    if (!slot) return null;
    const st = slot.source.status();
    return slot.previous.length ? { ...st, replacing: true } : st;
  }

  onPoolState(upstream: string, pool: string, state: PoolState): void {
    this.#slots.get(`${upstream}\0${pool}`)?.source.onPoolState?.(state);
  }

  /**
   * In-flight requests on this node per draining registration (id -> count),
   * for the node record: `switchyard register` deletes its key once every
   * node reports 0. Only drains this node has applied (compiled) appear, so
   * a 0 always means "out of rotation here and idle".
   */
  drainReport(): Record<string, number> {
    const out: Record<string, number> = {};
    const now = Date.now();
    const settle = this.#opts.settleMs ?? 0;
    for (const [id, d] of this.#draining) if (now - d.since >= settle) out[id] = this.#inflight(d.origin);
    return out;
  }

  /** While drains are reported, re-reads in-flight counts and republishes on change (cheap: a few counters every 50 ms). */
  #pollReport(): void {
    const next = JSON.stringify(this.drainReport());
    if (next !== this.#report) {
      this.#report = next;
      this.#opts.onDrainReport();
    }
    if (this.#draining.size && !this.#reportTimer && !this.#closed) {
      this.#reportTimer = setInterval(() => this.#pollReport(), REPORT_POLL_MS);
      this.#reportTimer.unref();
    } else if (!this.#draining.size && this.#reportTimer) {
      clearInterval(this.#reportTimer);
      this.#reportTimer = null;
    }
  }

  /** Stops every source (processes: TERM, KILL after a grace) and the registry watch. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reportTimer) clearInterval(this.#reportTimer);
    for (const slot of this.#slots.values()) for (const s of [slot.source, ...slot.previous]) this.#close(s);
    this.#slots.clear();
    await this.#watch?.close();
    await Promise.all([...this.#closing]);
  }
}
