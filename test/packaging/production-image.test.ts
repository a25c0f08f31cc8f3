// The production image, without Docker: no Docker engine or base-image
// registry is reachable where these tests run, so the Dockerfile is replayed
// (test/packaging/dockerfile-replay.ts): each stage in a clean temp directory
// standing for its filesystem, the build stage compiling a clean copy of
// src/, the runtime stage really running `npm ci --omit=dev --ignore-scripts`
// (offline from the npm cache when it holds the packages). The result is
// started the way the image starts it, as an unprivileged user, and probed.
//
// Not replayed: the base image (the host's Node.js stands in for node:24-slim).
// The build stage's full `npm ci` is replaced by a link to this repository's
// node_modules (same lockfile) unless SWITCHYARD_PACKAGING_FULL_BUILD=1; it
// adds ~25 s. SWITCHYARD_PACKAGING_DOCKERFILE=path replays another Dockerfile
// (to try a fix).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SETTINGS } from '../../src/config.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';
import { REPO_ROOT } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';
import { DockerfileReplay, linkNodeModules, listFiles, unprivileged, type StageResult } from './dockerfile-replay.js';

const DOCKERFILE = process.env.SWITCHYARD_PACKAGING_DOCKERFILE ?? path.join(REPO_ROOT, 'Dockerfile');
const FULL_BUILD = process.env.SWITCHYARD_PACKAGING_FULL_BUILD === '1';
const runAs = unprivileged();

interface Lockfile {
  packages: Record<string, { version?: string; dev?: boolean; optional?: boolean; devOptional?: boolean }>;
}

interface Container {
  child: ChildProcess;
  pid: number;
  adminUrl: string;
  dataUrl: string;
  output(): string;
  /** SIGTERM; resolves with the exit code (SIGKILL after 10 s). */
  stop(): Promise<number | null>;
}

/** The container's environment: the image's ENV over a minimal base, then `docker run -e` overrides. */
function containerEnv(image: StageResult, overrides: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: DockerfileReplay.hostPath(image, '/home/node'), ...image.env, ...overrides };
}

