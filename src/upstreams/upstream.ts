import type { CompiledPool } from './pool.js';
import type { Target } from './target.js';

/**
 * An upstream compiled for one generation. Chooses a pool by smooth weighted
 * round-robin (nginx's algorithm: exact shares, evenly interleaved) over the
 * pools' effective weights, then a target inside it. Effective weights start
 * as the configured ones; the upstream runtime moves them during a flood
 * ramp or drain. A pool with no ready target is skipped so the others take
 * its share.
 */
export class CompiledUpstream {
  readonly name: string;
  readonly pools: readonly CompiledPool[];
  /** Effective weight per pool (index as `pools`); 0 = no new requests. */
  readonly effective: Float64Array;
  readonly #current: Float64Array;

  constructor(name: string, pools: readonly CompiledPool[]) {
    this.name = name;
    this.pools = pools;
    this.effective = Float64Array.from(pools, (p) => p.weight);
    this.#current = new Float64Array(pools.length);
  }

  /** Picks a pool then a target; `into.pool` is set to the pool. Null when no target is ready. */
  pick(into: { pool: CompiledPool | null }, exclude: Target | null = null): Target | null {
    const ps = this.pools;
    const eff = this.effective;
    const cur = this.#current;
    const n = ps.length;
    let total = 0;
    let best = -1;
    for (let i = 0; i < n; i++) {
      const w = eff[i]!;
      if (w <= 0) continue;
      cur[i]! += w;
      total += w;
      if (best < 0 || cur[i]! > cur[best]!) best = i;
    }
    if (best < 0) return null;
    cur[best]! -= total;
    const t = ps[best]!.pick(exclude);
    if (t) {
      into.pool = ps[best]!;
      return t;
    }
    // The chosen pool has nothing ready: fall back to any other weighted pool.
    for (let i = 0; i < n; i++) {
      if (i === best || eff[i]! <= 0) continue;
      const alt = ps[i]!.pick(exclude);
      if (alt) {
        into.pool = ps[i]!;
        return alt;
      }
    }
    return null;
  }

  pool(name: string): CompiledPool | undefined {
    return this.pools.find((p) => p.name === name);
  }
}
