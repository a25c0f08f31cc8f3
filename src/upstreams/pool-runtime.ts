import type { UpstreamSpec } from '../resources.js';
import type { CompiledUpstream } from './upstream.js';
import { DRAIN_CUT, type Target } from './target.js';

/** CONTRACT §3 pool states. */
export type PoolState = 'active' | 'flooding' | 'draining' | 'drained' | 'idle';

export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
/** How often a flood ramp moves the effective weights. */
const RAMP_TICK_MS = 50;
const DRAIN_POLL_MS = 25;

export interface RuntimeEvents {
  onPoolState?(upstream: string, pool: string, state: PoolState): void;
  /** Requests still running when a drain hit its deadline and was cut. */
  onDrainCut?(upstream: string, pool: string, requests: number): void;
}


/**
 * The long-lived state of one pool on this node, kept across config
 * generations: in-flight requests and the drain/flood state machine.
 * Draining is a state, not a deletion: the pool gets no new picks, its
 * requests in flight finish (drained once none is left), and what still runs
 * at the deadline is cut with destroy() and counted. Its targets' keep-alive
 * connections are left to their idle timeout, as Envoy does on a weight
 * change: a flip back within seconds finds them open instead of paying for
 * new connections under full load.
 */
export class PoolRuntime {
  inflight = 0;
  /** Requests answered through this pool, and those that were 5xx or failed: the deployment error gate. */
  requests = 0;
  errors = 0;
  state: PoolState = 'idle';
  /** Requests cut by drain deadlines, ever. */
  cut = 0;
  #drain: { poll: NodeJS.Timeout; deadline: NodeJS.Timeout | null } | null = null;

  constructor(readonly upstream: string, readonly name: string, readonly events: RuntimeEvents) {}

  #set(state: PoolState): void {
    if (this.state === state) return;
    this.state = state;
    this.events.onPoolState?.(this.upstream, this.name, state);
  }

  /** The pool takes traffic (flooding while its share still ramps up). */
  activate(flooding: boolean): void {
    this.#stopTracking();
    this.#set(flooding ? 'flooding' : 'active');
  }

  /**
   * Stops new picks (done by the caller: effective weight 0) and drains.
   * `keep`: targets that active pools share, never cut.
   */
  drain(targets: readonly Target[], timeoutMs: number, keep: ReadonlySet<Target>): void {
    if (this.state !== 'active' && this.state !== 'flooding') return;
    this.#set('draining');
    const d = {
      poll: setInterval(() => {
        if (this.inflight <= 0) {
          this.#stopTracking();
          this.#set('drained');
        }
      }, DRAIN_POLL_MS),
      deadline: null as NodeJS.Timeout | null,
    };
    d.deadline = setTimeout(() => {
      d.deadline = null;
      const n = Math.max(0, this.inflight);
      if (n === 0) return;
      this.cut += n;
      this.events.onDrainCut?.(this.upstream, this.name, n);
      // The connections carrying them go; later traffic gets fresh ones.
      for (const t of targets) if (!keep.has(t)) void t.retireDispatcher().destroy(DRAIN_CUT).catch(() => {});
    }, timeoutMs);
    this.#drain = d;
  }

  #stopTracking(): void {
    const d = this.#drain;
    if (!d) return;
    this.#drain = null;
    clearInterval(d.poll);
    if (d.deadline) clearTimeout(d.deadline);
  }

  dispose(): void {
    this.#stopTracking();
  }
}

/**
 * Drives one upstream's effective pool weights on this node from its
 * configuration: the configured weights, or, during a flip's flood ramp, the
 * new pool's share growing linearly from 0 while the old pools' shrink. The
 * flip's start time is in the store, so a node restarted mid-flip resumes
 * the ramp where it stands.
 */
export class UpstreamRuntime {
  readonly pools = new Map<string, PoolRuntime>();
  #compiled: CompiledUpstream | null = null;
  #spec: UpstreamSpec | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(readonly name: string, readonly events: RuntimeEvents, readonly now: () => number = Date.now) {}

  pool(name: string): PoolRuntime {
    let p = this.pools.get(name);
    if (!p) this.pools.set(name, (p = new PoolRuntime(this.name, name, this.events)));
    return p;
  }

  get compiled(): CompiledUpstream | null {
    return this.#compiled;
  }

  /** Called after every swap that (re)compiled this upstream. */
  apply(compiled: CompiledUpstream, spec: UpstreamSpec): void {
    this.#compiled = compiled;
    this.#spec = spec;
    this.#tick();
  }

  #tick(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const compiled = this.#compiled!;
    const spec = this.#spec!;
    const flip = spec.flip;
    const now = this.now();
    const rampMs = flip?.rampMs ?? 0;
    const ramping = flip !== undefined && rampMs > 0 && now < flip.at + rampMs;
    const progress = ramping ? Math.max(0, (now - flip.at) / rampMs) : 1;
    const drainMs = flip?.drainTimeoutMs ?? spec.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    const keep = new Set<Target>();
    compiled.pools.forEach((p, i) => {
      let w = p.weight;
      if (ramping) w = p.name === flip.to ? p.weight * progress : (flip.from?.[p.name] ?? 0) * (1 - progress);
      compiled.effective[i] = w;
      if (w > 0) for (const t of p.targets) keep.add(t);
    });
    compiled.pools.forEach((p, i) => {
      if (compiled.effective[i]! > 0) p.runtime.activate(ramping && p.name === flip.to);
      else p.runtime.drain(p.targets, drainMs, keep);
    });
    for (const [name, rt] of this.pools) {
      if (!compiled.pool(name)) {
        rt.dispose();
        this.pools.delete(name);
      }
    }
    if (ramping) {
      this.#timer = setTimeout(() => this.#tick(), RAMP_TICK_MS);
      this.#timer.unref();
    }
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    for (const p of this.pools.values()) p.dispose();
  }
}

/** Every upstream's runtime on this node, by name. */
export class UpstreamRuntimes {
  readonly #byName = new Map<string, UpstreamRuntime>();
  constructor(readonly events: RuntimeEvents = {}) {}

  get(name: string): UpstreamRuntime {
    let u = this.#byName.get(name);
    if (!u) this.#byName.set(name, (u = new UpstreamRuntime(name, this.events)));
    return u;
  }

  find(name: string): UpstreamRuntime | undefined {
    return this.#byName.get(name);
  }

  /** Drops the runtimes of upstreams that no longer exist. */
  retainOnly(names: ReadonlySet<string>): void {
    for (const [name, u] of this.#byName) {
      if (!names.has(name)) {
        u.dispose();
        this.#byName.delete(name);
      }
    }
  }
}
