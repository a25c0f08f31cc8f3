import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/bench/lib -> repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** Compiled bench scripts (dist/bench). */
export const BENCH_DIST = path.join(REPO_ROOT, 'dist/bench');
/** Where run.ts writes <scenario>-<timestamp>.json and latest.md (the source tree, not dist). */
export const RESULTS_DIR = path.join(REPO_ROOT, 'bench/results');
/** The Switchyard CLI as built by tsc. */
export const SWITCHYARD_CLI = path.join(REPO_ROOT, 'dist/src/cli.js');

/** A compiled bench script, e.g. benchScript('upstream') -> dist/bench/upstream.js. */
export function benchScript(name: string): string {
  return path.join(BENCH_DIST, `${name}.js`);
}
