import type { CompiledPool } from './pool.js';
import type { Target } from './target.js';

/**
 * An upstream compiled for one generation. Chooses a pool by smooth weighted
 * round-robin (nginx's algorithm: exact shares, evenly interleaved) over the
 * pools with weight > 0, then a target inside it. A pool with no ready target
 * is skipped so the others take its share.
 */
export class CompiledUpstream {
  readonly name: string;
  readonly pools: readonly CompiledPool[];
  /** Pools with weight > 0, in the order used by the weighted choice. */
  readonly #weighted: readonly CompiledPool[];
  readonly #current: Float64Array;
  readonly #totalWeight: number;

  constructor(name: string, pools: readonly CompiledPool[]) {
    this.name = name;
    this.pools = pools;
    this.#weighted = pools.filter((p) => p.weight > 0);
    this.#current = new Float64Array(this.#weighted.length);
    this.#totalWeight = this.#weighted.reduce((s, p) => s + p.weight, 0);
  }

  /** Picks a pool then a target; `into.pool` is set to the pool. Null when no target is ready. */
  pick(into: { pool: CompiledPool | null }, exclude: Target | null = null): Target | null {
    const ws = this.#weighted;
    const n = ws.length;
    if (n === 1) {
      into.pool = ws[0]!;
      return ws[0]!.pick(exclude);
    }
    const cur = this.#current;
    let best = -1;
    for (let i = 0; i < n; i++) {
      cur[i]! += ws[i]!.weight;
      if (best < 0 || cur[i]! > cur[best]!) best = i;
    }
    if (best < 0) return null;
    cur[best]! -= this.#totalWeight;
    const t = ws[best]!.pick(exclude);
    if (t) {
      into.pool = ws[best]!;
      return t;
    }
    // The chosen pool has nothing ready: fall back to any other weighted pool.
    for (let i = 0; i < n; i++) {
      if (i === best) continue;
      const alt = ws[i]!.pick(exclude);
      if (alt) {
        into.pool = ws[i]!;
        return alt;
      }
    }
    return null;
  }

  pool(name: string): CompiledPool | undefined {
    return this.pools.find((p) => p.name === name);
  }
}
