// Per-run records -> per-candidate medians and within-round ratios ->
// markdown tables and JSON files.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checksMarkdown, type Check } from './checks.js';
import type { LoadResult } from './load.js';
import type { MachineInfo } from './machine.js';
import { diff, median, ratio, spread } from './stats.js';
import { BARE, DIRECT } from './types.js';

/** One candidate in one round. */
export interface RunRecord {
  round: number;
  candidate: string;
  ok: boolean;
  error?: string;
  /** Spawn to serving, ms. */
  startMs?: number;
  /** Proxy pid (matches its .cpuprofile file name under --cpu-prof). */
  pid?: number | null;
  /** Measured window, CLOCK_MONOTONIC µs (process.hrtime; V8 profiles use the same clock). */
  windowUs?: [number, number];
  load?: LoadResult;
  /** The run at the scenario's fixed offered rate (Scenario.fixedRate), after the measured one. */
  fixed?: LoadResult & { offeredRps: number };
  /** Proxy process CPU (utime+stime, its live children included) per response, µs; null for direct. */
  proxyCpuMicrosPerReq: number | null;
  /** Proxy CPU as % of one core over the measured window. */
  proxyCpuPct: number | null;
  upstreamCpuMicrosPerReq: number | null;
  /** Load generator (this process) CPU as % of one core. */
  loadgenCpuPct: number | null;
  /** Machine-wide steal time during the window, % of all CPU time. */
  stealPct: number | null;
  /** Processes charged for proxy CPU: the proxy and its live descendants at the end of the window. */
  procCount?: number;
  /** With descendants: CPU per response of each process (main = the started one). */
  cpuByProcess?: { pid: number; main: boolean; microsPerReq: number }[];
  /** What a response is: 'req' (default) or 'msg'. */
  unit?: string;
}

export interface CandidateSummary {
  candidate: string;
  rounds: number;
  failedRounds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  cpuMicrosPerReq: number;
  upstreamCpuMicrosPerReq: number;
  /** Median over rounds of rps / rps(direct) in the same round. */
  rpsVsDirect: number;
  rpsVsBare: number;
  cpuVsBare: number;
  /** Median over rounds of p99 - p99(direct), ms. */
  p99OverDirectMs: number;
  /** (max - min) / median of per-round req/s. */
  rpsSpread: number;
  perRound: { rps: number[]; cpuMicrosPerReq: (number | null)[]; p99Ms: number[] };
}

export function summarize(records: RunRecord[], candidates: string[]): CandidateSummary[] {
  const byRound = new Map<number, Map<string, RunRecord>>();
  for (const r of records) {
    if (!r.ok || !r.load) continue;
    let m = byRound.get(r.round);
    if (!m) byRound.set(r.round, (m = new Map()));
    m.set(r.candidate, r);
  }
  const rounds = [...byRound.keys()].sort((a, b) => a - b);
  return candidates.map((name) => {
    const mine = rounds.map((rd) => byRound.get(rd)!.get(name)).filter((r): r is RunRecord => r !== undefined);
    const within = (f: (own: RunRecord, round: Map<string, RunRecord>) => number) =>
      median(rounds.map((rd) => {
        const m = byRound.get(rd)!;
        const own = m.get(name);
        return own ? f(own, m) : NaN;
      }));
    return {
      candidate: name,
      rounds: mine.length,
      failedRounds: records.filter((r) => r.candidate === name && !r.ok).length,
      rps: median(mine.map((r) => r.load!.rps)),
      p50Ms: median(mine.map((r) => r.load!.p50Ms)),
      p99Ms: median(mine.map((r) => r.load!.p99Ms)),
      errors: mine.reduce((a, r) => a + r.load!.errors, 0),
      non2xx: mine.reduce((a, r) => a + r.load!.non2xx, 0),
      cpuMicrosPerReq: median(mine.map((r) => r.proxyCpuMicrosPerReq)),
      upstreamCpuMicrosPerReq: median(mine.map((r) => r.upstreamCpuMicrosPerReq)),
      rpsVsDirect: within((own, m) => ratio(own.load!.rps, m.get(DIRECT)?.load?.rps)),
      rpsVsBare: within((own, m) => ratio(own.load!.rps, m.get(BARE)?.load?.rps)),
      cpuVsBare: within((own, m) => ratio(own.proxyCpuMicrosPerReq, m.get(BARE)?.proxyCpuMicrosPerReq)),
      p99OverDirectMs: within((own, m) => diff(own.load!.p99Ms, m.get(DIRECT)?.load?.p99Ms)),
      rpsSpread: spread(mine.map((r) => r.load!.rps)),
      perRound: {
        rps: mine.map((r) => Math.round(r.load!.rps)),
        cpuMicrosPerReq: mine.map((r) => (r.proxyCpuMicrosPerReq === null ? null : +r.proxyCpuMicrosPerReq.toFixed(1))),
        p99Ms: mine.map((r) => +r.load!.p99Ms.toFixed(2)),
      },
    };
  });
}

