import type { Generation } from '../router/generation.js';
import type { PoolState } from '../upstreams/pool-runtime.js';

/** What one data-plane process knows of a pool: its drain state and counters. */
export interface PoolCounters {
  state: PoolState;
  inflight: number;
  requests: number;
  errors: number;
  cut: number;
  /** In-flight requests per target origin. */
  targets: Record<string, number>;
}

/** upstream -> pool -> counters. */
export type UpstreamCounters = Record<string, Record<string, PoolCounters>>;

export function collectCounters(gen: Generation): UpstreamCounters {
  const out: UpstreamCounters = {};
  for (const u of gen.upstreams.values()) {
    const pools: Record<string, PoolCounters> = (out[u.name] = {});
    for (const p of u.pools) {
      const targets: Record<string, number> = {};
      for (const t of p.targets) targets[t.origin] = t.inflight;
      pools[p.name] = { state: p.runtime.state, inflight: p.runtime.inflight, requests: p.runtime.requests, errors: p.runtime.errors, cut: p.runtime.cut, targets };
    }
  }
  return out;
}

/**
 * Sums the counters of several data-plane processes (workers). The state of
 * a pool is draining while any process still drains it; otherwise the
 * processes agree (they derive it from the same configuration).
 */
export function mergeCounters(all: readonly UpstreamCounters[]): UpstreamCounters {
  const out: UpstreamCounters = {};
  for (const one of all) {
    for (const [up, pools] of Object.entries(one)) {
      const dst = (out[up] ??= {});
      for (const [name, c] of Object.entries(pools)) {
        const d = dst[name];
        if (!d) {
          dst[name] = { ...c, targets: { ...c.targets } };
          continue;
        }
        d.inflight += c.inflight;
        d.requests += c.requests;
        d.errors += c.errors;
        d.cut += c.cut;
        if (c.state === 'draining') d.state = 'draining';
        for (const [t, n] of Object.entries(c.targets)) d.targets[t] = (d.targets[t] ?? 0) + n;
      }
    }
  }
  return out;
}
