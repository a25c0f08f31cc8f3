// `switchyard flip`, `switchyard deploy` and `switchyard deployments ...`
// (CONTRACT §4): clients of the admin API. `deploy --watch` draws a live view
// and exits 0 on succeeded, 1 on rollback or failure.

import { Command, InvalidArgumentError } from 'commander';
import { addCommon, callApi, CliError, printJson, run, table, type CommonOptions } from './admin-commands.js';

const TERMINAL = new Set(['succeeded', 'rolled-back', 'failed']);

/** `30s`, `500ms`, `2m`, or plain milliseconds. */
export function parseDuration(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
  if (!m) throw new InvalidArgumentError(`not a duration: ${v} (e.g. 500ms, 30s, 2m)`);
  const n = Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  if (!Number.isSafeInteger(Math.round(n))) throw new InvalidArgumentError(`duration too large: ${v}`);
  return Math.round(n);
}

function parseSteps(v: string): number[] {
  const steps = v.split(',').map((s) => Number(s.trim()));
  if (steps.some((s) => !Number.isInteger(s))) throw new InvalidArgumentError(`steps must be whole percentages such as 10,50,100: ${v}`);
  return steps;
}

function parseRate(v: string): number {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`must be a number from 0 to 1: ${v}`);
  return n;
}

interface Deployment {
  id: string;
  upstream: string;
  pool: string;
  phase: string;
  step: number;
  steps: { weight: number; holdMs: number }[];
  coordinator: string | null;
  phaseStartedAt: number;
  drainTimeoutMs: number;
  history: { at: string; phase: string; node: string; reason: string; step?: number }[];
  nodes?: { node: string; appliedRevision: number; inflight: Record<string, number> }[];
}

