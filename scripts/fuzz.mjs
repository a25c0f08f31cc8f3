#!/usr/bin/env node
// `npm run fuzz`: the property tests of `npm test` (router and path
// normaliser against a reference matcher, random admin bodies), run longer.
//
//   FUZZ_RUNS=20000 node scripts/fuzz.mjs        # runs per property (default 2000)
//   FUZZ_SEED=1234 node scripts/fuzz.mjs         # replay a seed (default: a random one, printed)
//   node scripts/fuzz.mjs router                 # only files whose path contains "router"
//
// A failure prints fast-check's counterexample and the seed/path to replay it.
import { spawnSync } from 'node:child_process';

const FILES = ['dist/test/router/router-fuzz.test.js', 'dist/test/hardening/admin-fuzz.test.js'];

const runs = process.env.FUZZ_RUNS ?? '2000';
if (!/^\d+$/.test(runs) || Number(runs) < 1) {
  process.stderr.write(`fuzz: FUZZ_RUNS must be a positive whole number, not "${runs}"\n`);
  process.exit(2);
}
const seed = process.env.FUZZ_SEED ?? String((Math.random() * 2 ** 31) | 0);
if (!/^-?\d+$/.test(seed)) {
  process.stderr.write(`fuzz: FUZZ_SEED must be an integer, not "${seed}"\n`);
  process.exit(2);
}

const filters = process.argv.slice(2);
const files = filters.length ? FILES.filter((f) => filters.some((w) => f.includes(w))) : FILES;
if (files.length === 0) {
  process.stderr.write(`fuzz: no property test file matches ${filters.join(', ')} (have: ${FILES.join(', ')})\n`);
  process.exit(2);
}

// Build (only the two files below run, so stale output elsewhere does not matter).
const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

process.stdout.write(`fuzz: FUZZ_RUNS=${runs} FUZZ_SEED=${seed} (replay with these two)\n`);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_RUNS: runs, FUZZ_SEED: seed },
});
if (r.status !== 0) process.stdout.write(`fuzz: failed; replay with FUZZ_RUNS=${runs} FUZZ_SEED=${seed} node scripts/fuzz.mjs\n`);
process.exit(r.status ?? 1);
