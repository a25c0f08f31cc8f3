// fast-check settings shared by the property tests: in `npm test` a fixed
// seed and a small run count (fast, reproducible); scripts/fuzz.mjs runs the
// same properties longer through FUZZ_RUNS and FUZZ_SEED.

export interface FuzzParams {
  seed: number;
  numRuns: number;
}

/** `defaultRuns` unless FUZZ_RUNS says otherwise; seed FUZZ_SEED or a fixed one. */
export function fuzzParams(defaultRuns: number): FuzzParams {
  const runs = process.env.FUZZ_RUNS;
  const seed = process.env.FUZZ_SEED;
  const numRuns = runs !== undefined && /^\d+$/.test(runs) && Number(runs) > 0 ? Number(runs) : defaultRuns;
  return { seed: seed !== undefined && /^-?\d+$/.test(seed) ? Number(seed) : 0x5eed, numRuns };
}

/** Test timeout for a property of `numRuns` runs at about `msPerRun` each (never below 30 s). */
export function fuzzTimeout(p: FuzzParams, msPerRun: number): number {
  return Math.max(30_000, p.numRuns * msPerRun * 3);
}
