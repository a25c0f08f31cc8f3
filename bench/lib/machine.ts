// What the numbers were measured on, and how busy the machine was.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { clockTicksPerSecond } from './proc-cpu.js';

export interface MachineInfo {
  cpuModel: string;
  logicalCpus: number;
  availableParallelism: number;
  node: string;
  kernel: string;
  loadavg1: number;
  clkTck: number;
}

export function machineInfo(): MachineInfo {
  let model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1]!.trim();
  } catch {
    /* keep os.cpus() */
  }
  return {
    cpuModel: model,
    logicalCpus: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadavg1: +os.loadavg()[0]!.toFixed(2),
    clkTck: clockTicksPerSecond(),
  };
}

export interface CpuTotals {
  total: number;
  idle: number;
  steal: number;
}

/** Machine-wide jiffies from the first line of /proc/stat. */
export function cpuTotals(): CpuTotals {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest is inside user.
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, idle: f[3]! + f[4]!, steal: f[7] ?? 0 };
}

/** Steal time as % of all CPU time between two samples. */
export function stealPct(a: CpuTotals, b: CpuTotals): number {
  const dt = b.total - a.total;
  return dt > 0 ? (100 * (b.steal - a.steal)) / dt : 0;
}
