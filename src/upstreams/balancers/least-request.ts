import type { Target } from '../target.js';
import { anyRamping, type Balancer } from './balancer.js';

/** Pools up to this size are scanned whole; larger ones use two random choices. */
const FULL_SCAN = 16;

/**
 * Least outstanding requests, weighted (in-flight / weight). Small pools are
 * scanned whole, with smooth weighted round-robin breaking ties, so an idle
 * pool splits exactly by weight; large pools of equal weights use the power of
 * two random choices (Envoy's default), which avoids herding, except while a
 * target is in slow start.
 */
export class LeastRequestBalancer implements Balancer {
  readonly #targets: readonly Target[];
  readonly #weights: Float64Array;
  readonly #current: Float64Array;
  readonly #uniform: boolean;

  constructor(targets: readonly Target[], weights: Float64Array) {
    this.#targets = targets;
    this.#weights = weights;
    this.#current = new Float64Array(targets.length);
    this.#uniform = weights.every((w) => w === weights[0]);
  }

  pick(exclude: Target | null): Target | null {
    const ts = this.#targets;
    const n = ts.length;
    const now = performance.now();
    // Two random choices ignore weights among idle targets (all score 0), so
    // unequal weights and slow start use the scan below.
    if (n > FULL_SCAN && this.#uniform && !anyRamping(ts)) {
      for (let tries = 0; tries < 4; tries++) {
        const a = ts[(Math.random() * n) | 0]!;
        const b = ts[(Math.random() * n) | 0]!;
        const okA = a.ready && a !== exclude;
        const okB = b.ready && b !== exclude && b !== a;
        if (okA && okB) return this.#score(a, now) <= this.#score(b, now) ? a : b;
        if (okA) return a;
        if (okB) return b;
      }
      // Mostly unready pool: fall back to the scan below.
    }
    const cur = this.#current;
    let total = 0;
    let best = -1;
    let bestScore = Infinity;
    for (let i = 0; i < n; i++) {
      const t = ts[i]!;
      if (!t.ready || t === exclude) continue;
      const w = this.#weights[i]! * t.rampFactor(now);
      cur[i]! += w;
      total += w;
      const score = t.inflight / w;
      if (score < bestScore || (score === bestScore && cur[i]! > cur[best]!)) {
        best = i;
        bestScore = score;
      }
    }
    if (best < 0) return null;
    cur[best]! -= total;
    return ts[best]!;
  }

  #score(t: Target, now: number): number {
    return t.inflight / (this.#weights[this.#targets.indexOf(t)]! * t.rampFactor(now));
  }
}
