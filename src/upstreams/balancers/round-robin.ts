import type { Target } from '../target.js';
import { anyRamping, type Balancer } from './balancer.js';

/**
 * Smooth weighted round-robin (nginx): exact shares, evenly interleaved.
 * With equal weights and nobody in slow start it is a plain rotation.
 */
export class RoundRobinBalancer implements Balancer {
  readonly #targets: readonly Target[];
  readonly #weights: Float64Array;
  readonly #current: Float64Array;
  readonly #uniform: boolean;
  #next = 0;

  constructor(targets: readonly Target[], weights: Float64Array) {
    this.#targets = targets;
    this.#weights = weights;
    this.#current = new Float64Array(targets.length);
    this.#uniform = weights.every((w) => w === weights[0]);
  }

  pick(exclude: Target | null): Target | null {
    const ts = this.#targets;
    const n = ts.length;
    if (this.#uniform && !anyRamping(ts)) {
      for (let i = 0; i < n; i++) {
        const t = ts[this.#next]!;
        this.#next = this.#next + 1 === n ? 0 : this.#next + 1;
        if (t.ready && t !== exclude) return t;
      }
      return null;
    }
    const now = performance.now();
    const cur = this.#current;
    let total = 0;
    let best = -1;
    for (let i = 0; i < n; i++) {
      const t = ts[i]!;
      if (!t.ready || t === exclude) continue;
      const w = this.#weights[i]! * t.rampFactor(now);
      cur[i]! += w;
      total += w;
      if (best < 0 || cur[i]! > cur[best]!) best = i;
    }
    if (best < 0) return null;
    cur[best]! -= total;
    return ts[best]!;
  }
}
