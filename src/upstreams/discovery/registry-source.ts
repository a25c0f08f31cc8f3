// `registry` pools (CONTRACT §2, §4): the targets registered under
// `<prefix>registry/<upstream>/<pool>/` by `switchyard register`, read from
// the node's one RegistryWatch. A registration marked draining stays in the
// pool but out of rotation, so its in-flight requests finish. With the file
// store there is nothing to watch: such pools are always empty, and say so.
import type { RegistryWatch } from './registry-watch.js';
import type { SourceContext, SourceStatus, TargetSource } from './target-source.js';

export const FILE_STORE_NOTE = 'registry pools need the etcd store (--store etcd://...); with the file store they are always empty';

export class RegistryTargetSource implements TargetSource {
  targets: readonly string[] = [];
  draining: readonly string[] = [];
  readonly #ctx: SourceContext;
  readonly #watch: RegistryWatch | null;
  readonly #unsubscribe: () => void;

  constructor(ctx: SourceContext, watch: RegistryWatch | null) {
    this.#ctx = ctx;
    this.#watch = watch;
    if (!watch) ctx.logger.warn({ upstream: ctx.upstream, pool: ctx.pool }, FILE_STORE_NOTE);
    this.#unsubscribe = watch ? watch.subscribe(() => this.#refresh()) : () => {};
    this.#refresh();
  }

  get settled(): boolean {
    return !this.#watch || this.#watch.synced;
  }

  #refresh(): void {
    if (!this.#watch) return;
    const targets: string[] = [];
    const draining: string[] = [];
    for (const r of this.#watch.entries.values()) {
      if (r.upstream !== this.#ctx.upstream || r.pool !== this.#ctx.pool) continue;
      targets.push(r.target);
      if (r.draining) draining.push(r.target);
    }
    targets.sort();
    draining.sort();
    const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);
    if (same(targets, this.targets) && same(draining, this.draining)) return;
    this.targets = targets;
    this.draining = draining;
    this.#ctx.changed();
  }

  update(): void {}

  status(): SourceStatus {
    if (!this.#watch) return { kind: 'registry', state: 'unavailable', error: FILE_STORE_NOTE, registered: 0, draining: [] };
    return { kind: 'registry', state: this.#watch.state, error: this.#watch.error, registered: this.targets.length, draining: this.draining };
  }

  async close(): Promise<void> {
    this.#unsubscribe();
  }
}
