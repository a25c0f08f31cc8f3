import { readFileSync } from 'node:fs';

/** A field of /proc/<pid>/status in kB (VmRSS, VmHWM, ...). */
export function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

/** Whether a pid is alive (signal 0 probe). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
