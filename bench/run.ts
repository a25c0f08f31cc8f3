// `npm run bench [-- options]`: end-to-end proxy benchmark. For every chosen
// scenario: start its upstream, then for each round start every candidate
// fresh in its own process (interleaved: A B C.., A B C.., ...), check one
// response, warm up, measure with autocannon, sample the proxy's CPU from
// /proc/<pid>/stat around the measured window, stop it by pid. Prints medians
// and within-round ratios against `direct` and `bare-undici` as markdown and
// writes bench/results/<scenario>-<timestamp>.json and bench/results/latest.md.
// See bench/README.md.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { checksMarkdown, type Check } from './lib/checks.js';
import { formatTopSelfTime } from './lib/cpuprofile.js';
import { closePollSockets } from './lib/gateway.js';
import { closeAdminSockets, httpRequest } from './lib/http.js';
import { runLoad, type LoadOptions } from './lib/load.js';
import { runPaced } from './lib/paced.js';
import { cpuTotals, machineInfo, stealPct } from './lib/machine.js';
import { RESULTS_DIR } from './lib/paths.js';
import { cpuTicks, descendants, ticksToMicros, treeTicks } from './lib/proc-cpu.js';
import {
  fileStamp,
  runHeader,
  scenarioMarkdown,
  summarize,
  writeAtomic,
  type RunRecord,
  type RunSettings,
  type ScenarioReport,
} from './lib/report.js';
import { runCleanups } from './lib/cleanup.js';
import { hasTaskset, pinSelf, stopAll } from './lib/spawn.js';
import { median } from './lib/stats.js';
import {
  BARE, DIRECT, ScenarioSkipped, isCustom, type BenchEnv, type Candidate, type CustomScenario, type Scenario, type ScenarioContext,
} from './lib/types.js';
import { startUpstream, type UpstreamChoice } from './lib/upstream.js';
import { SCENARIOS, findScenario } from './scenarios/index.js';

