// Gateway nodes on a throwaway etcd, for the test/etcd/ acceptance suite:
// starting a node with `--store etcd://...`, reading /readyz, probing the data
// plane, tracking every process started so after hooks stop them by pid.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { admin, startGateway, type GatewayProcess } from './gateway.js';

let seq = 0;
/** A key prefix no other test of this process uses. */
export function uniquePrefix(name: string): string {
  return `/t-${name}-${process.pid}-${seq++}/`;
}

/** `etcd://127.0.0.1:P,127.0.0.1:Q` from client URLs. */
export function storeUri(endpoints: readonly string[]): string {
  return `etcd://${endpoints.map((e) => e.replace(/^https?:\/\//, '')).join(',')}`;
}

export interface EtcdNodeOptions {
  prefix: string;
  nodeId: string;
  group?: string;
  /** Reuse a state dir (restart); a fresh temp one otherwise. */
  stateDir?: string | null;
  /** SWITCHYARD_ETCD_TIMEOUT_MS; default 1000 (keeps outage tests short). */
  etcdTimeoutMs?: number;
  logLevel?: string;
  startTimeoutMs?: number;
}

/** Every gateway started through startEtcdNode, for stopAllNodes(). */
const started = new Set<GatewayProcess>();

export async function startEtcdNode(endpoints: readonly string[], o: EtcdNodeOptions): Promise<GatewayProcess> {
  const args = ['--store', storeUri(endpoints), '--prefix', o.prefix, '--node-id', o.nodeId, '--group', o.group ?? 'default', '--grace-ms', '2000'];
  if (o.stateDir) args.push('--state-dir', o.stateDir);
  if (o.logLevel) args.push('--log-level', o.logLevel);
  const gw = await startGateway({
    args,
    env: { SWITCHYARD_ETCD_TIMEOUT_MS: String(o.etcdTimeoutMs ?? 1000) },
    timeoutMs: o.startTimeoutMs ?? 30_000, // only bounds a failure: --workers 2 on a busy 2-core machine takes several seconds
  });
  started.add(gw);
  return gw;
}

/** SIGCONT (a test may have stopped it), then SIGTERM, SIGKILL after 3 s; every node started here. */
export async function stopAllNodes(): Promise<void> {
  const all = [...started];
  started.clear();
  await Promise.all(
    all.map(async (gw) => {
      try {
        if (gw.child.exitCode === null && gw.child.signalCode === null) process.kill(gw.pid, 'SIGCONT');
      } catch {
        /* gone */
      }
      await gw.stop(3000);
    }),
  );
}

export interface Readyz {
  status: number;
  ready: boolean;
  store: string;
  appliedRevision: number;
}

export async function readyz(gw: { adminUrl: string }): Promise<Readyz> {
  const r = await admin(gw, 'GET', '/readyz');
  return { status: r.status, ready: r.body?.ready, store: r.body?.store, appliedRevision: r.body?.appliedRevision };
}

export interface Hit {
  status: number;
  body: string;
}

/** One data-plane GET (fresh keep-alive pool of fetch), with a timeout. */
export async function hit(url: string, timeoutMs = 3000): Promise<Hit> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

/** Polls `url` until it answers 200 with exactly `body`; resolves with the ms it took. Throws with the last answer after `timeoutMs`. */
export async function servedWithin(url: string, body: string, timeoutMs: number, pauseMs = 2): Promise<number> {
  const t0 = performance.now();
  let last = '';
  for (;;) {
    try {
      const h = await hit(url, Math.max(500, timeoutMs));
      if (h.status === 200 && h.body === body) return performance.now() - t0;
      last = `${h.status} ${h.body.slice(0, 200)}`;
    } catch (err) {
      last = String(err);
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`${url} did not serve "${body}" within ${timeoutMs} ms; last answer: ${last}`);
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/** The p-th percentile (0–100, nearest rank) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Revision recorded in the node's last-known-good file (the one file in its state dir), or null. */
export function lastKnownGoodRevision(stateDir: string): number | null {
  let files: string[];
  try {
    files = readdirSync(stateDir).filter((f) => /^last-known-good-.*\.json$/.test(f));
  } catch {
    return null;
  }
  if (files.length !== 1) return null;
  const m = /^\{"format":1,"revision":(\d+),/.exec(readFileSync(path.join(stateDir, files[0]!), 'utf8'));
  return m ? Number(m[1]) : null;
}

/** The admin write that must fail while the store is unreachable: its status, error code and how long it took. */
export async function timedAdmin(gw: { adminUrl: string }, method: string, p: string, body?: unknown): Promise<{ status: number; body: any; ms: number }> {
  const t0 = performance.now();
  const r = await admin(gw, method, p, body);
  return { status: r.status, body: r.body, ms: Math.round(performance.now() - t0) };
}

/**
 * Resolves once every thread of `pid` is stopped (state T in /proc), i.e. a
 * SIGSTOP has really taken effect: on a busy machine a multi-threaded process
 * may run on for a few ms after kill() returned.
 */
export async function waitStopped(pid: number, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let all = true;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      let stat = '';
      try {
        stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      } catch {
        continue; // thread gone
      }
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'T' && state !== 't') all = false;
    }
    if (all) return;
    if (Date.now() > deadline) throw new Error(`process ${pid} not stopped ${timeoutMs} ms after SIGSTOP`);
    await new Promise((r) => setTimeout(r, 1));
  }
}