const dash = '—';
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : dash);
const fix = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : dash);
const signed = (x: number, d: number) => (Number.isFinite(x) ? (x >= 0 ? '+' : '') + x.toFixed(d) : dash);

export function markdownTable(rows: CandidateSummary[], unit = 'req'): string {
  const out = [
    `| candidate | ${unit}/s | p50 ms | p99 ms | errors / non-2xx | CPU µs/${unit} | ${unit}/s ÷ direct | ${unit}/s ÷ bare | CPU ÷ bare | p99 − direct ms |`,
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
  ];
  for (const r of rows) {
    const name = r.failedRounds > 0 ? `${r.candidate} (${r.failedRounds} failed)` : r.candidate;
    out.push(
      `| ${name} | ${int(r.rps)} | ${fix(r.p50Ms, 2)} | ${fix(r.p99Ms, 2)} | ${r.rounds ? `${r.errors} / ${r.non2xx}` : dash} | ${fix(r.cpuMicrosPerReq, 1)} | ` +
        `${fix(r.rpsVsDirect, 2)} | ${fix(r.rpsVsBare, 2)} | ${fix(r.cpuVsBare, 2)} | ${r.candidate === DIRECT ? dash : signed(r.p99OverDirectMs, 2)} |`,
    );
  }
  return out.join('\n');
}

/** p99 of a's fixed-rate run minus b's, same round (median over rounds); NaN without both. */
export function fixedP99Over(runs: RunRecord[], a: string, b: string): number {
  const vals: number[] = [];
  for (const ra of runs) {
    if (ra.candidate !== a || !ra.fixed) continue;
    const rb = runs.find((x) => x.candidate === b && x.round === ra.round && x.fixed);
    if (rb) vals.push(ra.fixed.p99Ms - rb.fixed!.p99Ms);
  }
  return median(vals);
}

/** The fixed-rate runs (Scenario.fixedRate): latency at a load every candidate carries. */
export function fixedRateTable(runs: RunRecord[], candidates: string[], unit = 'req'): string {
  const withFixed = runs.filter((r) => r.fixed);
  if (withFixed.length === 0) return '';
  const rate = withFixed[0]!.fixed!.offeredRps;
  const out = [
    `Latency at a fixed offered rate: ${rate.toLocaleString('en-US')} ${unit}/s over the same connections, right after each measured run (medians over rounds):`,
    '',
    `| candidate | ${unit}/s answered | p50 ms | p90 ms | p99 ms | max ms | errors / non-2xx | p99 − direct ms |`,
    '| --- | --: | --: | --: | --: | --: | --: | --: |',
  ];
  for (const c of candidates) {
    const mine = withFixed.filter((r) => r.candidate === c).map((r) => r.fixed!);
    if (mine.length === 0) continue;
    const m = (f: (x: LoadResult) => number) => median(mine.map(f));
    out.push(
      `| ${c} | ${int(m((x) => x.rps))} | ${fix(m((x) => x.p50Ms), 2)} | ${fix(m((x) => x.p90Ms), 2)} | ${fix(m((x) => x.p99Ms), 2)} | ${fix(m((x) => x.maxMs), 2)} | ` +
        `${mine.reduce((a, x) => a + x.errors, 0)} / ${mine.reduce((a, x) => a + x.non2xx, 0)} | ${c === DIRECT ? dash : signed(fixedP99Over(runs, c, DIRECT), 2)} |`,
    );
  }
  return out.join('\n');
}

