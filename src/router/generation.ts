import type { RouteStatus } from '../control/gateway-view.js';
import type { ConfigErrorDetail, RouteSpec, UpstreamSpec } from '../resources.js';
import type { CompiledUpstream } from '../upstreams/upstream.js';
import type { CompiledRoute } from './compiled-route.js';
import type { RouteTable } from './route-table.js';

export interface GoodEntry<S> {
  readonly raw: string;
  readonly spec: S;
}

/**
 * One compiled, immutable configuration generation. Going live is a single
 * reference assignment; a request reads it once at entry and keeps it.
 */
export interface Generation {
  readonly revision: number;
  readonly table: RouteTable<CompiledRoute>;
  readonly upstreams: ReadonlyMap<string, CompiledUpstream>;
  readonly routeStatus: ReadonlyMap<string, RouteStatus>;
  /** Routes whose stored value is invalid (their last good version, if any, serves). */
  readonly routeErrors: ReadonlyMap<string, ConfigErrorDetail[]>;
  readonly upstreamErrors: ReadonlyMap<string, ConfigErrorDetail[]>;
  /** The last valid version of every entry, kept when a newer one is invalid. */
  readonly goodRoutes: ReadonlyMap<string, GoodEntry<RouteSpec>>;
  readonly goodUpstreams: ReadonlyMap<string, GoodEntry<UpstreamSpec>>;
  /** Every match.port the routes use. */
  readonly ports: ReadonlySet<number>;
}
