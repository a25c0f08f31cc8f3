import type { Target } from './target.js';

/**
 * A named version of an upstream (blue, green, ...) compiled for one
 * generation: an immutable target list and a round-robin cursor. Readiness is
 * asked at pick time, so health changes never force a rebuild.
 */
export class CompiledPool {
  readonly name: string;
  readonly weight: number;
  readonly targets: readonly Target[];
  #next = 0;

  constructor(name: string, weight: number, targets: readonly Target[]) {
    this.name = name;
    this.weight = weight;
    this.targets = targets;
  }

  /** The next ready target in rotation, skipping `exclude`; null if none. */
  pick(exclude: Target | null = null): Target | null {
    const ts = this.targets;
    const n = ts.length;
    for (let i = 0; i < n; i++) {
      const t = ts[this.#next];
      this.#next = this.#next + 1 === n ? 0 : this.#next + 1;
      if (t!.ready && t !== exclude) return t!;
    }
    return null;
  }

  hasReadyTarget(): boolean {
    for (const t of this.targets) if (t.ready) return true;
    return false;
  }
}
