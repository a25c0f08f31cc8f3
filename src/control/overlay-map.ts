/** Marks a key the overlay removes from the base. */
const GONE: unique symbol = Symbol('gone');

/**
 * An immutable map that derives new versions cheaply: `with(changes)` returns
 * a new map sharing this one's base and copying only its small overlay of
 * changes; once the overlay reaches a sixteenth of the base (at least 1024
 * keys) it is folded into a new base. So changing a few keys of a 100 000-key
 * map costs about the overlay, not the map, and a stream of changes costs
 * O(1) amortised per changed key on top. Iteration yields the base's
 * remaining entries in their order, then the overlay's (a changed key moves
 * to the end). Store snapshots and generations hold their entries in these:
 * copying a 100 000-entry Map for every change made bulk loads quadratic.
 */
export class OverlayMap<K, V> implements ReadonlyMap<K, V> {
  readonly #base: ReadonlyMap<K, V>;
  readonly #over: ReadonlyMap<K, V | typeof GONE>;
  readonly size: number;

  private constructor(base: ReadonlyMap<K, V>, over: ReadonlyMap<K, V | typeof GONE>, size: number) {
    this.#base = base;
    this.#over = over;
    this.size = size;
    Object.freeze(this);
  }

  /** Wraps `base`, which the caller must never change afterwards. */
  static of<K, V>(base: ReadonlyMap<K, V>): OverlayMap<K, V> {
    return base instanceof OverlayMap ? (base as OverlayMap<K, V>) : new OverlayMap(base, new Map(), base.size);
  }

  /** A new map with each change applied in order: a value sets the key, `undefined` removes it. */
  with(changes: Iterable<readonly [K, V | undefined]>): OverlayMap<K, V> {
    const over = new Map(this.#over);
    let size = this.size;
    for (const [k, v] of changes) {
      const had = this.#has(over, k);
      if (v === undefined) {
        if (!had) continue;
        size--;
        if (this.#base.has(k)) over.set(k, GONE);
        else over.delete(k);
      } else {
        if (!had) size++;
        over.set(k, v);
      }
    }
    if (over.size < Math.max(1024, this.#base.size / 16)) return new OverlayMap(this.#base, over, size);
    const flat = new Map<K, V>();
    for (const [k, v] of this.#base) if (!over.has(k)) flat.set(k, v);
    for (const [k, v] of over) if (v !== GONE) flat.set(k, v);
    return new OverlayMap(flat, new Map(), flat.size);
  }

  #has(over: ReadonlyMap<K, V | typeof GONE>, k: K): boolean {
    const o = over.get(k);
    return o === undefined ? this.#base.has(k) : o !== GONE;
  }

  get(k: K): V | undefined {
    const o = this.#over.get(k);
    if (o === undefined) return this.#base.get(k);
    return o === GONE ? undefined : o;
  }

  has(k: K): boolean {
    return this.#has(this.#over, k);
  }

  *entries(): MapIterator<[K, V]> {
    const over = this.#over;
    if (over.size === 0) {
      yield* this.#base.entries();
      return;
    }
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
