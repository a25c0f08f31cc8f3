// (f) write -> served latency on 3 gateway nodes over one etcd, 10 000 routes
// loaded (bulk-loaded straight into etcd as in route-scale). Route `probe`
// (`/probe`) points alternately to upstream `blue` and `green` (two
// bench/upstream.ts processes answering with `x-upstream: blue|green`). Each
// write is `PUT /routes/probe` on node A's admin API; then nodes A, B and C's
// data planes are polled (`GET /probe`, keep-alive, every ~1 ms) until each
// answers from the new upstream. Latency = PUT sent -> that node serves the
// new version. 100 writes (--quick 30), one at a time, 50 ms apart.
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { check, checksMarkdown, ms } from '../lib/checks.js';
import { bulkPut, putRoute, putUpstream, routeEntries, startBenchEtcd } from '../lib/etcd.js';
import { startGateway, waitForRevision, type Gateway } from '../lib/gateway.js';
import { httpRequest, jsonRequest } from '../lib/http.js';
import { f0, f1, mdTable } from '../lib/md.js';
import { median, pct } from '../lib/stats.js';
import type { CustomContext, CustomReport, ScenarioModule } from '../lib/types.js';
import { startNodeUpstream } from '../lib/upstream.js';
import { BENCH_UPSTREAM } from '../candidates/switchyard.js';
import { routes10k } from './routes-10k.js';

const NODES = ['a', 'b', 'c'];
const PREFIX = '/bench-served/';

export const writeServed: ScenarioModule = {
  name: 'write-served',
  summary: '3 gateways on one etcd with 10 000 routes: PUT a route on node A -> served by A, B, C (p50/p99)',
  create: () => ({ kind: 'custom', name: 'write-served', title: 'write -> served latency, 3 nodes on one etcd, 10 000 routes', run }),
};

interface Sample {
  to: string;
  putMs: number;
  /** Per node, ms from PUT sent to the first answer of the new upstream; NaN = not within the timeout. */
  nodeMs: number[];
}

async function pollUntil(url: string, agent: http.Agent, want: string, t0: number, timeoutMs: number): Promise<number> {
  const deadline = t0 + timeoutMs;
  while (performance.now() < deadline) {
    const r = await httpRequest(url, { agent, timeoutMs: 5000 }).catch(() => null);
    if (r?.status === 200 && r.headers['x-upstream'] === want) return performance.now() - t0;
    await sleep(1);
  }
  return NaN;
}

