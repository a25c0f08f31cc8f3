// The contract between a pool and where its targets come from (CONTRACT §2:
// a pool has exactly one source). Static `targets` pools need none of this;
// `process`, `dns` and `registry` pools each have one long-lived TargetSource
// per node, owned by the DiscoveryRegistry, that outlives config generations.
import type { Logger } from 'pino';
import type { HealthCheckSpec, PoolSpec } from '../../resources.js';
import type { PoolState } from '../pool-runtime.js';

/** What GET /upstreams/:name/status shows of a pool's source, per node. */
export interface SourceStatus {
  kind: 'process' | 'dns' | 'registry';
  /**
   * process: `starting`, `running`, `crash-loop`, `stopping`, `stopped` (after a
   * drain), `not-in-group`; dns: `resolving`, `ok`, `failing`; registry:
   * `syncing`, `ok`, `resyncing`, `unavailable` (file store).
   */
  state: string;
  /** What is wrong now; null when the source works. */
  error: string | null;
  /** Set while a replaced source (old spec) keeps serving until this one is ready. */
  replacing?: boolean;
  [extra: string]: unknown;
}

/** Settings a source takes on every compile without being replaced. */
export interface SourceSettings {
  spec: PoolSpec;
  healthCheck: HealthCheckSpec | undefined;
  drainTimeoutMs: number;
}

/** What a source may use of the node it runs on. */
export interface SourceContext {
  readonly upstream: string;
  readonly pool: string;
  /** Called when `targets` or `draining` changed: the gateway recompiles (coalesced). */
  changed(): void;
  /**
   * Resolves once no request of this node is in flight to `url` (or after
   * `timeoutMs`). Call it right when the target leaves the source's set: it
   * holds on to the live Target before the swap drops it.
   */
  waitIdle(url: string, timeoutMs: number): Promise<void>;
  readonly logger: Logger;
}

/**
 * One source of targets. Produces the whole current set (never a delta), so a
 * compile simply takes `targets` as the pool's list. Members are read at
 * compile time only, never on the request path.
 */
export interface TargetSource {
  /** Current target URLs (each an origin); a new array after every change. */
  readonly targets: readonly string[];
  /** Targets in `targets` that their owner is taking out of rotation (registry drain). */
  readonly draining: readonly string[];
  /**
   * True once the source produced the set it aims for (all process instances
   * ready, first DNS answer, first registry sync). A replaced source keeps
   * serving until its successor is settled.
   */
  readonly settled: boolean;
  /** Called on every compile that names this source. Must not throw. */
  update(settings: SourceSettings): void;
  /** The pool's drain/flood state on this node changed (process pools stop after a drain). */
  onPoolState?(state: PoolState): void;
  status(): SourceStatus;
  /** Stops the source: its targets leave first, backends stop once idle. Idempotent. */
  close(): Promise<void>;
}
