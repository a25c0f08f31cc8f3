// (a) small GET: a 13-byte 200 response over keep-alive, every candidate, plus
// `switchyard-10k-hc`: the acceptance configuration, 10 000 routes loaded,
// metrics on (always) and an active health check on the benchmarked upstream
// every second. Every candidate gets the same request,
// `GET /svc4999/orders/42?x=1` (a route among the 10 000; the upstream
// answers every path alike), so the ratios compare the same work.
import { bareUndici } from '../candidates/bare-undici.js';
import { direct } from '../candidates/direct.js';
import { fastGateway } from '../candidates/fast-gateway.js';
import { fastifyHttpProxy } from '../candidates/fastify-http-proxy.js';
import { switchyard } from '../candidates/switchyard.js';
import { check, cpuRatio, fx, ms, rpsRatio, withinRounds } from '../lib/checks.js';
import { fixedP99Over, fixedRateTable } from '../lib/report.js';
import { diff } from '../lib/stats.js';
import { BARE, DIRECT, type ScenarioModule } from '../lib/types.js';
import { BENCH_PATH, routes10k } from './routes-10k.js';

export const SW_10K_HC = 'switchyard-10k-hc';
/**
 * Offered rate of the latency runs: a quarter of what one core of Switchyard
 * answers here, well within every candidate's reach, so p99 tells what the
 * proxy adds per request rather than how long the queue for the 2 CPUs is.
 */
const LATENCY_RATE = 5000;

const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(2)}` : '—');

export const smallGet: ScenarioModule = {
  name: 'small-get',
  summary: 'GET /svc4999/orders/42?x=1, 13-byte 200 response; direct, switchyard, switchyard-10k-hc, bare-undici, fastify-http-proxy, fast-gateway',
  create: () => ({
    name: 'small-get',
    title: `small GET: \`GET ${BENCH_PATH}\`, 200 with a 13-byte body, keep-alive`,
    upstream: { bodyBytes: 13, nginxOk: true },
    request: { method: 'GET', path: BENCH_PATH },
    fixedRate: LATENCY_RATE,
    candidates: [
      direct(),
      switchyard(),
      switchyard({ name: SW_10K_HC, routes: () => routes10k(), seedKey: 'routes10k', healthCheck: { path: '/', intervalMs: 1000 } }),
      // BENCH_BASE_CLI=/path/to/dist/src/cli.js: the acceptance configuration of another build too, interleaved (A/B).
      ...(process.env.BENCH_BASE_CLI
        ? [switchyard({ name: `${SW_10K_HC}-base`, routes: () => routes10k(), seedKey: 'routes10k', healthCheck: { path: '/', intervalMs: 1000 }, cli: process.env.BENCH_BASE_CLI })]
        : []),
      bareUndici(),
      fastifyHttpProxy(),
      fastGateway(),
    ],
    extraMarkdown: (summary, runs) => {
      const others = summary.filter((x) => x.rounds > 0 && x.candidate !== DIRECT && x.candidate !== BARE).map((x) => x.candidate);
      const p99 = others.map((c) => `${c} ${signed(withinRounds(runs, c, BARE, (a, b) => diff(a.load!.p99Ms, b.load!.p99Ms)))} ms`);
      const saturated = `At full load (the table above), p99 over bare-undici's p99 (same round, median): ${p99.join(', ')}. bare-undici itself adds ${signed(withinRounds(runs, BARE, DIRECT, (a, b) => diff(a.load!.p99Ms, b.load!.p99Ms)))} ms over direct: at full closed-loop load on 2 shared vCPUs the tail is queueing for the CPUs, which any extra process causes.`;
      return `${saturated}\n\n${fixedRateTable(runs, summary.map((x) => x.candidate))}`;
    },
    checks: (_summary, runs) => {
      const c = SW_10K_HC;
      return [
        check(`${c} CPU/req ÷ bare-undici`, cpuRatio(runs, c, BARE), '<=', 1.1, fx(2)),
        check(`${c} CPU/req ÷ fastify-http-proxy`, cpuRatio(runs, c, 'fastify-http-proxy'), '<=', 0.6, fx(2)),
        check(`${c} CPU/req ÷ fast-gateway`, cpuRatio(runs, c, 'fast-gateway'), '<=', 0.5, fx(2)),
        check(`${c} req/s ÷ bare-undici`, rpsRatio(runs, c, BARE), '>=', 0.9, fx(2)),
        check(`${c} p99 added over direct at ${LATENCY_RATE.toLocaleString('en-US')} req/s offered`, fixedP99Over(runs, c, DIRECT), '<=', 2, ms(2),
          'fixed offered rate; at full closed-loop load the p99 is queueing for the 2 shared CPUs (table above)'),
      ];
    },
  }),
};
