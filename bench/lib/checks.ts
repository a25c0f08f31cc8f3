// Acceptance targets: one line per target with the measured value, PASS/FAIL
// (or n/a when it could not be measured), printed under each scenario and
// collected at the end of the run.
import { ratio } from './stats.js';
import type { CandidateSummary, RunRecord } from './report.js';

export interface Check {
  /** Scenario the target belongs to (filled in by run.ts when empty). */
  scenario?: string;
  /** What is measured, e.g. `switchyard-10k-hc CPU ÷ bare-undici`. */
  what: string;
  /** The target as text, e.g. `<= 1.10`. */
  target: string;
  /** Measured value, formatted; `—` when not measured. */
  value: string;
  /** null = not measured (n/a). */
  pass: boolean | null;
  note?: string;
}

type Cmp = '<=' | '>=' | '<' | '>';

/** A check of a number against a limit; NaN gives n/a. */
export function check(what: string, value: number, cmp: Cmp, limit: number, fmt: (x: number) => string, note?: string): Check {
  const ok = !Number.isFinite(value)
    ? null
    : cmp === '<=' ? value <= limit : cmp === '>=' ? value >= limit : cmp === '<' ? value < limit : value > limit;
  return { what, target: `${cmp} ${fmt(limit)}`, value: Number.isFinite(value) ? fmt(value) : '—', pass: ok, ...(note ? { note } : {}) };
}

export const fx = (d: number) => (x: number) => x.toFixed(d);
export const ms = (d: number) => (x: number) => `${x.toFixed(d)} ms`;

/** Median over rounds of f(a's record, b's record) for rounds where both succeeded. */
export function withinRounds(runs: RunRecord[], a: string, b: string, f: (ra: RunRecord, rb: RunRecord) => number): number {
  const byRound = new Map<number, Map<string, RunRecord>>();
  for (const r of runs) {
    if (!r.ok || !r.load) continue;
    let m = byRound.get(r.round);
    if (!m) byRound.set(r.round, (m = new Map()));
    m.set(r.candidate, r);
  }
  const vals: number[] = [];
  for (const m of byRound.values()) {
    const ra = m.get(a);
    const rb = m.get(b);
    if (ra && rb) vals.push(f(ra, rb));
  }
  const v = vals.filter(Number.isFinite).sort((x, y) => x - y);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Median within-round CPU µs/req ratio a ÷ b. */
export function cpuRatio(runs: RunRecord[], a: string, b: string): number {
  return withinRounds(runs, a, b, (x, y) => ratio(x.proxyCpuMicrosPerReq, y.proxyCpuMicrosPerReq));
}

/** Median within-round req/s ratio a ÷ b. */
export function rpsRatio(runs: RunRecord[], a: string, b: string): number {
  return withinRounds(runs, a, b, (x, y) => ratio(x.load!.rps, y.load!.rps));
}

export function summaryOf(summary: CandidateSummary[], name: string): CandidateSummary | undefined {
  return summary.find((s) => s.candidate === name && s.rounds > 0);
}

const verdict = (c: Check) => (c.pass === null ? 'n/a' : c.pass ? '**PASS**' : '**FAIL**');

/** Markdown table of checks; `withScenario` adds the scenario column (run summary). */
export function checksMarkdown(checks: Check[], withScenario = false): string {
  if (checks.length === 0) return '';
  const head = withScenario ? '| scenario | target | goal | measured | result |' : '| target | goal | measured | result |';
  const sep = withScenario ? '| --- | --- | --: | --: | --- |' : '| --- | --: | --: | --- |';
  const rows = checks.map((c) => {
    const note = c.note ? ` (${c.note})` : '';
    const cells = [c.what + note, c.target, c.value, verdict(c)];
    if (withScenario) cells.unshift(c.scenario ?? '');
    return `| ${cells.join(' | ')} |`;
  });
  return [head, sep, ...rows].join('\n');
}
