// Process spawner: starts a child (optionally pinned with `taskset -c`), waits
// until its output shows every "ready" pattern (or a probe succeeds), and stops
// it by pid: SIGTERM, then SIGKILL after a grace period. Every live child is
// tracked so run.ts can stop all of them in a finally block or on SIGINT.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SpawnOptions {
  /** Label for messages. */
  name: string;
  command: string;
  args: string[];
  /** Every pattern must match the output so far; the matches are returned. */
  ready?: RegExp[];
  /** Alternative/extra readiness check, polled every 50 ms after the patterns matched. */
  probe?: () => Promise<boolean>;
  /** CPU to pin the process (and its threads and children) to, via `taskset -c`. */
  cpu?: number | null;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

export interface Spawned {
  readonly name: string;
  readonly pid: number;
  /** One match per `ready` pattern, in order. */
  readonly matches: RegExpExecArray[];
  output(): string;
  readonly exited: boolean;
  /** SIGTERM to the pid, SIGKILL after `graceMs`; resolves once it exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Map<number, Spawned>();

/** Stops every child still running (in parallel); never throws. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live.values()].map((p) => p.stop().catch(() => undefined)));
}

/** Pids of children still running, for diagnostics. */
export function livePids(): number[] {
  return [...live.keys()];
}

let tasksetChecked: boolean | null = null;
export function hasTaskset(): boolean {
  if (tasksetChecked === null) {
    const r = spawnSync('taskset', ['--version'], { stdio: 'ignore' });
    tasksetChecked = r.status === 0;
  }
  return tasksetChecked;
}

/** Pins this process and its threads to `cpus` (taskset list: '0', '0-1'). */
export function pinSelf(cpus: number | string): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpus), String(process.pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset -a -p -c ${cpus} ${process.pid} failed: ${r.stderr}`);
}

const KEEP = 64 * 1024;

export async function startProcess(opts: SpawnOptions): Promise<Spawned> {
  const pinned = opts.cpu !== undefined && opts.cpu !== null;
  // taskset execs the command, so the child's pid is the command's pid.
  const [cmd, args] = pinned ? ['taskset', ['-c', String(opts.cpu), opts.command, ...opts.args]] : [opts.command, opts.args];
  const child: ChildProcess = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    // spawn failure is reported through 'error'; wait for it.
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`${opts.name}: could not start ${cmd}: ${err.message}`);
  }
  const pid = child.pid;
  let head = '';
  let tail = '';
  const onOut = (d: string) => {
    if (head.length < KEEP) head += d;
    else tail = (tail + d).slice(-KEEP);
  };
  child.stdout!.setEncoding('utf8').on('data', onOut);
  child.stderr!.setEncoding('utf8').on('data', onOut);
  const output = () => head + (tail ? `\n[...]\n${tail}` : '');

  let exitedFlag = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exitedFlag = true;
      live.delete(pid);
      resolve();
    }),
  );
  child.once('error', () => undefined);

  const proc: Spawned = {
    name: opts.name,
    pid,
    matches: [],
    output,
    get exited() {
      return exitedFlag;
    },
    async stop(graceMs = 3000) {
      if (exitedFlag) return;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, graceMs);
      await exited;
      clearTimeout(t);
    },
  };
  live.set(pid, proc);

  const timeoutMs = opts.timeoutMs ?? 15000;
  const deadline = Date.now() + timeoutMs;
  try {
    const patterns = opts.ready ?? [];
    for (;;) {
      // 'exit' may come before the last output is read: look at the output first,
      // and once more shortly after an exit.
      const wasExited = exitedFlag;
      if (wasExited) await sleep(50);
      const text = head;
      const found = patterns.map((re) => re.exec(text));
      if (found.every((m) => m !== null)) {
        proc.matches.push(...(found as RegExpExecArray[]));
        break;
      }
      if (wasExited) throw new Error(`${opts.name} (pid ${pid}) exited before it was ready:\n${output()}`);
      if (Date.now() > deadline) throw new Error(`${opts.name} (pid ${pid}) not ready within ${timeoutMs} ms:\n${output()}`);
      await Promise.race([sleep(20), exited]);
    }
    if (opts.probe) {
      for (;;) {
        if (exitedFlag) throw new Error(`${opts.name} (pid ${pid}) exited before it was ready:\n${output()}`);
        if (await opts.probe().catch(() => false)) break;
        if (Date.now() > deadline) throw new Error(`${opts.name} (pid ${pid}) readiness probe failed for ${timeoutMs} ms:\n${output()}`);
        await sleep(50);
      }
    }
  } catch (err) {
    await proc.stop(500);
    throw err;
  }
  return proc;
}
