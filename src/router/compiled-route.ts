import type { RouteMatch } from '../resources.js';
import type { CompiledUpstream } from '../upstreams/upstream.js';
import type { RouteSeries } from '../proxy/request-metrics.js';
import type { Matchable } from './route-table.js';

/**
 * A route as the request path uses it: every field decided at compile time,
 * `null` for absent features so the hot path pays nothing for them.
 */
export class CompiledRoute implements Matchable {
  constructor(
    readonly id: string,
    readonly match: RouteMatch,
    readonly upstreamName: string,
    /** null: the upstream does not exist (yet) -> 503 no_healthy_target. */
    readonly upstream: CompiledUpstream | null,
    /** The prefix to remove from the path, or null when stripPrefix is off. */
    readonly stripPrefix: string | null,
    readonly timeoutMs: number,
    readonly retries: number,
    readonly series: RouteSeries,
    /** Request body limit in bytes (413 above it); 0 = unlimited. */
    readonly maxBodyBytes: number = 0,
    /** Plain-HTTP requests are answered with 308 to https. */
    readonly redirectHttps: boolean = false,
  ) {}
}
