// docs/metrics.md must list exactly the `switchyard_` metric families a real
// gateway exposes, with their types and labels. A gateway is started (with
// one process and with --workers 2), gets some traffic, and is scraped.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { admin, REPO_ROOT, startGateway, type GatewayProcess } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'metrics-docs-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

interface DocRow {
  type: string;
  labels: Set<string>;
  linuxOnly: boolean;
  notWithWorkers: boolean;
}

/** The metric tables of docs/metrics.md: | `name` | type | `a`, `b` | meaning |. */
function documentedMetrics(text: string): Map<string, DocRow> {
  const rows = new Map<string, DocRow>();
  for (const m of text.matchAll(/^\| `(switchyard_[a-z0-9_]+)` \| ([a-z]+) \| ([^|]*) \| (.*) \|$/gm)) {
    const [, name, type, labels, meaning] = m as unknown as [string, string, string, string, string];
    assert.ok(!rows.has(name), `docs/metrics.md lists ${name} twice`);
    rows.set(name, {
      type,
      labels: new Set([...labels.matchAll(/`([a-zA-Z_][a-zA-Z0-9_]*)`/g)].map((l) => l[1]!)),
      linuxOnly: meaning.includes('(Linux only)'),
      notWithWorkers: meaning.includes('(not with --workers > 1'),
    });
  }
  return rows;
}

interface Exposed {
  type: string;
  labels: Set<string>;
  samples: number;
}

/** Families of a Prometheus text exposition: TYPE lines, plus the label names their samples carry. */
function exposedFamilies(text: string): Map<string, Exposed> {
  const families = new Map<string, Exposed>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1]!, { type: m[2]!, labels: new Set(), samples: 0 });
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/.exec(line);
    assert.ok(m, `unparseable sample line: ${line}`);
    let name = m[1]!;
    let fam = families.get(name);
    if (!fam) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      fam = families.get(base);
      name = base;
    }
    assert.ok(fam, `sample ${m[1]} has no # TYPE line`);
    fam.samples++;
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="(?:[^"\\]|\\.)*"/g)) fam.labels.add(l[1]!);
  }
  return families;
}

describe('docs/metrics.md lists every switchyard_ metric', () => {
  const doc = documentedMetrics(readFileSync(path.join(REPO_ROOT, 'docs/metrics.md'), 'utf8'));
  const started: GatewayProcess[] = [];
  let up: TestUpstream | null = null;
  after(async () => {
    for (const gw of started) await gw.stop();
    await up?.close();
  });

  it('parses the tables of docs/metrics.md', () => {
    assert.ok(doc.size >= 40, `only ${doc.size} metrics found in docs/metrics.md tables`);
    for (const [name, row] of doc) assert.match(row.type, /^(counter|gauge|histogram|summary)$/, `${name}: unknown type ${row.type}`);
  });

  for (const workers of [1, 2]) {
    it(`matches a scrape after traffic (--workers ${workers})`, async () => {
      up ??= await startUpstream('docs');
      const gw = await startGateway({ args: ['--workers', String(workers), '--admin-token', TOKEN], timeoutMs: 30000 });
      started.push(gw);
      const data = gw.dataUrls[0]!;
      assert.equal((await admin(gw, 'PUT', '/upstreams/docs', { pools: { blue: { targets: [up.url] } }, weights: { blue: 100 } }, AUTH)).status, 201);
      assert.equal((await admin(gw, 'PUT', '/routes/docs', { match: { path: '/docs' }, upstream: 'docs' }, AUTH)).status, 201);
      assert.equal((await admin(gw, 'PUT', '/routes/ghost', { match: { path: '/ghost' }, upstream: 'nowhere' }, AUTH)).status, 201);
      // Every worker has the table once each answers from the route.
      await waitFor(async () => (await fetch(`${data}/docs/ready`)).status === 200, { what: 'the route to serve', timeoutMs: 10000 });
      for (let i = 0; i < 20; i++) assert.equal((await fetch(`${data}/docs/item/${i}`)).status, 200);
      assert.equal((await fetch(`${data}/ghost`)).status, 503);
      assert.equal((await fetch(`${data}/not-routed`)).status, 404);
      assert.equal((await admin(gw, 'GET', '/routes')).status, 401); // an auth failure

      const res = await fetch(`${gw.adminUrl}/metrics`, { headers: AUTH });
      assert.equal(res.status, 200);
      const families = exposedFamilies(await res.text());
      const requests = families.get('switchyard_requests_total');
      assert.ok(requests && requests.samples >= 2, 'switchyard_requests_total has no samples after traffic');

      const problems: string[] = [];
      for (const [name, fam] of families) {
        if (!name.startsWith('switchyard_')) continue;
        const row = doc.get(name);
        if (!row) {
          problems.push(`${name} (${fam.type}) is exposed but not in docs/metrics.md`);
          continue;
        }
        if (row.type !== fam.type) problems.push(`${name} is a ${fam.type}, docs/metrics.md says ${row.type}`);
        for (const l of fam.labels) if (!row.labels.has(l)) problems.push(`${name} has label "${l}", docs/metrics.md does not name it`);
      }
      for (const [name, row] of doc) {
        const expected = !(row.linuxOnly && process.platform !== 'linux') && !(row.notWithWorkers && workers > 1);
        if (expected && !families.has(name)) problems.push(`${name} is in docs/metrics.md but not exposed`);
        if (!expected && row.notWithWorkers && families.has(name)) problems.push(`${name} is marked "not with --workers > 1" but is exposed with --workers ${workers}`);
      }
      assert.deepEqual(problems, []);
    });
  }
});
