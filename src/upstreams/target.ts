import { Pool } from 'undici';
import type { HealthCheckSpec } from '../resources.js';
import { HealthChecker } from './health-checker.js';

/** The error a drain deadline cuts in-flight requests with: never retried. */
export const DRAIN_CUT = Object.assign(new Error('cut by drain timeout'), { code: 'SWITCHYARD_DRAIN_CUT' });

/** Options for the connection pool of every target. */
export interface TargetPoolOptions {
  connections: number;
  keepAliveTimeoutMs: number;
  connectTimeoutMs: number;
  /** Largest response header block a target may send (--max-upstream-header-size); more is a 502. */
  maxResponseHeaderSize: number;
  /** Extra CA certificates for https:// targets (--upstream-ca); null = the system's. */
  ca?: Buffer | null;
}

export const DEFAULT_TARGET_POOL_OPTIONS: TargetPoolOptions = {
  connections: 1024,
  keepAliveTimeoutMs: 4000,
  connectTimeoutMs: 5000,
  maxResponseHeaderSize: 32 * 1024,
};

/** Passive health (outlier ejection), after Envoy's defaults. */
export const OUTLIER = {
  consecutiveFailures: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
};

/** The coarse state shown in status, from the independent reasons below. */
export type TargetState = 'healthy' | 'pending' | 'unhealthy' | 'ejected' | 'draining';

/** What a target's owner hears about health flips (metrics, logs). */
export interface TargetEvents {
  onHealthChange?(target: Target, state: TargetState): void;
  onEjection?(target: Target, ms: number): void;
}

/**
 * One upstream URL (origin) and its keep-alive connection pool. A Target
 * outlives config generations: the registry hands the same object to every
 * generation that names the origin, so health, ejections and in-flight counts
 * survive swaps. Its health is a set of independent reasons (active check,
 * outlier ejection, draining) collapsed into `ready`, which the balancers read
 * at pick time.
 */
export class Target {
  readonly origin: string;
  /** Replaced by a fresh pool when the old one is retired (drain). */
  dispatcher: Pool;
  /** Requests dispatched to this target and not yet finished. */
  inflight = 0;
  /** Asked at pick time: active check passed, not ejected, not draining. */
  ready = true;
  /** Slow start: the target's share ramps up between these two times (ms, performance clock); 0 = not ramping. */
  rampStart = 0;
  rampEnd = 0;

  readonly #poolOpts: TargetPoolOptions;
  readonly #events: TargetEvents;
  /** 'unknown' until the first active check when one is configured. */
  #active: 'unknown' | 'healthy' | 'unhealthy' = 'healthy';
  #checker: HealthChecker | null = null;
  #checkKey = '';
  #ejectedUntil = 0;
  #ejections = 0;
  #ejectTimer: NodeJS.Timeout | null = null;
  #failures = 0;
  #draining = false;
  #slowStartMs = 0;
  #closed = false;
  #fresh = true;

  constructor(origin: string, opts: TargetPoolOptions, events: TargetEvents = {}) {
    this.origin = origin;
    this.#poolOpts = opts;
    this.#events = events;
    this.dispatcher = this.#newPool();
  }