const USAGE = `usage: npm run bench -- [options]

  --scenario NAME     scenario to run; repeat or comma-separate; 'all' (default) runs every one
                      not marked (optional)
  --candidates LIST   only these candidates (comma list), e.g. direct,switchyard,bare-undici
  --rounds N          interleaved rounds (default 3; --quick 2)
  --duration S        measured seconds per run (default 5; --quick 2)
  --warmup S          warm-up seconds before each measured run (default 1; --quick 0.5)
  --connections N     autocannon connections (default 50)
  --quick             2 rounds of 2 s, 0.5 s warm-up, shorter flip and write-served runs
  --pin               taskset: proxy on CPU 1, load generator and upstream on CPU 0
  --upstream KIND     auto (nginx when on PATH, else node; default), node or nginx
  --cpu-prof DIR      run proxies with node --cpu-prof into DIR/<scenario>/<candidate>/ and
                      print their top self-time functions at the end
  --no-write          print only; do not write bench/results/
  --list              list scenarios and exit

scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(14)} ${s.optional ? '(optional) ' : ''}${s.summary}`).join('\n')}
`;

interface Cli extends RunSettings {
  scenarios: string[];
  cpuProfDir: string | null;
  write: boolean;
}

function parseCli(argv: string[]): Cli | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', multiple: true },
      candidates: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      quick: { type: 'boolean', default: false },
      pin: { type: 'boolean', default: false },
      upstream: { type: 'string', default: 'auto' },
      'cpu-prof': { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return null;
  }
  if (values.list) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(14)} ${s.optional ? '(optional) ' : ''}${s.summary}\n`);
    return null;
  }
  const num = (v: string | undefined, def: number, what: string, min: number) => {
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${what} must be a number >= ${min}, got ${v}`);
    return n;
  };
  const quick = values.quick;
  let scenarios = (values.scenario ?? ['all']).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  if (scenarios.includes('all')) scenarios = [...SCENARIOS.filter((s) => !s.optional).map((s) => s.name), ...scenarios.filter((s) => s !== 'all')];
  for (const s of scenarios) if (!findScenario(s)) throw new Error(`unknown scenario '${s}'; known: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  const upstream = values.upstream;
  if (upstream !== 'auto' && upstream !== 'node' && upstream !== 'nginx') throw new Error(`--upstream must be auto, node or nginx`);
  return {
    scenarios: [...new Set(scenarios)],
    candidatesFilter: values.candidates ? values.candidates.split(',').map((s) => s.trim()).filter(Boolean) : null,
    rounds: Math.floor(num(values.rounds, quick ? 2 : 3, 'rounds', 1)),
    durationS: num(values.duration, quick ? 2 : 5, 'duration', 0.5),
    warmupS: num(values.warmup, quick ? 0.5 : 1, 'warmup', 0),
    connections: Math.floor(num(values.connections, 50, 'connections', 1)),
    quick,
    pin: values.pin,
    upstreamChoice: upstream,
    cpuProfDir: values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null,
    write: !values['no-write'],
  };
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** One GET (or the scenario's request) must answer 200 with the upstream's body size. */
async function checkResponse(url: string, scenario: Scenario, reqPath: string): Promise<void> {
  if (scenario.check) return scenario.check(url, reqPath);
  const r = scenario.request;
  const res = await httpRequest(url + reqPath, { method: r.method, headers: r.headers, body: r.body, timeoutMs: 10_000 });
  if (res.status !== 200) throw new Error(`check ${r.method} ${url}${reqPath}: status ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
  if (res.body.length !== scenario.upstream.bodyBytes)
    throw new Error(`check ${r.method} ${url}${reqPath}: body of ${res.body.length} bytes, expected ${scenario.upstream.bodyBytes}`);
}

async function measure(cand: Candidate, ctx: ScenarioContext, round: number, cli: Cli): Promise<RunRecord> {
  const rec: RunRecord = {
    round,
    candidate: cand.name,
    ok: false,
    proxyCpuMicrosPerReq: null,
    proxyCpuPct: null,
    upstreamCpuMicrosPerReq: null,
    loadgenCpuPct: null,
    stealPct: null,
  };
  let running: Awaited<ReturnType<Candidate['start']>> | null = null;
  try {
    const t0 = performance.now();
    running = await cand.start({ ...ctx, round });
    rec.startMs = Math.round(performance.now() - t0);
    const reqPath = running.path ?? ctx.scenario.request.path;
    await checkResponse(running.url, ctx.scenario, reqPath);
    const load: LoadOptions = { url: running.url, request: { ...ctx.scenario.request, path: reqPath }, connections: cli.connections, durationS: cli.durationS };
    const loadFn = ctx.scenario.load ?? runLoad;
    if (cli.warmupS > 0) await loadFn({ ...load, durationS: cli.warmupS });

    const pid = running.pid;
    const tree0 = pid === null ? null : treeTicks(pid);
    const p0 = pid === null ? 0 : cpuTicks(pid);
    const u0 = cpuTicks(ctx.upstream.pid);
    const s0 = cpuTotals();
    const w0 = process.hrtime.bigint();
    const result = await loadFn(load);
    const w1 = process.hrtime.bigint();
    const p1 = pid === null ? 0 : cpuTicks(pid);
    const tree1 = pid === null ? null : treeTicks(pid);
    if (pid !== null) rec.procCount = 1 + descendants(pid).length;
    const u1 = cpuTicks(ctx.upstream.pid);
    const s1 = cpuTotals();

    const windowMicros = Number(w1 - w0) / 1000;
    rec.pid = pid;
    rec.windowUs = [Number(w0 / 1000n), Number(w1 / 1000n)];
    rec.load = result;
    rec.stealPct = +stealPct(s0, s1).toFixed(2);
    rec.loadgenCpuPct = +((100 * result.loadgenCpuMicros) / windowMicros).toFixed(1);
    if (result.responses > 0) {
      if (tree0 && tree1 && tree1.size > 1)
        rec.cpuByProcess = [...tree1].map(([p, t]) => ({ pid: p, main: p === pid, microsPerReq: ticksToMicros(t - (tree0.get(p) ?? 0)) / result.responses }));
      if (pid !== null) {
        rec.proxyCpuMicrosPerReq = ticksToMicros(p1 - p0) / result.responses;
        rec.proxyCpuPct = +((100 * ticksToMicros(p1 - p0)) / windowMicros).toFixed(1);
      }
      rec.upstreamCpuMicrosPerReq = ticksToMicros(u1 - u0) / result.responses;
      rec.ok = true;
      const rate = ctx.scenario.fixedRate;
      if (rate) rec.fixed = { ...(await runPaced({ ...load, overallRate: rate })), offeredRps: rate };
    } else {
      rec.error = `no responses (errors ${result.errors}, timeouts ${result.timeouts})`;
    }
  } catch (err) {
    if (err instanceof ScenarioSkipped) throw err;
    rec.error = (err as Error).message;
  } finally {
    if (running) await running.stop().catch((err: Error) => log(`  stopping ${cand.name}: ${err.message}`));
  }
  return rec;
}

function progressLine(scenario: string, rounds: number, r: RunRecord): string {
  const head = `[${scenario} ${r.round}/${rounds}] ${r.candidate.padEnd(20)}`;
  if (!r.ok || !r.load) return `${head} FAILED: ${(r.error ?? '').split('\n')[0]}`;
  const l = r.load;
  const procs = r.procCount && r.procCount > 1 ? `, ${r.procCount} processes` : '';
  const cpu = r.proxyCpuMicrosPerReq === null ? 'cpu —' : `cpu ${r.proxyCpuMicrosPerReq.toFixed(1)} µs/${r.unit ?? 'req'} (${r.proxyCpuPct} % core${procs})`;
  const unit = r.unit ?? 'req';
  const f = r.fixed;
  const fixed = f ? `  | at ${f.offeredRps} ${unit}/s: p50 ${f.p50Ms.toFixed(2)} ms p99 ${f.p99Ms.toFixed(2)} ms err ${f.errors}/${f.non2xx}` : '';
  return (
    `${head} ${Math.round(l.rps).toLocaleString('en-US').padStart(7)} ${unit}/s  p50 ${l.p50Ms.toFixed(2)} ms  p99 ${l.p99Ms.toFixed(2)} ms  ` +
    `err ${l.errors}/${l.non2xx}  ${cpu}  loadgen ${r.loadgenCpuPct} %  steal ${r.stealPct} %  start ${r.startMs} ms${fixed}`
  );
}

async function runScenario(scenario: Scenario, env: BenchEnv, cli: Cli): Promise<{ report: ScenarioReport; runs: RunRecord[] }> {
  const notes: string[] = [];
  let candidates = scenario.candidates;
  if (cli.candidatesFilter) {
    candidates = candidates.filter((c) => cli.candidatesFilter!.includes(c.name));
    for (const ref of [DIRECT, BARE])
      if (scenario.candidates.some((c) => c.name === ref) && !candidates.some((c) => c.name === ref))
        notes.push(`\`${ref}\` was not run (--candidates): its ratio column is blank.`);
  }
  if (env.cpuProfDir) notes.push('Proxies ran with `node --cpu-prof`: their CPU and req/s figures include profiler overhead.');
  if (candidates.length === 0) throw new Error(`${scenario.name}: no candidates left after --candidates`);
  const upstream = await startUpstream(scenario.upstream, { choice: cli.upstreamChoice as UpstreamChoice, cpu: env.upstreamCpu, scratch: env.tmpRoot, log });
  const ctx: ScenarioContext = { env, upstream, scenario };
  const runs: RunRecord[] = [];
  const base = {
    scenario: scenario.name,
    title: scenario.title,
    upstream: upstream.kind === 'nginx' ? 'nginx (`return 200` / static file)' : `node:http (bench/${scenario.upstream.script ?? 'upstream'}.ts)`,
    candidates: candidates.map((c) => c.name),
    unit: scenario.unit ?? 'req',
  };
  log(`${scenario.name}: upstream ${upstream.kind} ${upstream.url} (pid ${upstream.pid}); candidates ${candidates.map((c) => c.name).join(', ')}`);
  try {
    for (const c of candidates) await c.prepare?.(ctx);
    for (let round = 1; round <= cli.rounds; round++) {
      for (const c of candidates) {
        const rec = await measure(c, ctx, round, cli);
        rec.unit = scenario.unit ?? 'req';
        runs.push(rec);
        log(progressLine(scenario.name, cli.rounds, rec));
        await sleep(200);
      }
    }
  } catch (err) {
    if (!(err instanceof ScenarioSkipped)) throw err;
    log(`${scenario.name}: SKIPPED: ${err.message}`);
    return {
      runs,
      report: { ...base, summary: [], stealPctMedian: NaN, loadgenCpuPctMedian: NaN, notes, skipped: err.message, checks: [] },
    };
  } finally {
    for (const c of candidates) await c.cleanup?.().catch((err: Error) => log(`cleanup ${c.name}: ${err.message}`));
    await upstream.stop();
  }
  for (const r of runs) if (!r.ok) notes.push(`round ${r.round}, ${r.candidate} failed: ${(r.error ?? '').split('\n')[0]}`);
  const ok = runs.filter((r) => r.ok);
  const summary = summarize(runs, candidates.map((c) => c.name));
  return {
    runs,
    report: {
      ...base,
      summary,
      stealPctMedian: median(ok.map((r) => r.stealPct)),
      loadgenCpuPctMedian: median(ok.map((r) => r.loadgenCpuPct)),
      notes,
      ...(scenario.extraMarkdown ? { extra: scenario.extraMarkdown(summary, runs) } : {}),
      checks: scenario.checks ? scenario.checks(summary, runs) : [],
    },
  };
}

/** A custom scenario: it runs itself; a skip is a note, not a failure. */
async function runCustom(scenario: CustomScenario, env: BenchEnv, cli: Cli, startedAt: string) {
  try {
    return await scenario.run({ env, settings: cli, log, write: cli.write, startedAt });
  } catch (err) {
    if (!(err instanceof ScenarioSkipped)) throw err;
    log(`${scenario.name}: SKIPPED: ${err.message}`);
    return { markdown: `## ${scenario.name}: ${scenario.title}\n\n**Skipped:** ${err.message}`, data: { skipped: err.message }, checks: [] as Check[] };
  } finally {
    await runCleanups(log);
  }
}

/** Top self time of each proxy's last successful round, measured window only (--cpu-prof). */
function profilesMarkdown(dir: string, done: { scenario: string; runs: RunRecord[] }[]): string {
  let out = '## CPU profiles: top self time in the measured window of the last round (profiling inflates CPU figures)\n';
  for (const { scenario, runs } of done) {
    const last = new Map<string, RunRecord>();
    for (const r of runs) if (r.ok && r.pid && r.windowUs) last.set(r.candidate, r);
    for (const [cand, r] of last) {
      const d = path.join(dir, scenario, cand);
      let files: string[] = [];
      try {
        files = readdirSync(d).filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${r.pid}.`));
      } catch {
        /* none written */
      }
      out += `\n### ${scenario} / ${cand}, round ${r.round}\n\n`;
      out += files.length ? `${formatTopSelfTime(path.join(d, files[0]!), 15, r.windowUs)}\n` : `no profile for pid ${r.pid} in ${d}\n`;
    }
  }
  return out;
}

async function main(): Promise<number> {
  const cli = parseCli(process.argv.slice(2));
  if (cli === null) return 0;
  const machine = machineInfo();
  if (cli.pin) {
    if (!hasTaskset()) throw new Error('--pin needs taskset (util-linux), which is not on PATH');
    if (machine.availableParallelism < 2) throw new Error('--pin needs at least 2 CPUs');
    pinSelf(0);
  }
  const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-'));
  scratchDir = tmpRoot;
  const startedAt = new Date().toISOString();
  const header = runHeader(startedAt.replace(/\.\d+Z$/, 'Z'), machine, cli);
  process.stdout.write(`${header}\n`);
  const sections: string[] = [];
  const done: { scenario: string; runs: RunRecord[] }[] = [];
  const allChecks: Check[] = [];
  let failed = false;
  const latest = (extra = '') => {
    const acc = allChecks.length ? `\n\n## Acceptance targets of this run\n\n${checksMarkdown(allChecks, true)}` : '';
    return `${header}\n\n${sections.join('\n\n')}${acc}${extra}\n`;
  };
  try {
    for (const name of cli.scenarios) {
      const scenario = findScenario(name)!.create();
      const pin = cli.pin && (isCustom(scenario) || !scenario.unpinned);
      if (cli.pin) pinSelf(pin ? 0 : `0-${machine.availableParallelism - 1}`);
      const env: BenchEnv = {
        pin,
        proxyCpu: pin ? 1 : null,
        upstreamCpu: pin ? 0 : null,
        cpuProfDir: cli.cpuProfDir ? path.join(cli.cpuProfDir, name) : null,
        tmpRoot,
      };
      if (env.cpuProfDir) mkdirSync(env.cpuProfDir, { recursive: true });
      const t0 = performance.now();
      let md: string;
      let json: unknown;
      let checks: Check[];
      if (isCustom(scenario)) {
        const r = await runCustom(scenario, env, cli, startedAt);
        if (r.failed) failed = true;
        md = r.markdown;
        checks = r.checks;
        json = { startedAt, machine, settings: { ...cli, scenarios: undefined }, scenario: name, title: scenario.title, checks, data: r.data };
      } else {
        const { report, runs } = await runScenario(scenario, env, cli);
        done.push({ scenario: name, runs });
        if (report.skipped === undefined && report.summary.some((s) => s.rounds === 0)) failed = true;
        md = scenarioMarkdown(report);
        checks = report.checks ?? [];
        json = { startedAt, machine, settings: { ...cli, scenarios: undefined }, ...report, runs };
      }
      for (const c of checks) allChecks.push({ scenario: name, ...c });
      log(`${name}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      sections.push(md);
      process.stdout.write(`\n${md}\n`);
      if (cli.write) {
        const file = path.join(RESULTS_DIR, `${name}-${fileStamp(startedAt)}.json`);
        writeAtomic(file, JSON.stringify(json, null, 2) + '\n');
        writeAtomic(path.join(RESULTS_DIR, 'latest.md'), latest());
        log(`wrote ${path.relative(process.cwd(), file)} and bench/results/latest.md`);
      }
    }
    if (allChecks.length) process.stdout.write(`\n## Acceptance targets of this run\n\n${checksMarkdown(allChecks, true)}\n`);
    const ended = `\n\nFinished ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')} (1 / 5 / 15 min) at the end.`;
    process.stdout.write(`${ended.trim()}\n`);
    let profiles = '';
    if (cli.cpuProfDir) {
      profiles = `\n\n${profilesMarkdown(cli.cpuProfDir, done)}`;
      process.stdout.write(profiles);
    }
    if (cli.write) writeAtomic(path.join(RESULTS_DIR, 'latest.md'), latest(ended + profiles));
  } finally {
    await runCleanups(log);
    await stopAll();
    closeAdminSockets();
    closePollSockets();
    rmSync(tmpRoot, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

/** Removed on exit, also after a signal. */
let scratchDir: string | null = null;

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping child processes`);
    void runCleanups(log).then(stopAll).finally(() => {
      if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

main().then(
  (code) => process.exit(code),
  async (err: Error) => {
    log(`bench failed: ${err.stack ?? err.message}`);
    await runCleanups(log);
    await stopAll();
    process.exit(1);
  },
);
