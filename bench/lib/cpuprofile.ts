// Summary of a V8 .cpuprofile (node --cpu-prof): self time per function.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  fn: string;
  where: string;
  selfMs: number;
  pct: number;
}

function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const d = url.indexOf('/dist/');
  if (d >= 0) return url.slice(d + 1);
  return url.replace(/^file:\/\//, '');
}

/**
 * Top `limit` functions by self time, optionally only for samples inside
 * `windowUs` (CLOCK_MONOTONIC µs, the clock of process.hrtime and of V8's
 * profile timestamps). `(idle)` is left out of the list and of the % base.
 */
export function topSelfTime(
  file: string,
  limit = 20,
  windowUs?: [number, number],
): { totalMs: number; idleMs: number; top: SelfTime[]; byOrigin: Record<string, number> } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let t = p.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    if (windowUs && (t < windowUs[0] || t > windowUs[1])) continue;
    // The delta before sample i+1 is the time spent in sample i.
    const dt = deltas[i + 1] ?? 0;
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt);
  }
  const agg = new Map<string, SelfTime>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const cf = n.callFrame;
    const fn = cf.functionName || '(anonymous)';
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    total += us;
    if (fn === '(idle)') idle += us;
    const key = `${fn}\u0000${where}`;
    const e = agg.get(key) ?? { fn, where, selfMs: 0, pct: 0 };
    e.selfMs += us / 1000;
    agg.set(key, e);
  }
  const busy = total - idle;
  const byOrigin: Record<string, number> = {};
  for (const e of agg.values()) {
    if (e.fn === '(idle)') continue;
    const o = origin(e);
    byOrigin[o] = (byOrigin[o] ?? 0) + e.selfMs;
  }
  for (const k of Object.keys(byOrigin)) byOrigin[k] = busy > 0 ? +((100 * byOrigin[k]! * 1000) / busy).toFixed(1) : 0;
  const top = [...agg.values()]
    .filter((e) => e.fn !== '(idle)')
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, limit)
    .map((e) => ({ ...e, selfMs: +e.selfMs.toFixed(1), pct: busy > 0 ? +((100 * e.selfMs * 1000) / busy).toFixed(1) : 0 }));
  return { totalMs: +(total / 1000).toFixed(1), idleMs: +(idle / 1000).toFixed(1), top, byOrigin };
}

/** Coarse origin of a function: whose code the time is spent in. */
function origin(e: SelfTime): string {
  if (e.fn === '(garbage collector)') return 'gc';
  if (!e.where) return 'native'; // syscalls (writev, ...), (program), builtins
  if (e.where.startsWith('node:')) return 'node';
  if (e.where.startsWith('undici/')) return 'undici';
  if (e.where.startsWith('dist/src/')) return 'switchyard';
  if (e.where.startsWith('dist/bench/')) return 'bench';
  if (e.where.startsWith('wasm')) return 'wasm (llhttp)';
  return 'other';
}

/** Markdown table of topSelfTime. */
export function formatTopSelfTime(file: string, limit = 20, windowUs?: [number, number]): string {
  const { totalMs, idleMs, top, byOrigin } = topSelfTime(file, limit, windowUs);
  const origins = Object.entries(byOrigin)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v} %`)
    .join(', ');
  const lines = [
    `${file}: ${totalMs} ms sampled${windowUs ? ' in the measured window' : ''}, ${idleMs} ms idle; % of busy (non-idle) time`,
    '',
    `By origin: ${origins}`,
    '',
    '| self ms | % busy | function | where |',
    '| --: | --: | --- | --- |',
    ...top.map((e) => `| ${e.selfMs} | ${e.pct} | \`${e.fn}\` | ${e.where} |`),
  ];
  return lines.join('\n');
}
