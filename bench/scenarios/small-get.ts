// (a) small GET: a 13-byte 200 response over keep-alive, every candidate, plus
// `switchyard-10k-hc`: the acceptance configuration, 10 000 routes loaded,
// metrics on (always) and an active health check on the benchmarked upstream
// every second; it is loaded on `/svc4999/orders/42?x=1`, a route among the
// 10 000 (the upstream answers every path alike).
import { bareUndici } from '../candidates/bare-undici.js';
import { direct } from '../candidates/direct.js';
import { fastGateway } from '../candidates/fast-gateway.js';
import { fastifyHttpProxy } from '../candidates/fastify-http-proxy.js';
import { switchyard } from '../candidates/switchyard.js';
import { check, cpuRatio, fx, ms, rpsRatio, withinRounds } from '../lib/checks.js';
import { diff } from '../lib/stats.js';
import { BARE, DIRECT, type ScenarioModule } from '../lib/types.js';
import { BENCH_PATH, routes10k } from './routes-10k.js';

export const SW_10K_HC = 'switchyard-10k-hc';

const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(2)}` : '—');

export const smallGet: ScenarioModule = {
  name: 'small-get',
  summary: 'GET /, 13-byte 200 response; direct, switchyard, switchyard-10k-hc, bare-undici, fastify-http-proxy, fast-gateway',
  create: () => ({
    name: 'small-get',
    title: 'small GET: `GET /`, 200 with a 13-byte body, keep-alive',
    upstream: { bodyBytes: 13, nginxOk: true },
    request: { method: 'GET', path: '/' },
    candidates: [
      direct(),
      switchyard(),
      switchyard({ name: SW_10K_HC, routes: () => routes10k(), seedKey: 'routes10k', healthCheck: { path: '/', intervalMs: 1000 }, requestPath: BENCH_PATH }),
      bareUndici(),
      fastifyHttpProxy(),
      fastGateway(),
    ],
    extraMarkdown: (summary, runs) => {
      const others = summary.filter((x) => x.rounds > 0 && x.candidate !== DIRECT && x.candidate !== BARE).map((x) => x.candidate);
      const p99 = others.map((c) => `${c} ${signed(withinRounds(runs, c, BARE, (a, b) => diff(a.load!.p99Ms, b.load!.p99Ms)))} ms`);
      return `p99 over bare-undici's p99 (same round, median): ${p99.join(', ')}. bare-undici itself adds ${signed(withinRounds(runs, BARE, DIRECT, (a, b) => diff(a.load!.p99Ms, b.load!.p99Ms)))} ms over direct: at full closed-loop load on 2 shared vCPUs the tail is queueing for the CPUs, which any extra process causes.`;
    },
    checks: (_summary, runs) => {
      const c = SW_10K_HC;
      return [
        check(`${c} CPU/req ÷ bare-undici`, cpuRatio(runs, c, BARE), '<=', 1.1, fx(2)),
        check(`${c} CPU/req ÷ fastify-http-proxy`, cpuRatio(runs, c, 'fastify-http-proxy'), '<=', 0.6, fx(2)),
        check(`${c} CPU/req ÷ fast-gateway`, cpuRatio(runs, c, 'fast-gateway'), '<=', 0.5, fx(2)),
        check(`${c} req/s ÷ bare-undici`, rpsRatio(runs, c, BARE), '>=', 0.9, fx(2)),
        check(`${c} p99 added over direct`, withinRounds(runs, c, DIRECT, (a, b) => diff(a.load!.p99Ms, b.load!.p99Ms)), '<=', 2, ms(2),
          'closed loop at full load: on a shared 2-vCPU box this is mostly queueing behind the busy CPUs'),
      ];
    },
  }),
};
