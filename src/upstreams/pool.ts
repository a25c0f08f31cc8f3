import { createBalancer, type Balancer, type BalancerKind } from './balancers/balancer.js';
import type { PoolRuntime } from './pool-runtime.js';
import type { Target } from './target.js';

/**
 * A named version of an upstream (blue, green, ...) compiled for one
 * generation: an immutable target list and its balancer. Its long-lived
 * runtime (in-flight count, drain/flood state) survives swaps.
 */
export class CompiledPool {
  readonly name: string;
  /** Configured weight. The effective one lives in CompiledUpstream. */
  readonly weight: number;
  readonly targets: readonly Target[];
  readonly runtime: PoolRuntime;
  readonly #balancer: Balancer;

  constructor(name: string, weight: number, targets: readonly Target[], balancer: BalancerKind, runtime: PoolRuntime) {
    this.name = name;
    this.weight = weight;
    this.targets = targets;
    this.runtime = runtime;
    this.#balancer = createBalancer(balancer, targets);
  }

  pick(exclude: Target | null = null): Target | null {
    return this.#balancer.pick(exclude);
  }

  readyCount(): number {
    let n = 0;
    for (const t of this.targets) if (t.ready) n++;
    return n;
  }

  /**
   * Passive health with a cap: at most half of a pool may be ejected at
   * once, so outlier detection never empties it (a one-target pool relies
   * on its active health check alone).
   */
  reportFailure(target: Target): void {
    let ejected = 0;
    for (const t of this.targets) if (t.ejected) ejected++;
    target.reportFailure(ejected < Math.floor(this.targets.length / 2));
  }
}
