// A throwaway etcd (one member or a three-member cluster) for tests: random
// free loopback ports, its own temp data dirs, fast elections, no ETCD_*
// environment (etcd reads every ETCD_* variable as a flag). Every process is
// tracked by pid and killed by close(), and by a process 'exit' hook if a test
// run dies before close() ran.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface EtcdMember {
  readonly name: string;
  /** Pid of the running process (changes on restart); null while it is down. */
  readonly pid: number | null;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
}

export interface EtcdCluster {
  /** Client URLs of every member, e.g. http://127.0.0.1:23456 */
  readonly endpoints: string[];
  readonly members: readonly EtcdMember[];
  /** Signals member i and, for killing signals, waits until it has exited. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts member i again on the same ports and data dir (killing it first if it still runs); waits until healthy. */
  restart(i: number): Promise<void>;
  /** SIGSTOP: the process hangs, its sockets stay open. */
  stop(i: number): void;
  /** SIGCONT after stop(). */
  cont(i: number): void;
  /** Compacts (physically) at the current revision; resolves with that revision. */
  compact(): Promise<number>;
  /** The current store revision (a linearizable read through a healthy member). */
  revision(): Promise<number>;
  /** Index of the current leader, asked of every running member that answers. */
  leader(): Promise<number>;
  /** Output of member i (last 64 KiB), for failure messages. */
  output(i: number): string;
  /** Kills every process by pid and removes the data dirs. Safe to call twice. */
  close(): Promise<void>;
}

export interface StartEtcdOptions {
  members?: 1 | 3;
  /** Extra etcd flags for every member, e.g. ['--auth-token-ttl', '1']. */
  args?: string[];
  /** Time allowed to become healthy. Default 20 s. */
  timeoutMs?: number;
}

const ETCD_BIN = process.env.SWITCHYARD_TEST_ETCD ?? 'etcd';
const OUTPUT_CAP = 64 * 1024;

/** Every live child of every cluster in this process, killed on exit as a last resort. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        if (c.pid) process.kill(c.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

const usedPorts = new Set<number>();
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
/** A port in 20000–32000 that is free right now and not handed out before by this process. */
async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12001);
    if (usedPorts.has(port)) continue;
    usedPorts.add(port);
    if (await canBind(port)) return port;
  }
  throw new Error('startEtcd: no free port found in 20000-32000');
}

/** Environment for etcd: ours minus every ETCD_* variable (ETCD-NOTES #15). */
function etcdEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('ETCD_')) env[k] = v;
  return env;
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: unknown };
    return res.ok && (body.health === 'true' || body.health === true);
  } catch {
    return false;
  }
}

interface MemberState {
  name: string;
  clientPort: number;
  peerPort: number;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  child: ChildProcess | null;
  exited: Promise<void>;
  out: string;
}

