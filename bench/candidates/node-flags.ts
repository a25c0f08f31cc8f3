import path from 'node:path';
import type { BenchEnv } from '../lib/types.js';

/** Node flags for a proxy process: --cpu-prof into <dir>/<candidate>/ when profiling. */
export function nodeFlags(env: BenchEnv, candidate: string): string[] {
  if (!env.cpuProfDir) return [];
  return ['--cpu-prof', '--cpu-prof-interval', process.env.BENCH_CPU_PROF_INTERVAL ?? '1000', '--cpu-prof-dir', path.join(env.cpuProfDir, candidate)];
}