function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${Math.round(f * 100)}%`;
}

/** The live view of one deployment, as lines. */
export function renderDeployment(d: Deployment, now = Date.now()): string {
  const lines = [`deployment ${d.id}: ${d.upstream} -> ${d.pool}`, `phase ${d.phase}   coordinator ${d.coordinator ?? '-'}`];
  const elapsed = now - d.phaseStartedAt;
  if (d.phase === 'flooding' && d.step >= 0) {
    const s = d.steps[d.step]!;
    lines.push(`step ${d.step + 1}/${d.steps.length} weight ${s.weight}   hold ${s.holdMs ? bar(elapsed / s.holdMs) : 'none'}`);
  } else if (d.phase === 'draining' || d.phase === 'rolling-back') {
    lines.push(`drain ${bar(elapsed / Math.max(1, d.drainTimeoutMs))}`);
  }
  for (const n of d.nodes ?? []) {
    lines.push(`  node ${n.node}  rev ${n.appliedRevision}  in-flight ${Object.entries(n.inflight).map(([p, c]) => `${p}=${c}`).join(' ') || '-'}`);
  }
  const last = d.history[d.history.length - 1];
  if (last) lines.push(`last: ${last.phase}${last.step !== undefined ? ` step ${last.step + 1}` : ''}: ${last.reason}`);
  return lines.join('\n');
}

async function watch(opts: CommonOptions, id: string): Promise<void> {
  const tty = process.stdout.isTTY;
  let shown = 0;
  for (;;) {
    const d = (await callApi(opts, 'GET', `/deployments/${encodeURIComponent(id)}`)).body as Deployment;
    const view = renderDeployment(d);
    if (tty) {
      if (shown) process.stdout.write(`\x1b[${shown}A\x1b[0J`);
      process.stdout.write(view + '\n');
      shown = view.split('\n').length;
    } else if (d.history.length > shown) {
      // Not a terminal: one line per history entry.
      for (const h of d.history.slice(shown)) process.stdout.write(`${h.at} ${h.phase}${h.step !== undefined ? ` step ${h.step + 1}` : ''} ${h.node}: ${h.reason}\n`);
      shown = d.history.length;
    }
    if (TERMINAL.has(d.phase)) {
      if (d.phase !== 'succeeded') {
        // The cause is the reason the rollback started, not its last line.
        const cause = d.history.find((h) => h.phase === 'rolling-back') ?? d.history[d.history.length - 1];
        throw new CliError(`deployment ${d.id} ${d.phase}: ${cause?.reason ?? ''}`);
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function registerDeployCommands(program: Command): void {
  addCommon(
    program
      .command('flip')
      .description('blue/green flip: send all traffic of UPSTREAM to POOL, drain the others')
      .argument('<upstream>')
      .argument('<pool>')
      .option('--ramp <duration>', 'flood ramp (e.g. 10s)', parseDuration)
      .option('--drain-timeout <duration>', 'cut what still runs on the old pools after this', parseDuration)
      .option('--force', 'flip even when POOL has no healthy target'),
  ).action(run(async (upstream: string, pool: string, o: CommonOptions & { ramp?: number; drainTimeout?: number; force?: boolean }) => {
    const body = { to: pool, ...(o.ramp !== undefined ? { rampMs: o.ramp } : {}), ...(o.drainTimeout !== undefined ? { drainTimeoutMs: o.drainTimeout } : {}), ...(o.force ? { force: true } : {}) };
    const r = await callApi(o, 'POST', `/upstreams/${encodeURIComponent(upstream)}/flip`, body);
    if (o.json) return printJson(r.body);
    process.stdout.write(`flipped ${upstream} to ${pool} (revision ${(r.body as { revision: number }).revision})\n`);
  }));

  addCommon(
    program
      .command('deploy')
      .description('staged deployment of POOL: flood step by step behind health and error-rate gates')
      .argument('<upstream>')
      .argument('<pool>')
      .option('--steps <list>', 'traffic percentages, increasing, ending at 100', parseSteps, [10, 50, 100])
      .option('--hold <duration>', 'hold after each step but the last', parseDuration, 30000)
      .option('--max-error-rate <rate>', 'roll back above this 5xx-and-error rate', parseRate, 0.05)
      .option('--min-requests <n>', 'requests needed before the error rate is judged', (v) => Number(v), 20)
      .option('--ready-timeout <duration>', 'roll back if the pool is not healthy on every node by then', parseDuration, 60000)
      .option('--drain-timeout <duration>', 'cut what still runs on the old pools after this', parseDuration, 30000)
      .option('--watch', 'show a live view until it ends; exit 1 on rollback or failure'),
  ).action(run(async (upstream: string, pool: string, o: CommonOptions & { steps: number[]; hold: number; maxErrorRate: number; minRequests: number; readyTimeout: number; drainTimeout: number; watch?: boolean }) => {
    const steps = o.steps.map((weight, i) => ({ weight, holdMs: i === o.steps.length - 1 ? 0 : o.hold }));
    const body = { upstream, pool, steps, maxErrorRate: o.maxErrorRate, minRequests: o.minRequests, readyTimeoutMs: o.readyTimeout, drainTimeoutMs: o.drainTimeout };
    const r = await callApi(o, 'POST', '/deployments', body);
    const id = (r.body as { id: string }).id;
    if (o.json && !o.watch) return printJson(r.body);
    process.stdout.write(`deployment ${id} created\n`);
    if (o.watch) await watch(o, id);
  }));

  const deployments = program.command('deployments').description('list, show and abort staged deployments');
  addCommon(deployments.command('ls').alias('list').description('list deployments')).action(run(async (o: CommonOptions) => {
    const r = (await callApi(o, 'GET', '/deployments')).body as { deployments: Deployment[] };
    if (o.json) return printJson(r);
    process.stdout.write(table(['ID', 'UPSTREAM', 'POOL', 'PHASE', 'STEP', 'COORDINATOR'], r.deployments.map((d) => [d.id, d.upstream, d.pool, d.phase, d.step >= 0 ? `${d.step + 1}/${d.steps.length}` : '-', d.coordinator ?? '-'])));
  }));
  addCommon(deployments.command('get').description('show one deployment').argument('<id>').option('--watch', 'follow it live')).action(run(async (id: string, o: CommonOptions & { watch?: boolean }) => {
    if (o.watch) return watch(o, id);
    const d = (await callApi(o, 'GET', `/deployments/${encodeURIComponent(id)}`)).body as Deployment;
    if (o.json) return printJson(d);
    process.stdout.write(renderDeployment(d) + '\nhistory:\n' + d.history.map((h) => `  ${h.at} ${h.phase}${h.step !== undefined ? ` step ${h.step + 1}` : ''} ${h.node || '-'}: ${h.reason}`).join('\n') + '\n');
  }));
  addCommon(deployments.command('abort').description('abort: restore the weights from before, drain the new pool').argument('<id>')).action(run(async (id: string, o: CommonOptions) => {
    const r = await callApi(o, 'POST', `/deployments/${encodeURIComponent(id)}/abort`);
    if (o.json) return printJson(r.body);
    process.stdout.write(`abort requested for ${id}\n`);
  }));
}
