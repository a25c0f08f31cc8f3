import { DEFAULT_TARGET_POOL_OPTIONS, Target, type TargetEvents, type TargetPoolOptions } from './target.js';

/**
 * Owns every Target by origin, across config generations. A generation asks
 * for its targets with acquire(); after a swap, release everything the live
 * generation no longer names with retainOnly(): those targets close
 * gracefully, so their in-flight requests finish first.
 */
export class TargetRegistry {
  readonly #targets = new Map<string, Target>();
  readonly #opts: TargetPoolOptions;
  readonly #events: TargetEvents;

  constructor(opts: Partial<TargetPoolOptions> = {}, events: TargetEvents = {}) {
    this.#opts = { ...DEFAULT_TARGET_POOL_OPTIONS, ...opts };
    this.#events = events;
  }

  acquire(origin: string): Target {
    let t = this.#targets.get(origin);
    if (!t) {
      t = new Target(origin, this.#opts, this.#events);
      this.#targets.set(origin, t);
    }
    return t;
  }

  get(origin: string): Target | undefined {
    return this.#targets.get(origin);
  }

  /** Closes (gracefully) every target whose origin is not in `live`. */
  retainOnly(live: ReadonlySet<string>): void {
    for (const [origin, t] of this.#targets) {
      if (!live.has(origin)) {
        this.#targets.delete(origin);
        void t.close().catch(() => {});
      }
    }
  }

  get all(): IterableIterator<Target> {
    return this.#targets.values();
  }

  get size(): number {
    return this.#targets.size;
  }

  /** Closes every target, waiting up to `graceMs` before cutting the rest. */
  async closeAll(graceMs: number): Promise<void> {
    const all = [...this.#targets.values()];
    this.#targets.clear();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'cut'>((r) => (timer = setTimeout(() => r('cut'), graceMs)));
    const done = Promise.all(all.map((t) => t.close().catch(() => {})));
    if ((await Promise.race([done, deadline])) === 'cut') await Promise.all(all.map((t) => t.destroy().catch(() => {})));
    clearTimeout(timer);
  }
}
