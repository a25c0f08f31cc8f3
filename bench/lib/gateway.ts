// Starting the real Switchyard CLI (`node dist/src/cli.js start`) as a
// process, and reading its admin API: /readyz, waiting for a revision.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpRequest } from './http.js';
import { SWITCHYARD_CLI } from './paths.js';
import { startProcess, type Spawned } from './spawn.js';

export interface Gateway {
  proc: Spawned;
  dataUrl: string;
  adminUrl: string;
}

export interface GatewayStart {
  name: string;
  /** --store value: `file:DIR` or `etcd://127.0.0.1:P`. */
  store: string;
  /** More `start` flags, e.g. ['--prefix', '/b/', '--node-id', 'a', '--workers', '2']. */
  args?: string[];
  /** Node flags before the script (--cpu-prof ...). */
  nodeArgs?: string[];
  cpu?: number | null;
  timeoutMs?: number;
  /** Extra environment (SWITCHYARD_* of the bench's own environment are removed). */
  env?: Record<string, string>;
  /** The CLI script (default: this checkout's dist/src/cli.js). */
  cli?: string;
}

export async function startGateway(o: GatewayStart): Promise<Gateway> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(childEnv)) if (k.startsWith('SWITCHYARD_')) delete childEnv[k];
  Object.assign(childEnv, o.env ?? {});
  const proc = await startProcess({
    name: o.name,
    command: process.execPath,
    args: [
      ...(o.nodeArgs ?? []),
      o.cli ?? SWITCHYARD_CLI,
      'start',
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      '--store',
      o.store,
      '--log-level',
      'warn',
      '--grace-ms',
      '2000',
      ...(o.args ?? []),
    ],
    ready: [/data-plane listening on (http:\/\/\S+)/, /admin listening on (http:\/\/\S+)/],
    cpu: o.cpu ?? null,
    env: childEnv,
    timeoutMs: o.timeoutMs ?? 60_000,
  });
  return { proc, dataUrl: proc.matches[0]![1]!, adminUrl: proc.matches[1]![1]! };
}

export interface Readyz {
  status: number;
  ready: boolean;
  appliedRevision: number;
}

/** Keep-alive agent for tight /readyz polling (one connection, no handshake per poll). */
const pollAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });

export async function readyz(adminUrl: string): Promise<Readyz> {
  const r = await httpRequest(`${adminUrl}/readyz`, { agent: pollAgent, timeoutMs: 5000 });
  let body: { ready?: boolean; appliedRevision?: number } = {};
  try {
    body = JSON.parse(r.body.toString('utf8')) as typeof body;
  } catch {
    /* not JSON */
  }
  return { status: r.status, ready: body.ready === true, appliedRevision: Number(body.appliedRevision ?? -1) };
}

/**
 * Polls /readyz every `everyMs` until it is ready with appliedRevision >=
 * `revision`; resolves with performance.now() of the first poll that saw it.
 */
export async function waitForRevision(gw: Gateway, revision: number, timeoutMs: number, everyMs = 2): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let last: Readyz | null = null;
  for (;;) {
    last = await readyz(gw.adminUrl).catch(() => null);
    if (last && last.ready && last.appliedRevision >= revision) return performance.now();
    if (gw.proc.exited) throw new Error(`${gw.proc.name} exited:\n${gw.proc.output()}`);
    if (performance.now() > deadline)
      throw new Error(`${gw.proc.name}: appliedRevision ${last?.appliedRevision ?? '?'} (ready ${last?.ready ?? '?'}) never reached ${revision} in ${timeoutMs} ms`);
    if (everyMs > 0) await sleep(everyMs);
  }
}

export function closePollSockets(): void {
  pollAgent.destroy();
}

/** switchyard_config_apply_seconds count and sum from the admin /metrics (compile + swap of a table). */
export async function applyStats(adminUrl: string): Promise<{ count: number; sumMs: number }> {
  const r = await httpRequest(`${adminUrl}/metrics`, { agent: pollAgent, timeoutMs: 10_000 });
  const text = r.body.toString('utf8');
  const num = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };
  return { count: num('switchyard_config_apply_seconds_count'), sumMs: num('switchyard_config_apply_seconds_sum') * 1000 };
}