/** `docker run IMAGE` with -e overrides: ENTRYPOINT + CMD as the image's USER, from its WORKDIR. */
async function runImage(image: StageResult, overrides: Record<string, string>): Promise<Container> {
  const argv = [...(image.entrypoint ?? []), ...(image.cmd ?? [])];
  assert.ok(argv.length > 0, 'the image has neither ENTRYPOINT nor CMD');
  if (argv[0] === 'node') argv[0] = process.execPath;
  const full = image.user && image.user !== 'root' ? [...runAs.prefix, ...argv] : argv;
  const child = spawn(full[0]!, full.slice(1), { cwd: DockerfileReplay.hostPath(image, image.workdir), env: containerEnv(image, overrides), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const urls = await new Promise<{ admin: string; data: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the image did not start within 20 s:\n${out}`));
    }, 20000);
    child.stdout!.on('data', () => {
      const a = /admin listening on (http:\/\/\S+)/.exec(out);
      const d = /data-plane listening on (http:\/\/\S+)/.exec(out);
      if (a && d) {
        clearTimeout(timer);
        resolve({ admin: a[1]!, data: d[1]! });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the image exited (${code}) before it listened:\n${out}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    adminUrl: urls.admin,
    dataUrl: urls.data,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Runs the image's HEALTHCHECK command against `adminUrl` (it names the image's default admin address). */
function healthcheck(image: StageResult, adminUrl: string): Promise<number | null> {
  const hc = image.healthcheck!;
  const configured = `http://${image.env.SWITCHYARD_ADMIN}`;
  const argv = hc.command.map((a) => a.split(configured).join(adminUrl));
  const full = image.user && image.user !== 'root' ? [...runAs.prefix, ...argv] : argv;
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), { cwd: DockerfileReplay.hostPath(image, image.workdir), env: containerEnv(image, {}), stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

function uidOf(pid: number): number {
  const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

async function putJson(url: string, body: unknown): Promise<number> {
  const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.text();
  return res.status;
}

describe('production image (the Dockerfile replayed without Docker)', () => {
  let root = '';
  let image: StageResult;
  let build: StageResult;
  let up: TestUpstream | null = null;
  const containers: Container[] = [];
  let etcd: EtcdCluster | null = null;

  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'switchyard-image-'));
    chmodSync(root, 0o755); // the unprivileged user must reach the image's files, as in a container
    const t0 = performance.now();
    const replay = new DockerfileReplay(
      {
        dockerfile: DOCKERFILE,
        context: REPO_ROOT,
        root,
        runAs,
        substitute: FULL_BUILD ? undefined : linkNodeModules(path.join(REPO_ROOT, 'node_modules')),
        // The runtime stage's npm ci must work offline from the npm cache; it still may fetch what the cache lacks.
        runEnv: { npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' },
        log: (l) => console.log(l),
      },
      readFileSync(DOCKERFILE, 'utf8'),
    );
    const results = await replay.build();
    image = results[results.length - 1]!;
    build = results.find((r) => r.stage.name === 'build') ?? results[0]!;
    console.log(`image replayed in ${Math.round(performance.now() - t0)} ms (${FULL_BUILD ? 'full build-stage npm ci' : 'build stage linked to the repository node_modules'})`);
  }, { timeout: 180000 });

  after(async () => {
    for (const c of containers) await c.stop();
    await up?.close();
    await etcd?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('build stage: dist holds the compiled src/ only (no test or bench files)', () => {
    const dist = DockerfileReplay.hostPath(build, 'dist');
    const files = listFiles(dist);
    assert.ok(files.includes('src/cli.js'), 'dist/src/cli.js missing');
    const stray = files.filter((f) => !f.startsWith('src/') || /\.test\.js$|(^|\/)(test|bench)\//.test(f));
    assert.deepEqual(stray, [], 'dist must hold only the compiled src/');
  });

  it('runtime stage: package files, dist and production dependencies only', () => {
    const app = DockerfileReplay.hostPath(image, image.workdir);
    assert.deepEqual(readdirSync(app).sort(), ['dist', 'node_modules', 'package-lock.json', 'package.json']);
    const files = listFiles(path.join(app, 'dist'));
    assert.ok(files.includes('src/cli.js'));
    assert.deepEqual(files.filter((f) => /\.test\.js$|(^|\/)(test|bench)\//.test(f)), [], 'test or bench files in the image');

    const lock = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as Lockfile;
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const present: string[] = [];
    const missing: string[] = [];
    for (const [key, meta] of Object.entries(lock.packages)) {
      if (!key.startsWith('node_modules/')) continue;
      const installed = existsSync(path.join(app, key, 'package.json'));
      if ((meta.dev || meta.devOptional) && installed) present.push(key);
      if (!meta.dev && !meta.devOptional && !meta.optional && !installed) missing.push(key);
    }
    assert.deepEqual(present, [], 'devDependencies (or what only they need) are installed in the image');
    assert.deepEqual(missing, [], 'production dependencies missing from the image');
    for (const name of ['typescript', 'autocannon', ...Object.keys(pkg.devDependencies)]) {
      // A devDependency that a production dependency also needs (e.g. @types/node via protobufjs) is legitimately there.
      const needed = lock.packages[`node_modules/${name}`] && !lock.packages[`node_modules/${name}`]!.dev && !lock.packages[`node_modules/${name}`]!.devOptional;
      if (!needed) assert.ok(!existsSync(path.join(app, 'node_modules', name)), `devDependency ${name} is in the image`);
    }
    for (const name of Object.keys(pkg.dependencies)) assert.ok(existsSync(path.join(app, 'node_modules', name, 'package.json')), `dependency ${name} is not in the image`);
  });

  it('runs as an unprivileged user: /healthz, HEALTHCHECK, a proxied request, the dashboard, SIGTERM exits 0', async () => {
    assert.ok(image.user && image.user !== 'root', 'the image must not run as root (USER)');
    assert.ok(image.healthcheck, 'the image has no HEALTHCHECK');
    assert.ok(image.expose.includes(String(image.env.SWITCHYARD_LISTEN ?? SETTINGS.listen[1])), `EXPOSE ${image.expose.join(' ')} does not include the data-plane port ${image.env.SWITCHYARD_LISTEN}`);
    assert.ok(
      image.healthcheck.command.some((a) => a.includes(`http://${image.env.SWITCHYARD_ADMIN}/healthz`)),
      `HEALTHCHECK must probe the image's admin address http://${image.env.SWITCHYARD_ADMIN}/healthz`,
    );
    up ??= await startUpstream('image');
    // `docker run -e`: ephemeral loopback ports instead of the image's fixed ones.
    const c = await runImage(image, { SWITCHYARD_LISTEN: '127.0.0.1:0', SWITCHYARD_ADMIN: '127.0.0.1:0' });
    containers.push(c);
    if (process.getuid?.() === 0) assert.equal(uidOf(c.pid), runAs.uid, 'the gateway must run as the unprivileged user');

    assert.equal((await fetch(`${c.adminUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${c.adminUrl}/readyz`)).status, 200);
    assert.equal(await healthcheck(image, c.adminUrl), 0, 'HEALTHCHECK failed against a healthy gateway');

    assert.equal(await putJson(`${c.adminUrl}/upstreams/shop`, { pools: { blue: { targets: [up.url] } }, weights: { blue: 100 } }), 201);
    assert.equal(await putJson(`${c.adminUrl}/routes/shop`, { match: { path: '/shop' }, upstream: 'shop', stripPrefix: true }), 201);
    const res = await fetch(`${c.dataUrl}/shop/cart?id=7`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { upstream: string; url: string };
    assert.deepEqual([body.upstream, body.url], ['image', '/cart?id=7']);

    // The embedded store lives where the image says, written by the unprivileged user.
    const storeDir = image.env.SWITCHYARD_STORE!.replace(/^file:/, '');
    assert.ok(existsSync(storeDir), `the store directory ${storeDir} was not created`);
    if (process.getuid?.() === 0) assert.equal(statSync(storeDir).uid, runAs.uid);

    // 503 = the dashboard exists but its static files are not in the image (src/control/dashboard/assets.ts).
    const dash = await fetch(`${c.adminUrl}/`);
    const dashText = await dash.text();
    assert.notEqual(dash.status, 503, `the dashboard's files are missing from the image: ${dashText.slice(0, 300)}`);
    if (dash.status === 200) assert.match(dash.headers.get('content-type') ?? '', /text\/html/);

    assert.equal(await c.stop(), 0, `SIGTERM must exit 0:\n${c.output().slice(-2000)}`);
    assert.notEqual(await healthcheck(image, c.adminUrl), 0, 'HEALTHCHECK passed with the gateway stopped');
  });

  it('on etcd, keeps its last-known-good table where the unprivileged user can write', async () => {
    etcd = await startEtcd();
    up ??= await startUpstream('image');
    const store = `etcd://${etcd.endpoints.map((e) => new URL(e).host).join(',')}`;
    const c = await runImage(image, { SWITCHYARD_LISTEN: '127.0.0.1:0', SWITCHYARD_ADMIN: '127.0.0.1:0', SWITCHYARD_STORE: store });
    containers.push(c);
    assert.equal(await putJson(`${c.adminUrl}/upstreams/shop`, { pools: { blue: { targets: [up.url] } }, weights: { blue: 100 } }), 201);
    assert.equal(await putJson(`${c.adminUrl}/routes/shop`, { match: { path: '/shop' }, upstream: 'shop' }), 201);
    await waitFor(async () => (await fetch(`${c.dataUrl}/shop`)).status === 200, { what: 'the route to serve', timeoutMs: 10000 });

    const stateDir = path.resolve(DockerfileReplay.hostPath(image, image.workdir), image.env.SWITCHYARD_STATE_DIR ?? SETTINGS.stateDir[1]);
    const saved = () => existsSync(stateDir) && readdirSync(stateDir).some((f) => /^last-known-good-.*\.json$/.test(f));
    const failed = () => c.output().includes('cannot write the last-known-good snapshot');
    await waitFor(() => saved() || failed(), { what: 'the last-known-good snapshot to be written (or to fail)', timeoutMs: 10000 });
    assert.ok(
      !failed() && saved(),
      `the last-known-good table cannot be written to ${image.env.SWITCHYARD_STATE_DIR ?? SETTINGS.stateDir[1]} (relative to WORKDIR ${image.workdir}) ` +
        `by user ${image.user}: set ENV SWITCHYARD_STATE_DIR to a directory it owns, e.g. /home/node/.switchyard-state\n${c.output().slice(-1500)}`,
    );
    assert.equal(await c.stop(), 0);
  });
});
