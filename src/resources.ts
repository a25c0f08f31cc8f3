// Resource shapes of CONTRACT §2. These are the validated forms; raw store
// values go through src/control/validate.ts before anything compiles them.

export interface RouteMatch {
  port?: number;
  host?: string;
  path: string;
  methods?: string[];
}

export interface RouteSpec {
  id: string;
  match: RouteMatch;
  upstream: string;
  stripPrefix?: boolean;
  timeoutMs?: number;
  retries?: number;
  /** Request body limit in bytes (413 above it); 0 = unlimited; absent = the node's --max-body-size. */
  maxBodyBytes?: number;
  /** Plain-HTTP requests get 308 to https. */
  redirectHttps?: boolean;
}

export interface HealthCheckSpec {
  path: string;
  intervalMs?: number;
  timeoutMs?: number;
  healthy?: number;
  unhealthy?: number;
}

export interface DnsSource { name: string; port?: number; refreshMs?: number }
export interface ProcessSource {
  command: string;
  args?: string[];
  instances?: number;
  cwd?: string;
  env?: Record<string, string>;
  groups?: string[];
}

/** A pool has exactly one source. */
export interface PoolSpec {
  targets?: string[];
  dns?: DnsSource;
  process?: ProcessSource;
  registry?: boolean;
}

export interface UpstreamSpec {
  name: string;
  pools: Record<string, PoolSpec>;
  weights?: Record<string, number>;
  balancer?: 'round-robin' | 'least-request';
  healthCheck?: HealthCheckSpec;
  slowStartMs?: number;
  drainTimeoutMs?: number;
  /** Set by the flip endpoint: every node derives flood/drain progress from it. */
  flip?: FlipState;
  /** Targets taken out of rotation by the target drain endpoint. */
  drainTargets?: string[];
}

export interface FlipState {
  to: string;
  /** Epoch milliseconds. */
  at: number;
  rampMs?: number;
  drainTimeoutMs?: number;
  /** Weights before the flip. */
  from?: Record<string, number>;
}

export type ResourceKind = 'routes' | 'upstreams';

/** One problem with a resource, naming the field (JSON pointer style). */
export interface ConfigErrorDetail {
  field: string;
  message: string;
}

/** Listener facts a route is validated against (CONTRACT §2: port routes). */
export interface ListenerPolicy {
  listenPorts: ReadonlySet<number>;
  portRange: { from: number; to: number } | null;
}

export const ID_PATTERN = '^[a-z0-9][a-z0-9._-]{0,127}$';
export const ID_RE = new RegExp(ID_PATTERN);