export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdCluster> {
  installExitHook();
  const count = opts.members ?? 1;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const root = mkdtempSync(path.join(tmpdir(), 'switchyard-etcd-'));
  const token = `switchyard-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
  // Single member: fastest possible elections (healthy in ~50 ms). Three
  // members share few CPUs with the tests, so give heartbeats more slack.
  const timing = count === 1 ? ['--heartbeat-interval', '10', '--election-timeout', '100'] : ['--heartbeat-interval', '25', '--election-timeout', '250'];

  const members: MemberState[] = [];
  for (let i = 0; i < count; i++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    members.push({
      name: `m${i}`,
      clientPort,
      peerPort,
      clientUrl: `http://127.0.0.1:${clientPort}`,
      peerUrl: `http://127.0.0.1:${peerPort}`,
      dataDir: path.join(root, `m${i}`),
      child: null,
      exited: Promise.resolve(),
      out: '',
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');

  const launch = (m: MemberState) => {
    const args = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl,
      '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl,
      '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new', // ignored once the data dir holds a WAL (restart)
      '--initial-cluster-token', token,
      ...timing,
      '--logger', 'zap',
      '--log-level', 'warn',
      ...(opts.args ?? []),
    ];
    const child = spawn(ETCD_BIN, args, { env: etcdEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const append = (b: Buffer) => {
      m.out += b.toString('utf8');
      if (m.out.length > OUTPUT_CAP) m.out = m.out.slice(-OUTPUT_CAP);
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    m.child = child;
    live.add(child);
    m.exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        append(Buffer.from(`\nspawn ${ETCD_BIN} failed: ${err.message}\n`));
        live.delete(child);
        resolve();
      });
      child.once('exit', () => {
        live.delete(child);
        resolve();
      });
    });
  };

  const running = (m: MemberState) => !!m.child && m.child.exitCode === null && m.child.signalCode === null;

  const waitHealthy = async (list: MemberState[]) => {
    const deadline = Date.now() + timeoutMs;
    const pending = new Set(list);
    while (pending.size) {
      for (const m of [...pending]) {
        if (!running(m)) throw new Error(`etcd member ${m.name} exited during start:\n${m.out.slice(-4000)}`);
        if (await healthy(m.clientUrl)) pending.delete(m);
      }
      if (!pending.size) break;
      if (Date.now() > deadline) {
        throw new Error(`etcd member(s) ${[...pending].map((m) => m.name).join(', ')} not healthy after ${timeoutMs} ms:\n${[...pending].map((m) => m.out.slice(-4000)).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 15));
    }
  };

  const killMember = async (m: MemberState, signal: NodeJS.Signals) => {
    const c = m.child;
    if (!c || !running(m)) return;
    try {
      if (c.pid) process.kill(c.pid, signal);
    } catch {
      /* gone */
    }
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') {
      if (signal !== 'SIGKILL') {
        // A stopped process cannot act on SIGTERM: wake it.
        try {
          if (c.pid) process.kill(c.pid, 'SIGCONT');
        } catch {
          /* gone */
        }
      }
      await m.exited;
    }
  };

  let closing: Promise<void> | null = null;
  const member = (i: number) => {
    const m = members[i];
    if (!m) throw new RangeError(`no etcd member ${i} (cluster of ${members.length})`);
    return m;
  };
  const anyHealthyUrl = async (): Promise<string> => {
    for (const m of members) if (running(m) && (await healthy(m.clientUrl))) return m.clientUrl;
    throw new Error('no healthy etcd member');
  };
  /** etcd's JSON gateway (/v3/...), so the harness needs no client library. */
  const gw = async (pathname: string, body: object): Promise<any> => {
    const url = await anyHealthyUrl();
    const res = await fetch(`${url}${pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`etcd ${pathname}: HTTP ${res.status} ${text}`);
    return JSON.parse(text);
  };
  const revision = async () => {
    const r = await gw('/v3/kv/range', { key: Buffer.from('\0').toString('base64'), limit: 1, count_only: true });
    return Number(r.header.revision);
  };

  const cluster: EtcdCluster = {
    endpoints: members.map((m) => m.clientUrl),
    members: members.map((m) => ({
      name: m.name,
      get pid() {
        return running(m) ? (m.child!.pid ?? null) : null;
      },
      clientUrl: m.clientUrl,
      peerUrl: m.peerUrl,
      dataDir: m.dataDir,
    })),
    kill: (i, signal = 'SIGKILL') => killMember(member(i), signal),
    async restart(i) {
      const m = member(i);
      await killMember(m, 'SIGKILL');
      launch(m);
      await waitHealthy([m]);
    },
    stop(i) {
      const m = member(i);
      if (running(m)) process.kill(m.child!.pid!, 'SIGSTOP');
    },
    cont(i) {
      const m = member(i);
      if (running(m)) process.kill(m.child!.pid!, 'SIGCONT');
    },
    async compact() {
      const rev = await revision();
      await gw('/v3/kv/compaction', { revision: String(rev), physical: true });
      return rev;
    },
    revision,
    async leader() {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (const m of members) {
          if (!running(m)) continue;
          try {
            const res = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
            const st = (await res.json()) as { leader?: string; header?: { member_id?: string } };
            if (!st.leader || st.leader === '0') continue;
            // Which member is the leader: ask each for its own id.
            for (let j = 0; j < members.length; j++) {
              const o = members[j]!;
              if (!running(o)) continue;
              const r = await fetch(`${o.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(1000) });
              const s2 = (await r.json()) as { header?: { member_id?: string } };
              if (s2.header?.member_id === st.leader) return j;
            }
          } catch {
            /* member not answering: ask the next */
          }
        }
        if (Date.now() > deadline) throw new Error('etcd: no leader found');
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    output: (i) => member(i).out,
    close() {
      closing ??= (async () => {
        await Promise.all(members.map((m) => killMember(m, 'SIGKILL')));
        rmSync(root, { recursive: true, force: true });
      })();
      return closing;
    },
  };

  try {
    for (const m of members) launch(m);
    await waitHealthy(members);
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}
