/**
 * The derived half of ReadonlyMap for maps that compute their entries
 * (overlays, views): keys, values, iteration and forEach from entries().
 */
export abstract class ReadonlyMapBase<K, V> implements ReadonlyMap<K, V> {
  abstract get(k: K): V | undefined;
  abstract has(k: K): boolean;
  abstract get size(): number;
  abstract entries(): MapIterator<[K, V]>;

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