  #newPool(): Pool {
    return new Pool(this.origin, {
      connections: this.#poolOpts.connections,
      keepAliveTimeout: this.#poolOpts.keepAliveTimeoutMs,
      connectTimeout: this.#poolOpts.connectTimeoutMs,
      maxHeaderSize: this.#poolOpts.maxResponseHeaderSize,
      pipelining: 1,
      // https:// targets: SNI is the target's host name (undici's default); --upstream-ca adds trust.
      ...(this.#poolOpts.ca ? { connect: { ca: this.#poolOpts.ca } } : {}),
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get state(): TargetState {
    if (this.#draining) return 'draining';
    if (this.#active === 'unknown') return 'pending';
    if (this.#active === 'unhealthy') return 'unhealthy';
    if (this.#ejectedUntil > 0) return 'ejected';
    return 'healthy';
  }

  /** Applies the upstream's health settings; called on every config swap. */
  configure(healthCheck: HealthCheckSpec | undefined, slowStartMs: number): void {
    this.#slowStartMs = slowStartMs;
    const fresh = this.#fresh;
    this.#fresh = false;
    const key = healthCheck ? JSON.stringify(healthCheck) : '';
    if (this.#closed || (key === this.#checkKey && !fresh)) return;
    this.#checkKey = key;
    this.#checker?.stop();
    this.#checker = null;
    if (healthCheck) {
      // A new target takes no traffic until its first check passes; one
      // already serving keeps serving until checks say otherwise.
      if (fresh) this.#active = 'unknown';
      this.#checker = new HealthChecker(this.origin, healthCheck, (ok) => this.#onCheck(ok, healthCheck));
      this.#update();
    } else {
      this.#setActive('healthy');
      if (fresh && slowStartMs > 0) this.#startRamp();
    }
  }

  #checkOk = 0;
  #checkBad = 0;

  #onCheck(ok: boolean, spec: HealthCheckSpec): void {
    if (ok) {
      this.#checkBad = 0;
      this.#checkOk++;
      // First pass of a new target is enough; a recovering one needs `healthy` in a row.
      if (this.#active === 'unknown' || (this.#active === 'unhealthy' && this.#checkOk >= (spec.healthy ?? 2))) {
        this.#unEject(); // an active pass clears a passive ejection (Envoy does the same)
        this.#setActive('healthy');
      }
    } else {
      this.#checkOk = 0;
      this.#checkBad++;
      if (this.#active !== 'unhealthy' && this.#checkBad >= (spec.unhealthy ?? 2)) this.#setActive('unhealthy');
    }
  }

  #setActive(next: 'unknown' | 'healthy' | 'unhealthy'): void {
    if (this.#active === next) return;
    this.#active = next;
    this.#update();
  }

  /** Passive health: the outcome of a proxied exchange. */
  reportSuccess(): void {
    this.#failures = 0;
  }

  /** Passive health: a connect error or 5xx. Returns true when this ejects it. */
  reportFailure(mayEject: boolean): boolean {
    if (++this.#failures < OUTLIER.consecutiveFailures || this.#ejectedUntil > 0 || !mayEject) return false;
    this.#failures = 0;
    const ms = Math.min(OUTLIER.baseEjectionMs * 2 ** this.#ejections, OUTLIER.maxEjectionMs);
    this.#ejections++;
    this.#ejectedUntil = Date.now() + ms;
    this.#ejectTimer = setTimeout(() => this.#unEject(), ms);
    this.#ejectTimer.unref();
    this.#events.onEjection?.(this, ms);
    this.#update();
    return true;
  }

  get ejected(): boolean {
    return this.#ejectedUntil > 0;
  }

  #unEject(): void {
    if (this.#ejectTimer) clearTimeout(this.#ejectTimer);
    this.#ejectTimer = null;
    if (this.#ejectedUntil === 0) return;
    this.#ejectedUntil = 0;
    this.#update();
  }

  /**
   * Target drain: out of rotation (no new picks); idle keep-alive connections
   * close now, busy ones after their last request, and what still runs after
   * `timeoutMs` is cut.
   */
  setDraining(draining: boolean, timeoutMs: number): void {
    if (this.#draining === draining) return;
    this.#draining = draining;
    this.#update();
    if (!draining) return;
    const old = this.retireDispatcher();
    const cut = setTimeout(() => void old.destroy(DRAIN_CUT).catch(() => {}), timeoutMs);
    cut.unref();
    void old.close().catch(() => {}).then(() => clearTimeout(cut));
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Recomputes `ready`; a target that becomes ready starts its slow start. */
  #update(): void {
    const wasReady = this.ready;
    this.ready = !this.#closed && !this.#draining && this.#active === 'healthy' && this.#ejectedUntil === 0;
    if (this.ready && !wasReady && this.#slowStartMs > 0) this.#startRamp();
    if (this.ready !== wasReady) this.#events.onHealthChange?.(this, this.state);
  }

  #startRamp(): void {
    this.rampStart = performance.now();
    this.rampEnd = this.rampStart + this.#slowStartMs;
  }

  /** Share factor in (0, 1] for slow start at time `now` (performance clock). */
  rampFactor(now: number): number {
    if (this.rampEnd === 0) return 1;
    if (now >= this.rampEnd) {
      this.rampEnd = 0;
      return 1;
    }
    return Math.max(0.001, (now - this.rampStart) / (this.rampEnd - this.rampStart));
  }

  /**
   * Swaps in a fresh connection pool and hands back the old one, so a drain
   * can close the old connections (gracefully, then by force) while any later
   * traffic gets new ones.
   */
  retireDispatcher(): Pool {
    const old = this.dispatcher;
    if (!this.#closed) this.dispatcher = this.#newPool();
    return old;
  }

  /** Graceful: no new requests; resolves after the last in-flight one ends. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#checker?.stop();
    if (this.#ejectTimer) clearTimeout(this.#ejectTimer);
    this.#update();
    return this.dispatcher.close();
  }

  /** Immediate: cuts whatever is still running. */
  destroy(): Promise<void> {
    this.#closed = true;
    this.#checker?.stop();
    this.#update();
    return this.dispatcher.destroy();
  }
}

/** Normalises a target URL to its origin, the identity of a Target. */
export function originOf(url: string): string {
  return new URL(url).origin;
}
