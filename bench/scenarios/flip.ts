// (e) blue/green flip under load. Two upstream processes, `blue` and `green`
// (bench/upstream.ts answering after a fixed delay, so the load is bound by
// latency, not by the 2 CPUs: a dip then shows the flip, not CPU noise), one
// Switchyard (file store) with upstream `shop` = pools blue (100) / green (0)
// and route `/` -> shop. autocannon -c N for 9 s (--quick 5 s); at 1/3
// `POST /upstreams/shop/flip {to: green}`, at 2/3 back to blue. Every
// response is counted into 100 ms windows as it arrives.
//   dip = 1 - (worst window ÷ median window) over the windows from 1 s on
//   (the first second is the connection ramp of the load's start: new client
//   connections, and upstream connections to re-open because the warm-up's
//   cut requests closed theirs; shown separately) up to the last full one.
//   Targets: 0 failed requests, dip <= 10 %.
// Also: the worst window near each flip (from 100 ms before the POST to 1 s
// after) and away from the flips (the noise floor of this machine), and the
// time from the POST until a probe request is answered by the new pool. The
// POSTs and probes come from their own process (bench/flipper.ts), like an
// operator's: issued from the load generator they stalled its event loop,
// which counted as a dip.
// Writes an SVG chart to bench/results/flip-<time>.svg and flip-latest.svg.
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { check, checksMarkdown, type Check } from '../lib/checks.js';
import { nodeFlags } from '../candidates/node-flags.js';
import { startGateway } from '../lib/gateway.js';
import { jsonRequest, servedBy } from '../lib/http.js';
import { runLoad, runTimeline, type LoadRequest } from '../lib/load.js';
import { f0, f1, mdTable } from '../lib/md.js';
import { benchScript, RESULTS_DIR } from '../lib/paths.js';
import { cpuTicks, ticksToMicros } from '../lib/proc-cpu.js';
import { fileStamp, writeAtomic } from '../lib/report.js';
import { median } from '../lib/stats.js';
import { startProcess } from '../lib/spawn.js';
import { lineChartSvg } from '../lib/svg.js';
import type { CustomContext, CustomReport, ScenarioModule } from '../lib/types.js';
import { startNodeUpstream } from '../lib/upstream.js';

const WINDOW_MS = 100;
const DELAY_MS = 10;
/** Windows before this are the connection ramp of the load's start (new client connections; the warm-up's cut requests cost upstream connections), left out of the dip. */
const RAMP_S = 1;

export const flipUnderLoad: ScenarioModule = {
  name: 'flip',
  summary: 'blue/green flip and back under autocannon load: req/s per 100 ms, dip, failed requests, SVG chart',
  create: () => ({ kind: 'custom', name: 'flip', title: 'blue/green flip under load', run }),
};

interface Flip {
  to: string;
  /** Seconds since the load started. */
  sentS: number;
  ackS: number;
  status: number;
  /** First probe answered by the new pool, seconds since the load started; NaN if none within 5 s. */
  servedS: number;
}

/** The flipper's JSON lines (bench/flipper.ts) from its output. */
function parseFlips(output: string): Flip[] {
  const flips: Flip[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const f = JSON.parse(line) as Omit<Flip, 'servedS'> & { servedS: number | null };
    flips.push({ ...f, servedS: f.servedS ?? NaN });
  }
  return flips;
}