async function run(ctx: CustomContext): Promise<CustomReport> {
  const { env, settings, log } = ctx;
  const writes = settings.quick ? 30 : 100;
  const etcd = await startBenchEtcd();
  const blue = await startNodeUpstream({ name: 'blue', cpu: env.upstreamCpu });
  const green = await startNodeUpstream({ name: 'green', cpu: env.upstreamCpu });
  const nodes: Gateway[] = [];
  const agents = NODES.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const stateRoot = mkdtempSync(path.join(env.tmpRoot, 'served-state-'));
  const samples: Sample[] = [];
  try {
    await putUpstream(etcd.client, PREFIX, { name: BENCH_UPSTREAM, pools: { main: { targets: [blue.url] } }, weights: { main: 100 } });
    await putUpstream(etcd.client, PREFIX, { name: 'blue', pools: { main: { targets: [blue.url] } }, weights: { main: 100 } });
    await putUpstream(etcd.client, PREFIX, { name: 'green', pools: { main: { targets: [green.url] } }, weights: { main: 100 } });
    const bulk = await bulkPut(etcd.client, routeEntries(PREFIX, routes10k()), { batch: 128, concurrency: 4 });
    const probe = await putRoute(etcd.client, PREFIX, { id: 'probe', match: { path: '/probe' }, upstream: 'blue' });
    log(`write-served: ${bulk.count} routes in etcd (${bulk.txns} txns, ${bulk.writeMs.toFixed(0)} ms); starting nodes ${NODES.join(', ')}`);
    for (const id of NODES) {
      const gw = await startGateway({
        name: `switchyard node ${id}`,
        store: etcd.storeUri,
        args: ['--prefix', PREFIX, '--node-id', `served-${id}`, '--state-dir', path.join(stateRoot, id)],
        cpu: env.proxyCpu,
        timeoutMs: 60_000,
        env: { SWITCHYARD_ETCD_TIMEOUT_MS: '10000' },
      });
      nodes.push(gw);
    }
    for (const gw of nodes) await waitForRevision(gw, Math.max(probe.revision, bulk.revision), 60_000, 10);
    for (const [i, gw] of nodes.entries()) {
      const r = await httpRequest(`${gw.dataUrl}/probe`, { agent: agents[i] });
      if (r.status !== 200 || r.headers['x-upstream'] !== 'blue') throw new Error(`node ${NODES[i]}: GET /probe -> ${r.status} ${String(r.headers['x-upstream'])}`);
    }

    const a = nodes[0]!;
    for (let i = 1; i <= writes; i++) {
      const to = i % 2 ? 'green' : 'blue';
      const t0 = performance.now();
      await jsonRequest(`${a.adminUrl}/routes/probe`, 'PUT', { id: 'probe', match: { path: '/probe' }, upstream: to });
      const putMs = performance.now() - t0;
      const nodeMs = await Promise.all(nodes.map((gw, k) => pollUntil(`${gw.dataUrl}/probe`, agents[k]!, to, t0, 10_000)));
      samples.push({ to, putMs, nodeMs });
      if (i % 25 === 0 || i === writes) log(`write-served: ${i}/${writes} writes; last: PUT ${putMs.toFixed(1)} ms, served ${nodeMs.map((x) => x.toFixed(1)).join(' / ')} ms`);
      await sleep(50);
    }
  } finally {
    for (const ag of agents) ag.destroy();
    await Promise.all(nodes.map((g) => g.proc.stop(5000).catch(() => undefined)));
    await blue.stop();
    await green.stop();
    await etcd.close();
  }

  const all = samples.map((s) => Math.max(...s.nodeMs)); // NaN if any node missed
  const missed = samples.reduce((acc, s) => acc + s.nodeMs.filter((x) => !Number.isFinite(x)).length, 0);
  const row = (label: string, xs: number[]) => {
    const ok = xs.filter(Number.isFinite);
    return [label, f1(pct(ok, 50)), f1(pct(ok, 90)), f1(pct(ok, 99)), f1(ok.length ? Math.max(...ok) : NaN), f0(xs.length - ok.length)];
  };
  const p99All = missed ? Infinity : pct(all, 99);
  const checks = [check('all three nodes serve the write: p99', p99All, '<=', 100, ms(1), `${samples.length} writes`)];
  const markdown = [
    '## write-served: write -> served latency, 3 nodes on one etcd, 10 000 routes',
    '',
    `\`PUT /routes/probe\` on node A (upstream alternating blue/green), then \`GET /probe\` polled on A, B and C until each answers from the new upstream; ` +
      `${samples.length} writes one at a time. ms from the PUT being sent:`,
    '',
    mdTable(['', 'p50', 'p90', 'p99', 'max', 'not served in 10 s'], [
      row('PUT on node A answered', samples.map((s) => s.putMs)),
      ...NODES.map((id, k) => row(`node ${id.toUpperCase()} serves it`, samples.map((s) => s.nodeMs[k]!))),
      row('all three serve it', all),
    ]),
    '',
    `Median write -> served over every node and write: ${f1(median(samples.flatMap((s) => s.nodeMs)))} ms.`,
    '',
    'Acceptance:',
    '',
    checksMarkdown(checks),
  ].join('\n');
  return { markdown, data: { writes: samples.length, routes: 10_000, nodes: NODES, samples }, checks, failed: samples.length === 0 };
}
