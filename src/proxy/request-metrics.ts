import type { Registry } from 'prom-client';

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** Seconds; the usual latency ladder from 1 ms to 10 s. */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];

/** Counters of one (route, pool): plain numbers, read only when scraped. */
class PoolSeries {
  readonly byCode = new Map<number, number>();
  /** Per code class: bucket counts (non-cumulative), then sum, then count. */
  readonly hist: Float64Array[] = CLASSES.map(() => new Float64Array(BUCKETS.length + 3));

  record(status: number, seconds: number): void {
    this.byCode.set(status, (this.byCode.get(status) ?? 0) + 1);
    const cls = status >= 100 && status < 600 ? ((status / 100) | 0) - 1 : 4;
    const h = this.hist[cls]!;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    h[i]!++;
    h[BUCKETS.length + 1]! += seconds;
    h[BUCKETS.length + 2]!++;
  }
}

const NO_POOLS: ReadonlyMap<string, PoolSeries> = new Map();

/**
 * Request counters of one route, kept across config generations (counters
 * must stay monotonic). The hot path does one Map lookup by pool name and a
 * few array increments; prom-client only sees them at scrape time, so label
 * hashing never runs per request.
 */
export class RouteSeries {
  /** Created on the first request: with 100 000 routes, an empty Map each is ~15 MB. */
  #pools: Map<string, PoolSeries> | null = null;
  /** Requests sent again to another target. */
  retries = 0;
  constructor(readonly route: string, public upstream: string) {}

  record(pool: string, status: number, seconds: number): void {
    const pools = (this.#pools ??= new Map());
    let p = pools.get(pool);
    if (!p) pools.set(pool, (p = new PoolSeries()));
    p.record(status, seconds);
  }

  get pools(): ReadonlyMap<string, PoolSeries> {
    return this.#pools ?? NO_POOLS;
  }
}

/** Owns every RouteSeries and exposes them as two prom-client metrics. */
export class RequestMetrics {
  readonly #routes = new Map<string, RouteSeries>();

  /** The long-lived series of a route; the upstream label follows the latest config. */
  series(route: string, upstream: string): RouteSeries {
    let s = this.#routes.get(route);
    if (!s) this.#routes.set(route, (s = new RouteSeries(route, upstream)));
    s.upstream = upstream;
    return s;
  }

  register(registry: Registry): void {
    const routes = this.#routes;
    registry.registerMetric({
      name: 'switchyard_retries_total',
      help: 'Requests retried on another target, by route',
      type: 'counter',
      aggregator: 'sum',
      get() {
        const values: Sample[] = [];
        for (const s of routes.values()) if (s.retries > 0) values.push({ value: s.retries, labels: { route: s.route } });
        return { name: 'switchyard_retries_total', help: 'Requests retried on another target, by route', type: 'counter', aggregator: 'sum', values };
      },
      reset() {},
    } as never);
    registry.registerMetric({
      name: 'switchyard_requests_total',
      help: 'Proxied requests by route, upstream, pool and status code',
      type: 'counter',
      aggregator: 'sum',
      get() {
        const values: Sample[] = [];
        for (const s of routes.values()) {
          for (const [pool, p] of s.pools) {
            for (const [code, n] of p.byCode) {
              values.push({ value: n, labels: { route: s.route, upstream: s.upstream, pool, code: String(code) } });
            }
          }
        }
        return { name: 'switchyard_requests_total', help: 'Proxied requests by route, upstream, pool and status code', type: 'counter', aggregator: 'sum', values };
      },
      reset() {},
    } as never);
    registry.registerMetric({
      name: 'switchyard_request_duration_seconds',
      help: 'Proxied request duration by route, upstream, pool and status class',
      type: 'histogram',
      aggregator: 'sum',
      get() {
        const values: Sample[] = [];
        const name = 'switchyard_request_duration_seconds';
        for (const s of routes.values()) {
          for (const [pool, p] of s.pools) {
            p.hist.forEach((h, ci) => {
              const count = h[BUCKETS.length + 2]!;
              if (count === 0) return;
              const labels = { route: s.route, upstream: s.upstream, pool, code: CLASSES[ci]! };
              let acc = 0;
              BUCKETS.forEach((le, bi) => {
                acc += h[bi]!;
                values.push({ metricName: `${name}_bucket`, value: acc, labels: { ...labels, le } });
              });
              values.push({ metricName: `${name}_bucket`, value: count, labels: { ...labels, le: '+Inf' } });
              values.push({ metricName: `${name}_sum`, value: h[BUCKETS.length + 1]!, labels });
              values.push({ metricName: `${name}_count`, value: count, labels });
            });
          }
        }
        return { name, help: 'Proxied request duration by route, upstream, pool and status class', type: 'histogram', aggregator: 'sum', values };
      },
      reset() {},
    } as never);
  }
}
