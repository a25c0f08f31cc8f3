import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = path.join(REPO_ROOT, 'dist/src/cli.js');

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Data-plane URLs in --listen order, e.g. http://127.0.0.1:41234 */
  readonly dataUrls: string[];
  readonly adminUrl: string;
  readonly storeDir: string | null;
  /** --state-dir of this node (a temp dir unless args set one). */
  readonly stateDir: string | null;
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  kill9(): Promise<void>;
}

export interface StartOptions {
  /** Extra CLI flags after `start`. Defaults give an ephemeral data port and admin port. */
  args?: string[];
  /** Reuse a store dir (file store). A fresh temp dir otherwise, unless args set --store. */
  storeDir?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

const created: string[] = [];
// Temp dirs live until the test file's process ends (a restarted node reuses them).
process.once('exit', () => {
  for (const d of created) rmSync(d, { recursive: true, force: true });
});

export function tempDir(prefix = 'switchyard-test-'): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  created.push(d);
  return d;
}

/**
 * Starts `switchyard start` as a real child process and resolves once it has
 * printed its data-plane and admin listening lines.
 */
export async function startGateway(opts: StartOptions = {}): Promise<GatewayProcess> {
  const args = opts.args ?? [];
  const hasStore = args.includes('--store');
  const storeDir = hasStore ? null : (opts.storeDir ?? tempDir());
  const fullArgs = [CLI, 'start'];
  if (!args.includes('--listen')) fullArgs.push('--listen', '127.0.0.1:0');
  if (!args.includes('--admin')) fullArgs.push('--admin', '127.0.0.1:0');
  if (storeDir) fullArgs.push('--store', `file:${storeDir}`);
  const stateDir = args.includes('--state-dir') ? null : tempDir('switchyard-state-');
  if (stateDir) fullArgs.push('--state-dir', stateDir);
  if (!args.includes('--log-level')) fullArgs.push('--log-level', 'warn');
  // `npm test` runs the flip, load and etcd suites a second time with workers.
  const workers = process.env.SWITCHYARD_TEST_WORKERS;
  if (workers && !args.includes('--workers')) fullArgs.push('--workers', workers);
  fullArgs.push(...args);
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  for (const k of Object.keys(env)) if (k.startsWith('SWITCHYARD_') && !(opts.env && k in opts.env)) delete env[k];
  const child = spawn(process.execPath, fullArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timeoutMs = opts.timeoutMs ?? 10000;
  const dataUrls: string[] = [];
  let adminUrl = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = () => {
      dataUrls.length = 0;
      for (const m of out.matchAll(/data-plane listening on (http:\/\/\S+)/g)) dataUrls.push(m[1]!);
      const a = /admin listening on (http:\/\/\S+)/.exec(out);
      if (a && dataUrls.length > 0) {
        adminUrl = a[1]!;
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before it was ready:\n${out}`));
    });
  });
  return {
    child,
    pid: child.pid!,
    dataUrls,
    adminUrl,
    storeDir,
    stateDir,
    output: () => out,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export function removeDir(dir: string | null): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** JSON request against the admin API. */
export async function admin(
  gw: { adminUrl: string },
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(gw.adminUrl + path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
