// `switchyard routes|upstreams ls|get|put|rm` against a real gateway process.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { admin, CLI, removeDir, startGateway, tempDir, type GatewayProcess } from '../helpers/gateway.js';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('SWITCHYARD_')) delete env[k];
  Object.assign(env, opts.env);
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(opts.input ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const UPSTREAM_YAML = `# the orders backend
name: orders
pools:
  blue:
    targets: ["http://127.0.0.1:3001", "http://127.0.0.1:3002"]
  green:
    registry: true
weights: { blue: 100, green: 0 }
`;
const ROUTE_YAML = `id: orders
match:
  path: /api/orders
  methods: [GET, POST]
  host: shop.example.com
upstream: orders
stripPrefix: true
`;

describe('switchyard routes / upstreams', () => {
  let gw: GatewayProcess;
  let dir: string;
  let files: Record<string, string>;
  const a = () => ['--admin', gw.adminUrl];

  before(async () => {
    gw = await startGateway();
    dir = tempDir('switchyard-cli-');
    const write = (name: string, text: string) => {
      const p = path.join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    files = {
      upstream: write('upstream.yaml', UPSTREAM_YAML),
      route: write('route.yaml', ROUTE_YAML),
      routeJson: write('payments.json', JSON.stringify({ id: 'payments', match: { path: '/api/payments' }, upstream: 'payments' })),
      bad: write('bad.yaml', 'id: broken\nmatch:\n  path: no-slash\n  colour: red\nupstream: orders\n'),
      noId: write('noid.yaml', 'match:\n  path: /x\nupstream: orders\n'),
      notYaml: write('notyaml.yaml', 'id: [unclosed\n'),
    };
  });
  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
    removeDir(dir ?? null);
  });

  test('put creates, then replaces (YAML file)', async () => {
    const u = await runCli(['upstreams', 'put', files.upstream!, ...a()]);
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stdout, /upstream orders created \(revision \d+\)/);
    const r = await runCli(['routes', 'put', files.route!, ...a()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /route orders created \(revision \d+\)/);
    const again = await runCli(['routes', 'put', files.route!, ...a()]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /route orders replaced/);
    const stored = await admin(gw, 'GET', '/routes/orders');
    assert.equal(stored.status, 200);
    assert.deepEqual(stored.body.match, { path: '/api/orders', methods: ['GET', 'POST'], host: 'shop.example.com' });
    assert.equal(stored.body.stripPrefix, true);
  });

  test('put - reads stdin (JSON), --json prints the API answer', async () => {
    const r = await runCli(['routes', 'put', '-', '--json', ...a()], {
      input: JSON.stringify({ id: 'stdin-route', match: { path: '/stdin' }, upstream: 'orders' }),
    });
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.equal(body.id, 'stdin-route');
    assert.equal(typeof body.revision, 'number');
    const p = await runCli(['routes', 'put', files.routeJson!, ...a()]);
    assert.equal(p.code, 0, p.stderr);
  });

  test('ls prints a table; ls --json the raw list', async () => {
    const ls = await runCli(['routes', 'ls', ...a()]);
    assert.equal(ls.code, 0, ls.stderr);
    const lines = ls.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+MATCH\s+UPSTREAM\s+STATUS$/);
    const orders = lines.find((l) => l.startsWith('orders '));
    assert.ok(orders, ls.stdout);
    assert.match(orders, /^orders\s+shop\.example\.com GET,POST \/api\/orders\s+orders\s+(active|pending)$/);
    assert.ok(lines.some((l) => /^payments\s+\/api\/payments\s+payments\s+(unresolved|pending)$/.test(l)), ls.stdout);

    const json = await runCli(['routes', 'ls', '--json', ...a()]);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout);
    assert.equal(typeof body.revision, 'number');
    assert.deepEqual(body.routes.map((r: { id: string }) => r.id), ['orders', 'payments', 'stdin-route']);

    const ups = await runCli(['upstreams', 'ls', ...a()]);
    assert.equal(ups.code, 0, ups.stderr);
    const uLines = ups.stdout.trimEnd().split('\n');
    assert.match(uLines[0]!, /^NAME\s+POOLS\s+BALANCER$/);
    assert.match(uLines[1]!, /^orders\s+blue:100,green:0\s+round-robin$/);
  });

  test('get shows one resource (YAML by default, JSON with --json)', async () => {
    const g = await runCli(['routes', 'get', 'orders', ...a()]);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stdout, /^id: orders$/m);
    assert.match(g.stdout, /^upstream: orders$/m);
    assert.match(g.stdout, /^revision: \d+$/m);
    const j = await runCli(['upstreams', 'get', 'orders', '--json', ...a()]);
    assert.equal(j.code, 0, j.stderr);
    const body = JSON.parse(j.stdout);
    assert.equal(body.name, 'orders');
    assert.deepEqual(Object.keys(body.pools), ['blue', 'green']);
  });

  test('SWITCHYARD_ADMIN_URL is the default --admin', async () => {
    const r = await runCli(['upstreams', 'ls', '--json'], { env: { SWITCHYARD_ADMIN_URL: gw.adminUrl } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).upstreams[0].name, 'orders');
  });

  test('API errors: exit 1 with "error: <code>: <message>" and the details', async () => {
    const rev = (await admin(gw, 'GET', '/routes')).body.revision;
    const bad = await runCli(['routes', 'put', files.bad!, ...a()]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: invalid_config: /m);
    assert.match(bad.stderr, /\/match\/path: must start with "\/"/);
    assert.match(bad.stderr, /\/match\/colour: unknown field/);
    assert.equal(bad.stdout, '');

    const conflict = await runCli(['upstreams', 'rm', 'orders', ...a()]);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /^error: conflict: .*orders/m);

    const missing = await runCli(['routes', 'get', 'nope', ...a()]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: not_found: /m);

    const stale = await runCli(['routes', 'put', files.route!, '--if-match', '1', ...a()]);
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /^error: precondition_failed: /m);
    assert.match(stale.stderr, /current revision: \d+/);
    assert.equal((await admin(gw, 'GET', '/routes')).body.revision, rev, 'nothing written');
  });

  test('file problems: exit 1 with a clear message', async () => {
    const noId = await runCli(['routes', 'put', files.noId!, ...a()]);
    assert.equal(noId.code, 1);
    assert.match(noId.stderr, /has no "id" field/);
    const notYaml = await runCli(['routes', 'put', files.notYaml!, ...a()]);
    assert.equal(notYaml.code, 1);
    assert.match(notYaml.stderr, /not valid YAML or JSON/);
    const absent = await runCli(['routes', 'put', path.join(dir, 'absent.yaml'), ...a()]);
    assert.equal(absent.code, 1);
    assert.match(absent.stderr, /cannot read .*absent\.yaml/);
  });

  test('usage errors exit 2', async () => {
    const unknownFlag = await runCli(['routes', 'ls', '--bogus', ...a()]);
    assert.equal(unknownFlag.code, 2, unknownFlag.stderr);
    assert.match(unknownFlag.stderr, /unknown option/);
    const missingArg = await runCli(['routes', 'get', ...a()]);
    assert.equal(missingArg.code, 2, missingArg.stderr);
    const badRev = await runCli(['routes', 'rm', 'orders', '--if-match', 'soon', ...a()]);
    assert.equal(badRev.code, 2, badRev.stderr);
    assert.equal((await admin(gw, 'GET', '/routes/orders')).status, 200, 'not deleted');
  });

  test('rm deletes (with --if-match when current)', async () => {
    const cur = (await admin(gw, 'GET', '/routes/stdin-route')).body.revision;
    const rm = await runCli(['routes', 'rm', 'stdin-route', '--if-match', String(cur), ...a()]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /route stdin-route deleted \(revision \d+\)/);
    assert.equal((await admin(gw, 'GET', '/routes/stdin-route')).status, 404);
    for (const id of ['orders', 'payments']) assert.equal((await runCli(['routes', 'rm', id, ...a()])).code, 0);
    const u = await runCli(['upstreams', 'rm', 'orders', '--json', ...a()]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(JSON.parse(u.stdout).deleted, true);
    const ls = await runCli(['routes', 'ls', ...a()]);
    assert.equal(ls.stdout.trimEnd().split('\n').length, 1, 'only the header is left');
  });

  test('an unreachable gateway: exit 1 with a clear message', async () => {
    const r = await runCli(['routes', 'ls', '--admin', 'http://127.0.0.1:1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: cannot reach the admin API at http:\/\/127\.0\.0\.1:1/m);
  });
});

describe('switchyard routes with an admin token', () => {
  let gw: GatewayProcess;
  before(async () => {
    gw = await startGateway({ args: ['--admin-token', 'tok3n'] });
  });
  after(async () => {
    await gw?.stop();
    removeDir(gw?.storeDir ?? null);
  });

  test('SWITCHYARD_ADMIN_TOKEN is sent; without it: 401, exit 1', async () => {
    const no = await runCli(['routes', 'ls', '--admin', gw.adminUrl]);
    assert.equal(no.code, 1);
    assert.match(no.stderr, /^error: unauthorized: /m);
    const yes = await runCli(['routes', 'ls', '--admin', gw.adminUrl], { env: { SWITCHYARD_ADMIN_TOKEN: 'tok3n' } });
    assert.equal(yes.code, 0, yes.stderr);
    assert.match(yes.stdout, /^ID\s+MATCH/);
  });
});