async function run(ctx: CustomContext): Promise<CustomReport> {
  const { env, settings, log } = ctx;
  const durationS = settings.quick ? 5 : 9;
  const blue = await startNodeUpstream({ name: 'blue', delayMs: DELAY_MS, cpu: env.upstreamCpu });
  const green = await startNodeUpstream({ name: 'green', delayMs: DELAY_MS, cpu: env.upstreamCpu });
  const dir = mkdtempSync(path.join(env.tmpRoot, 'flip-store-'));
  let gw;
  try {
    // --cpu-prof profiles the gateway too; BENCH_FLIP_NODE_ARGS adds node flags (e.g. `--log-deopt --logfile=/tmp/flip.log`).
    const nodeArgs = [...nodeFlags(env, 'switchyard-flip'), ...(process.env.BENCH_FLIP_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
    gw = await startGateway({ name: 'switchyard (flip)', store: `file:${dir}`, cpu: env.proxyCpu, nodeArgs });
    await jsonRequest(`${gw.adminUrl}/upstreams/shop`, 'PUT', {
      name: 'shop',
      pools: { blue: { targets: [blue.url] }, green: { targets: [green.url] } },
      weights: { blue: 100, green: 0 },
    });
    await jsonRequest(`${gw.adminUrl}/routes/shop`, 'PUT', { id: 'shop', match: { path: '/' }, upstream: 'shop' });
    if (!(await servedBy(gw.dataUrl + '/', 'blue', 10_000))) throw new Error('switchyard (flip): GET / never answered by blue');

    const request: LoadRequest = { method: 'GET', path: '/' };
    const load = { url: gw.dataUrl, request, connections: settings.connections, durationS };
    if (settings.warmupS > 0) {
      // Both upstream processes warm (JIT) before the measured run, not only
      // the one serving now: a cold green would show as a flip dip.
      await Promise.all([blue, green].map((u) => runLoad({ url: u.url, request, connections: 10, durationS: settings.warmupS })));
      await runLoad({ ...load, durationS: settings.warmupS });
    }

    const g = gw;
    const flipAt = (frac: number) => Math.round(frac * durationS * 1000);
    const flipper = await startProcess({
      name: 'flipper',
      command: process.execPath,
      args: [benchScript('flipper'), '--admin', g.adminUrl, '--data', g.dataUrl, '--upstream', 'shop', '--flips', `${flipAt(1 / 3)}:green,${flipAt(2 / 3)}:blue`],
      ready: [/flipper ready/],
      cpu: env.upstreamCpu,
    });
    const c0 = cpuTicks(g.proc.pid);
    log(`flip: ${durationS} s of load, -c ${settings.connections}, flips at ${(durationS / 3).toFixed(1)} s and ${((2 * durationS) / 3).toFixed(1)} s`);
    let flips: Flip[] = [];
    const tl = await runTimeline({
      ...load,
      windowMs: WINDOW_MS,
      during: async () => {
        process.kill(flipper.pid, 'SIGUSR1');
        const deadline = Date.now() + (durationS + 15) * 1000;
        while (!flipper.exited && Date.now() < deadline) await sleep(50);
        if (!flipper.exited) await flipper.stop(500);
        flips = parseFlips(flipper.output());
        if (flips.length !== 2) throw new Error(`flipper: expected 2 flips, got:\n${flipper.output()}`);
      },
    });
    const c1 = cpuTicks(g.proc.pid);
    for (const f of flips) {
      log(`flip: -> ${f.to} at ${f.sentS.toFixed(2)} s: ${f.status}, acknowledged after ${((f.ackS - f.sentS) * 1000).toFixed(0)} ms, served by ${f.to} after ${Number.isFinite(f.servedS) ? ((f.servedS - f.sentS) * 1000).toFixed(0) : '—'} ms`);
    }

    const full = Math.floor((durationS * 1000) / WINDOW_MS);
    const perS = 1000 / WINDOW_MS;
    const rates = tl.counts.slice(0, full).map((c) => c * perS);
    while (rates.length < full) rates.push(0);
    const all = rates.map((v, i) => ({ i, v, t: i * (WINDOW_MS / 1000) }));
    const considered = all.filter((w) => w.t >= RAMP_S - 1e-9);
    const ramp = all.filter((w) => w.t < RAMP_S - 1e-9);
    const med = median(considered.map((w) => w.v));
    const worstOf = (ws: typeof considered) => ws.reduce((a, b) => (b.v < a.v ? b : a), ws[0] ?? { i: -1, v: NaN, t: NaN });
    const near = (w: { t: number }) => flips.some((f) => w.t + WINDOW_MS / 1000 > f.sentS - 0.1 && w.t < f.sentS + 1.0);
    const worst = worstOf(considered);
    const worstNear = worstOf(considered.filter(near));
    const worstAway = worstOf(considered.filter((w) => !near(w)));
    const dip = 1 - worst.v / med;
    const failed = tl.errors + tl.non2xx;
    const cpuPerReq = tl.responses ? ticksToMicros(c1 - c0) / tl.responses : NaN;
    const rps = tl.responses / durationS;

    let svgNote = '';
    const svg = lineChartSvg({
      title: `Switchyard blue/green flip under load: req/s per ${WINDOW_MS} ms window`,
      subtitle: `autocannon -c ${settings.connections}, ${durationS} s, upstreams answer after ${DELAY_MS} ms; dip ${(dip * 100).toFixed(1)} %, failed ${failed}; ${ctx.startedAt}`,
      values: rates,
      windowS: WINDOW_MS / 1000,
      markers: flips.map((f) => ({ atS: f.sentS, label: `flip -> ${f.to}` })),
      median: med,
      yLabel: 'responses per second',
    });
    if (ctx.write) {
      const file = path.join(RESULTS_DIR, `flip-${fileStamp(ctx.startedAt)}.svg`);
      writeAtomic(file, svg);
      writeAtomic(path.join(RESULTS_DIR, 'flip-latest.svg'), svg);
      svgNote = `Chart: \`bench/results/${path.basename(file)}\` (also \`bench/results/flip-latest.svg\`).`;
    }

    const checks: Check[] = [
      check('failed requests (errors + timeouts + non-2xx)', failed, '<=', 0, (x) => f0(x)),
      check(`dip: 1 - worst ${WINDOW_MS} ms window ÷ median window (from ${RAMP_S} s on)`, dip * 100, '<=', 10, (x) => `${x.toFixed(1)} %`),
      ...flips.map((f) => ({ what: `POST /upstreams/shop/flip {to: ${f.to}}`, target: '200', value: String(f.status), pass: f.status === 200 })),
    ];
    const pctOf = (v: number) => (Number.isFinite(v) ? `${f0(v)} (${((1 - v / med) * 100).toFixed(1)} % below median)` : '—');
    const markdown = [
      '## flip: blue/green flip under load',
      '',
      `Switchyard (file store), upstream \`shop\` with pools blue and green (each a bench/upstream.ts answering after ${DELAY_MS} ms), route \`/\`; ` +
        `autocannon -c ${settings.connections} for ${durationS} s; flip to green at 1/3, back to blue at 2/3. ${svgNote}`,
      '',
      mdTable(
        ['figure', 'value'],
        [
          ['responses', f0(tl.responses)],
          ['req/s (whole run)', f0(rps)],
          [`median ${WINDOW_MS} ms window, as req/s`, f0(med)],
          [`worst window from ${RAMP_S} s on (at ${f1(worst.t)} s)`, pctOf(worst.v)],
          ['worst window near a flip (-0.1 s … +1 s)', pctOf(worstNear.v)],
          ['worst window away from the flips (noise floor)', pctOf(worstAway.v)],
          [`first ${RAMP_S} s (connection ramp, left out): mean`, pctOf(ramp.reduce((a, w) => a + w.v, 0) / Math.max(1, ramp.length))],
          ['errors / timeouts / non-2xx', `${tl.errors} / ${tl.timeouts} / ${tl.non2xx}`],
          ['gateway CPU µs/req', f1(cpuPerReq)],
          ...flips.map((f) => [
            `flip -> ${f.to} at ${f.sentS.toFixed(2)} s`,
            `HTTP ${f.status}, acknowledged in ${f0((f.ackS - f.sentS) * 1000)} ms, first probe answered by ${f.to} ${Number.isFinite(f.servedS) ? `${f0((f.servedS - f.sentS) * 1000)} ms` : '—'} after the POST`,
          ]),
        ],
        'lr',
      ),
      '',
      'Acceptance:',
      '',
      checksMarkdown(checks),
    ].join('\n');
    return {
      markdown,
      data: { durationS, windowMs: WINDOW_MS, delayMs: DELAY_MS, connections: settings.connections, counts: tl.counts, non2xxCounts: tl.non2xxCounts, flips, medianRps: med, worst, worstNear, worstAway, dip, errors: tl.errors, timeouts: tl.timeouts, non2xx: tl.non2xx, cpuPerReq },
      checks,
    };
  } finally {
    await gw?.proc.stop(5000);
    await blue.stop();
    await green.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