export function perRoundTable(rows: CandidateSummary[], unit = 'req'): string {
  const out = [`| candidate | ${unit}/s by round | CPU µs/${unit} by round | p99 ms by round |`, '| --- | --- | --- | --- |'];
  for (const r of rows) {
    out.push(
      `| ${r.candidate} | ${r.perRound.rps.map((x) => x.toLocaleString('en-US')).join(' · ')} | ` +
        `${r.perRound.cpuMicrosPerReq.map((x) => (x === null ? dash : x.toFixed(1))).join(' · ')} | ${r.perRound.p99Ms.map((x) => x.toFixed(2)).join(' · ')} |`,
    );
  }
  return out.join('\n');
}

export interface RunSettings {
  connections: number;
  rounds: number;
  durationS: number;
  warmupS: number;
  pin: boolean;
  quick: boolean;
  upstreamChoice: string;
  candidatesFilter: string[] | null;
}

export function runHeader(startedAt: string, machine: MachineInfo, s: RunSettings): string {
  return [
    `# Switchyard bench, ${startedAt}`,
    '',
    `Machine: ${machine.cpuModel}, ${machine.logicalCpus} logical CPUs (${machine.availableParallelism} available), ` +
      `Node ${machine.node}, ${machine.kernel}; load average ${machine.loadavg1} at start; CLK_TCK ${machine.clkTck}`,
    '',
    `Settings: autocannon -c ${s.connections}, ${s.rounds} interleaved rounds × ${s.durationS} s measured after ${s.warmupS} s warm-up` +
      `${s.quick ? ' (--quick)' : ''}; each candidate started fresh per round; ` +
      (s.pin ? 'pinned: proxy on CPU 1, load generator + upstream on CPU 0' : 'not pinned'),
  ].join('\n');
}

export interface ScenarioReport {
  scenario: string;
  title: string;
  upstream: string;
  candidates: string[];
  summary: CandidateSummary[];
  stealPctMedian: number;
  loadgenCpuPctMedian: number;
  notes: string[];
  unit?: string;
  /** Scenario-specific figures under the table. */
  extra?: string;
  /** Acceptance targets. */
  checks?: Check[];
  /** Set when the scenario did not run (reason). */
  skipped?: string;
}

export function scenarioMarkdown(r: ScenarioReport): string {
  if (r.skipped !== undefined) return [`## ${r.scenario}: ${r.title}`, '', `**Skipped:** ${r.skipped}`].join('\n');
  return [
    `## ${r.scenario}: ${r.title}`,
    '',
    `Upstream: ${r.upstream}. Steal time median ${fix(r.stealPctMedian, 1)} %, load generator CPU median ${fix(r.loadgenCpuPctMedian, 0)} % of a core.`,
    '',
    markdownTable(r.summary, r.unit),
    '',
    'Medians over rounds; the ratio and p99 − direct columns are medians of within-round comparisons with `direct` and `bare-undici` of the same round.',
    ...(r.extra ? ['', r.extra] : []),
    ...(r.checks?.length ? ['', 'Acceptance:', '', checksMarkdown(r.checks)] : []),
    '',
    '<details><summary>per round</summary>',
    '',
    perRoundTable(r.summary, r.unit),
    '',
    '</details>',
    ...(r.notes.length ? ['', ...r.notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
}

/** `2026-11-27T06:55:00Z` -> `2026-11-27T06-55-00Z` (no colons in file names). */
export function fileStamp(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/** Writes a file atomically (tmp + rename); bench/results/*.tmp is git-ignored. */
export function writeAtomic(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
