// routes-10k: scenario (a) with 10 000 routes loaded in Switchyard, the
// benchmarked route among them; `switchyard` (one route `/`) runs in the same
// rounds so the cost of the big table shows as a ratio.
import { bareUndici } from '../candidates/bare-undici.js';
import { direct } from '../candidates/direct.js';
import { BENCH_UPSTREAM, switchyard } from '../candidates/switchyard.js';
import type { ScenarioModule } from '../lib/types.js';
import type { RouteSpec } from '../../src/resources.js';

export const ROUTE_COUNT = 10_000;
const BENCH_INDEX = 4_999;
/** A request path that resolves to route `bench` among the 10 000 (longest prefix `/svc4999/orders`). */
export const BENCH_PATH = `/svc${BENCH_INDEX}/orders/42?x=1`;
const WORDS = ['api', 'v1', 'v2', 'orders', 'users', 'items', 'search', 'static', 'img', 'auth', 'cart', 'reports', 'feed', 'media'];
const METHODS = [['GET'], ['GET', 'HEAD'], ['POST'], ['PUT', 'PATCH', 'DELETE']];

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

/**
 * `count` routes, all to BENCH_UPSTREAM: service prefixes `/svcN` with 0-3
 * more segments, ~15 % with an exact host, ~5 % with a wildcard host, ~20 %
 * with methods. Route `bench` (`/svc4999/orders`, any host, any method) is the
 * one the load hits; `/svc4999` and `/svc4999/orders/admin` sit around it.
 */
export function routes10k(count = ROUTE_COUNT): RouteSpec[] {
  const rnd = rng(42);
  const out: RouteSpec[] = [];
  for (let i = 0; out.length < count - 3; i++) {
    if (i === BENCH_INDEX) continue;
    const segs = [`svc${i}`];
    for (let d = rnd(4); d > 0; d--) segs.push(WORDS[rnd(WORDS.length)]!);
    const route: RouteSpec = { id: `r${i}`, match: { path: '/' + segs.join('/') }, upstream: BENCH_UPSTREAM };
    const h = rnd(100);
    if (h < 15) route.match.host = `h${rnd(1000)}.example.com`;
    else if (h < 20) route.match.host = `*.t${rnd(100)}.example.com`;
    if (rnd(5) === 0) route.match.methods = METHODS[rnd(METHODS.length)]!;
    out.push(route);
  }
  out.push(
    { id: 'bench', match: { path: `/svc${BENCH_INDEX}/orders` }, upstream: BENCH_UPSTREAM },
    { id: 'bench-parent', match: { path: `/svc${BENCH_INDEX}` }, upstream: BENCH_UPSTREAM },
    { id: 'bench-admin', match: { path: `/svc${BENCH_INDEX}/orders/admin`, methods: ['POST'] }, upstream: BENCH_UPSTREAM },
  );
  return out;
}

export const routes10kScenario: ScenarioModule = {
  name: 'routes-10k',
  summary: 'small GET /svc4999/orders/42?x=1 with 10 000 Switchyard routes; direct, switchyard (1 route), bare-undici, switchyard-10k',
  create: () => ({
    name: 'routes-10k',
    title: `small GET with ${ROUTE_COUNT.toLocaleString('en-US')} routes loaded: \`GET /svc${BENCH_INDEX}/orders/42?x=1\`, 13-byte body`,
    upstream: { bodyBytes: 13, nginxOk: true },
    request: { method: 'GET', path: BENCH_PATH },
    candidates: [direct(), switchyard(), bareUndici(), switchyard({ name: 'switchyard-10k', routes: () => routes10k(), seedKey: 'routes10k' })],
  }),
};
