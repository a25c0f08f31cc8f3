import type { Registry } from 'prom-client';
import type { ConfigErrorDetail, ListenerPolicy } from '../resources.js';
import type { SourceStatus } from '../upstreams/discovery/target-source.js';

export type RouteStatus =
  | { status: 'active' }
  | { status: 'unresolved'; reason: string }
  | { status: 'invalid'; errors: ConfigErrorDetail[] };

/** One pool on one node (GET /upstreams/:name/status). */
export interface PoolStatus {
  /** Effective weight now (moves during a flood ramp). */
  weight: number;
  configuredWeight: number;
  state: 'active' | 'flooding' | 'draining' | 'drained' | 'idle';
  inflight: number;
  healthy: number;
  total: number;
  /** Requests cut by drain deadlines on this node. */
  cut: number;
  targets: { target: string; state: string; inflight: number }[];
  /** process, dns and registry pools: what their source does on this node (state, error, restarts...). */
  source?: SourceStatus;
}

export interface NodeUpstreamStatus {
  node: string;
  appliedRevision: number;
  pools: Record<string, PoolStatus>;
}

/**
 * What the admin API may read of the running gateway. Implemented by the
 * Gateway (src/gateway.ts); the admin API never touches the data plane itself.
 */
export interface GatewayView {
  /** True once the first routing table has been applied. */
  readonly ready: boolean;
  /** Store revision of the table serving now (0 before the first). */
  readonly appliedRevision: number;
  /** Whether the store is reachable now. */
  readonly storeConnected: boolean;
  /** Status of a stored route in the table serving now; null if not stored. */
  routeStatus(id: string): RouteStatus | null;
  /** Errors of a stored upstream that failed validation, or null when valid/unknown. */
  upstreamErrors(name: string): ConfigErrorDetail[] | null;
  /** Used to validate a route's match.port before writing it. */
  readonly listenerPolicy: ListenerPolicy;
  readonly metrics: Registry;
  /** The Prometheus text of /metrics (with --workers: this process and its workers, aggregated). */
  metricsText(): Promise<string>;
  readonly nodeId: string;
  readonly version: string;
  /** This node's view of an upstream's pools; null when it is not live here. */
  upstreamStatus(name: string): NodeUpstreamStatus | null;
}
