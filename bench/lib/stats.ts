// Small statistics helpers: medians over rounds and within-round ratios.

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[rank]!;
}

/** Median of the finite values; NaN when there are none. */
export function median(values: Iterable<number | null | undefined>): number {
  const v = [...values].filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** a / b, or NaN when either is missing or b is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number {
  if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return NaN;
  return a / b;
}

/** a - b, or NaN when either is missing. */
export function diff(a: number | null | undefined, b: number | null | undefined): number {
  if (typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b)) return NaN;
  return a - b;
}

/** (max - min) / median of the finite values, as a spread indicator; NaN for < 2 values. */
export function spread(values: Iterable<number | null | undefined>): number {
  const v = [...values].filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length < 2) return NaN;
  const m = median(v);
  return m === 0 ? NaN : (Math.max(...v) - Math.min(...v)) / m;
}

/** Mean of the finite values; NaN when there are none. */
export function mean(values: Iterable<number | null | undefined>): number {
  const v = [...values].filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}

/** Nearest-rank percentile of unsorted values. */
export function pct(values: number[], p: number): number {
  return percentile(Float64Array.from(values).sort(), p);
}
