import { ReadonlyMapBase } from './readonly-map-base.js';

/** Marks a key the overlay removes from the base. */
const GONE: unique symbol = Symbol('gone');

/** Layers at most before they are merged into one. */
const MAX_LAYERS = 4;

/**
 * An immutable map that derives new versions cheaply: `with(changes)` returns
 * a new map sharing this one's base and layers of changes, adding (when first
 * read) one layer holding just the new changes. Every MAX_LAYERS versions the layers are
 * merged into one, and once that reaches an eighth of the base (at least
 * 1024 keys) it is folded into a new base. So a version costs about its own
 * changes plus, amortised, O(1) per changed key: changing a few keys of a
 * 100 000-key map never copies the map. A lookup checks the layers newest
 * first, then the base. Iteration yields the base's remaining entries in
 * their order, then the changed ones (a changed key moves to the end).
 * Store snapshots and generations hold their entries in these: copying a
 * 100 000-entry Map for every change made bulk loads quadratic.
 */
export class OverlayMap<K, V> extends ReadonlyMapBase<K, V> {
  // Resolved: #base + #layers, #size. Pending (made by with(), not read yet):
  // #parent + #delta, resolved on first read. A version nobody reads (a store
  // snapshot the gateway skipped while it coalesced a burst) never costs more
  // than its own changes: a later version resolves from the last resolved one
  // with all the deltas in between at once.
  #base: ReadonlyMap<K, V>;
  /** Changes over the base, oldest first. */
  #layers: readonly ReadonlyMap<K, V | typeof GONE>[];
  #size: number;
  #parent: OverlayMap<K, V> | null = null;
  #delta: ReadonlyMap<K, V | undefined> | null = null;

  private constructor(base: ReadonlyMap<K, V>, layers: readonly ReadonlyMap<K, V | typeof GONE>[], size: number) {
    super();
    this.#base = base;
    this.#layers = layers;
    this.#size = size;
  }

  /** Wraps `base`, which the caller must never change afterwards. */
  static of<K, V>(base: ReadonlyMap<K, V>): OverlayMap<K, V> {
    return base instanceof OverlayMap ? (base as OverlayMap<K, V>) : new OverlayMap(base, [], base.size);
  }

  get size(): number {
    this.#resolve();
    return this.#size;
  }

  /** A new map with each change applied in order: a value sets the key, `undefined` removes it. */
  with(changes: Iterable<readonly [K, V | undefined]>): OverlayMap<K, V> {
    const delta = new Map<K, V | undefined>();
    for (const [k, v] of changes) delta.set(k, v);
    if (delta.size === 0) return this;
    const next = new OverlayMap<K, V>(this.#base, [], 0);
    next.#parent = this;
    next.#delta = delta;
    return next;
  }

  #resolve(): void {
    if (this.#delta === null) return;
    const deltas: ReadonlyMap<K, V | undefined>[] = [];
    let from: OverlayMap<K, V> = this;
    while (from.#delta !== null) {
      deltas.push(from.#delta);
      from = from.#parent!;
    }
    let changes: Iterable<readonly [K, V | undefined]> = deltas[0]!;
    if (deltas.length > 1) {
      const all = new Map<K, V | undefined>();
      for (let i = deltas.length - 1; i >= 0; i--) for (const [k, v] of deltas[i]!) all.set(k, v);
      changes = all;
    }
    from.#applied(changes, this);
    this.#parent = null;
    this.#delta = null;
  }

  /** Sets `into`'s base, layers and size to this (resolved) map with `changes` applied. */
  #applied(changes: Iterable<readonly [K, V | undefined]>, into: OverlayMap<K, V>): void {
    const layer = new Map<K, V | typeof GONE>();
    let size = this.#size;
    for (const [k, v] of changes) {
      const o = layer.get(k);
      const had = o === undefined ? this.has(k) : o !== GONE;
      if (v === undefined) {
        if (!had) continue;
        size--;
        layer.set(k, GONE);
      } else {
        if (!had) size++;
        layer.set(k, v);
      }
    }
    into.#size = size;
    into.#base = this.#base;
    const layers = layer.size === 0 ? this.#layers : [...this.#layers, layer];
    into.#layers = layers;
    if (layers.length <= MAX_LAYERS) return;
    const merged = this.#merged(layers);
    if (merged.size < Math.max(1024, this.#base.size / 8)) {
      into.#layers = [merged];
      return;
    }
    const flat = new Map<K, V>();
    for (const [k, v] of this.#base) if (!merged.has(k)) flat.set(k, v);
    for (const [k, v] of merged) if (v !== GONE) flat.set(k, v);
    into.#base = flat;
    into.#layers = [];
    into.#size = flat.size;
  }

  /** The layers as one (newest wins). */
  #merged(layers: readonly ReadonlyMap<K, V | typeof GONE>[]): ReadonlyMap<K, V | typeof GONE> {
    if (layers.length === 1) return layers[0]!;
    const merged = new Map(layers[0]);
    for (let i = 1; i < layers.length; i++) for (const [k, v] of layers[i]!) merged.set(k, v);
    return merged;
  }

  get(k: K): V | undefined {
    this.#resolve();
    const layers = this.#layers;
    for (let i = layers.length - 1; i >= 0; i--) {
      const o = layers[i]!.get(k);
      if (o !== undefined) return o === GONE ? undefined : o;
    }
    return this.#base.get(k);
  }

  has(k: K): boolean {
    this.#resolve();
    const layers = this.#layers;
    for (let i = layers.length - 1; i >= 0; i--) {
      const o = layers[i]!.get(k);
      if (o !== undefined) return o !== GONE;
    }
    return this.#base.has(k);
  }

  *entries(): MapIterator<[K, V]> {
    this.#resolve();
    if (this.#layers.length === 0) {
      yield* this.#base.entries();
      return;
    }
    const over = this.#merged(this.#layers);
    for (const e of this.#base) if (!over.has(e[0])) yield e;
    for (const [k, v] of over) if (v !== GONE) yield [k, v];
  }
}
