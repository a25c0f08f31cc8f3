// CPU time of a process from /proc/<pid>/stat: utime + stime (fields 14 and
// 15) in clock ticks, all threads included. Children that are alive at sample
// time are added (a proxy that forks workers is charged for them too).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clkTck: number | null = null;

/** `getconf CLK_TCK`, usually 100; 100 when getconf is missing. */
export function clockTicksPerSecond(): number {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

interface Stat {
  ppid: number;
  ticks: number;
}

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): field N is f[N - 3].
  return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
}

/** utime + stime ticks of `pid` and its live descendants; throws if pid is gone. */
export function cpuTicks(pid: number): number {
  const own = readStat(pid);
  if (own === null) throw new Error(`no /proc/${pid}/stat: process is gone`);
  let total = own.ticks;
  const children = new Map<number, number[]>();
  const stats = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    const p = Number(name);
    if (!Number.isInteger(p) || p === pid) continue;
    const s = readStat(p);
    if (s === null) continue;
    stats.set(p, s);
    const list = children.get(s.ppid);
    if (list) list.push(p);
    else children.set(s.ppid, [p]);
  }
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const p = queue.pop()!;
    total += stats.get(p)!.ticks;
    queue.push(...(children.get(p) ?? []));
  }
  return total;
}

/** Microseconds of CPU for a tick delta. */
export function ticksToMicros(ticks: number): number {
  return (ticks * 1e6) / clockTicksPerSecond();
}

/** Pids of the live descendants of `pid` (children, grandchildren, ...), from /proc/<pid>/task/<tid>/children. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.pop()!;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue; // gone
    }
    for (const t of tasks) {
      let text = '';
      try {
        text = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of text.split(' ')) {
        const n = Number(c);
        if (c.trim() !== '' && Number.isInteger(n)) {
          out.push(n);
          queue.push(n);
        }
      }
    }
  }
  return out;
}

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM); NaN when the process is gone. */
export function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Waits until the processes (with their descendants) use less than
 * `maxPct` % of a core over `sampleMs`, at most `timeoutMs`; returns the last
 * sample's %. For letting a gateway finish loading (GC, last-known-good
 * write) before it is measured.
 */
export async function waitIdle(pids: number[], opts: { maxPct?: number; sampleMs?: number; timeoutMs?: number } = {}): Promise<number> {
  const maxPct = opts.maxPct ?? 5;
  const sampleMs = opts.sampleMs ?? 500;
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  const total = () => pids.reduce((a, p) => a + (() => { try { return cpuTicks(p); } catch { return 0; } })(), 0);
  for (;;) {
    const t0 = total();
    await new Promise((r) => setTimeout(r, sampleMs));
    const pct = (100 * ticksToMicros(total() - t0)) / (sampleMs * 1000);
    if (pct < maxPct || Date.now() > deadline) return pct;
  }
}

/** utime + stime ticks of pid and of each live descendant, by pid. */
export function treeTicks(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of [pid, ...descendants(pid)]) {
    const s = readStat(p);
    if (s) out.set(p, s.ticks);
  }
  return out;
}
