/** Marks a key the overlay removes from the base. */
const GONE: unique symbol = Symbol('gone');

/** Layers at most before they are merged into one. */
const MAX_LAYERS = 4;

/**
 * An immutable map that derives new versions cheaply: `with(changes)` returns
 * a new map sharing this one's base and layers of changes, adding one layer
 * holding just the new changes. Every MAX_LAYERS versions the layers are
 * merged into one, and once that reaches an eighth of the base (at least
 * 1024 keys) it is folded into a new base. So a version costs about its own
 * changes plus, amortised, O(1) per changed key: changing a few keys of a
 * 100 000-key map never copies the map. A lookup checks the layers newest
 * first, then the base. Iteration yields the base's remaining entries in
 * their order, then the changed ones (a changed key moves to the end).
 * Store snapshots and generations hold their entries in these: copying a
 * 100 000-entry Map for every change made bulk loads quadratic.
 */
export class OverlayMap<K, V> implements ReadonlyMap<K, V> {
  readonly #base: ReadonlyMap<K, V>;
  /** Changes over the base, oldest first. */
  readonly #layers: readonly ReadonlyMap<K, V | typeof GONE>[];
  readonly size: number;

  private constructor(base: ReadonlyMap<K, V>, layers: readonly ReadonlyMap<K, V | typeof GONE>[], size: number) {
    this.#base = base;
    this.#layers = layers;
    this.size = size;
    Object.freeze(this);
  }

  /** Wraps `base`, which the caller must never change afterwards. */
  static of<K, V>(base: ReadonlyMap<K, V>): OverlayMap<K, V> {
    return base instanceof OverlayMap ? (base as OverlayMap<K, V>) : new OverlayMap(base, [], base.size);
  }

  /** A new map with each change applied in order: a value sets the key, `undefined` removes it. */
  with(changes: Iterable<readonly [K, V | undefined]>): OverlayMap<K, V> {
    const layer = new Map<K, V | typeof GONE>();
    let size = this.size;
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
    if (layer.size === 0) return this;
    let layers = [...this.#layers, layer];
    if (layers.length <= MAX_LAYERS) return new OverlayMap(this.#base, layers, size);
    const merged = this.#merged(layers);
    if (merged.size < Math.max(1024, this.#base.size / 8)) return new OverlayMap(this.#base, [merged], size);
    const flat = new Map<K, V>();
    for (const [k, v] of this.#base) if (!merged.has(k)) flat.set(k, v);
    for (const [k, v] of merged) if (v !== GONE) flat.set(k, v);
    return new OverlayMap(flat, [], flat.size);
  }

  /** The layers as one (newest wins). */
  #merged(layers: readonly ReadonlyMap<K, V | typeof GONE>[]): ReadonlyMap<K, V | typeof GONE> {
    if (layers.length === 1) return layers[0]!;
    const merged = new Map(layers[0]);
    for (let i = 1; i < layers.length; i++) for (const [k, v] of layers[i]!) merged.set(k, v);
    return merged;
  }

  get(k: K): V | undefined {
    const layers = this.#layers;
    for (let i = layers.length - 1; i >= 0; i--) {
      const o = layers[i]!.get(k);
      if (o !== undefined) return o === GONE ? undefined : o;
    }
    return this.#base.get(k);
  }

  has(k: K): boolean {
    const layers = this.#layers;
    for (let i = layers.length - 1; i >= 0; i--) {
      const o = layers[i]!.get(k);
      if (o !== undefined) return o !== GONE;
    }
    return this.#base.has(k);
  }

  *entries(): MapIterator<[K, V]> {
    if (this.#layers.length === 0) {
      yield* this.#base.entries();
      return;
    }
    const over = this.#merged(this.#layers);
    for (const e of this.#base) if (!over.has(e[0])) yield e;
    for (const [k, v] of over) if (v !== GONE) yield [k, v];
  }
  *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }
}
