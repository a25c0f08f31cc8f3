// One supervised backend process of a `process` pool: a free port, spawned
// under the watchdog (watched-child.ts), a target only once ready, restarted
// with exponential backoff when it exits on its own, stopped with TERM then
// KILL when asked.
import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { HealthCheckSpec, ProcessSource } from '../../resources.js';
import { freePort, waitReady } from './readiness-probe.js';
import { signalGroup, spawnWatched } from './watched-child.js';

export type InstanceState = 'starting' | 'ready' | 'backoff' | 'stopping' | 'stopped';

/** Restart backoff: 200 ms doubling to 30 s; reset once an instance stayed ready for 10 s. */
export const BACKOFF = { baseMs: 200, maxMs: 30_000, stableMs: 10_000 };
/** A started process that does not pass its readiness probe in this time is killed and counted as a crash. */
export const READY_TIMEOUT_MS = 60_000;
/** Crashes in a row (without 10 s of stable service) that make the pool report `crash-loop`. */
export const CRASH_LOOP_AFTER = 3;
const MAX_LINE = 8192;
/** Output lines kept per run, shown with an exit in status. */
const TAIL_LINES = 8;

/** What an instance needs from its supervisor. Read at each (re)start, so scaling and health-check edits apply. */
export interface InstanceHost {
  readonly spec: ProcessSource;
  readonly healthCheck: HealthCheckSpec | undefined;
  readonly logger: Logger;
  /** The instance became ready or stopped being ready (its target joins or leaves the pool). */
  readyChanged(): void;
}

/** The environment of a backend: the gateway's without its own SWITCHYARD_* settings (tokens, passwords), the pool's env, PORT. */
function childEnv(spec: ProcessSource, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SWITCHYARD_')) env[k] = v;
  return { ...env, ...spec.env, PORT: String(port) };
}

function describeExit(code: number | null, signal: NodeJS.Signals | null, command: string): string {
  if (signal) return `killed by ${signal}`;
  // Named here: the shell's own message may reach stderr after the exit event.
  if (code === 127) return `exited with code 127 (command not found: ${command})`;
  if (code === 126) return `exited with code 126 (command not executable: ${command})`;
  return `exited with code ${code}`;
}

export class ProcessInstance {
  readonly index: number;
  state: InstanceState = 'stopped';
  pid: number | null = null;
  port: number | null = null;
  /** Exits this instance did not ask for, ever. */
  restarts = 0;
  /** Crashes since it last served stably; drives the backoff and `crash-loop`. */
  consecutiveFailures = 0;
  lastExit: { reason: string; at: string; output: string[] } | null = null;
  /** When the pending restart happens (epoch ms), while in `backoff`. */
  restartAt = 0;

  readonly #host: InstanceHost;
  #wanted = false;
  #child: ChildProcess | null = null;
  #probe: AbortController | null = null;
  #restartTimer: NodeJS.Timeout | null = null;
  #readyTimer: NodeJS.Timeout | null = null;
  #readyAt = 0;
  #failReason: string | null = null;
  /** The last lines the current run wrote (stderr and stdout), for the exit report. */
  #tail: string[] = [];
  #exited: Promise<void> = Promise.resolve();

  constructor(index: number, host: InstanceHost) {
    this.index = index;
    this.#host = host;
  }

  /** The target URL while ready, else null. */
  get url(): string | null {
    return this.state === 'ready' && this.port !== null ? `http://127.0.0.1:${this.port}` : null;
  }

  /** Starts it (again); a no-op while it runs or waits to restart. */
  start(): void {
    if (this.#wanted) return;
    this.#wanted = true;
    void this.#spawn();
  }

  async #spawn(): Promise<void> {
    this.#restartTimer = null;
    if (!this.#wanted) return;
    this.state = 'starting';
    const spec = this.#host.spec;
    const cwd = spec.cwd ? path.resolve(spec.cwd) : undefined;
    let port: number;
    try {
      if (cwd && !statSync(cwd, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`cwd ${cwd} is not a directory`);
      port = await freePort();
    } catch (err) {
      return this.#failed((err as Error).message);
    }
    if (!this.#wanted) {
      this.state = 'stopped';
      return;
    }
    this.port = port;
    this.#tail = [];
    this.#failReason = null;
    const child = spawnWatched(spec.command, spec.args ?? [], { cwd, env: childEnv(spec, port) });
    this.#child = child;
    this.pid = child.pid ?? null;
    const log = this.#host.logger.child({ instance: this.index, pid: this.pid });
    this.#pipeLines(child.stdout!, (l) => log.info({ stream: 'stdout' }, l));
    this.#pipeLines(child.stderr!, (l) => log.warn({ stream: 'stderr' }, l));
    this.#exited = new Promise<void>((resolve) => {
      let gone = false;
      const onGone = (code: number | null, signal: NodeJS.Signals | null, err?: Error) => {
        if (gone) return;
        gone = true;
        resolve();
        this.#onExit(child, err ? `could not start: ${err.message}` : describeExit(code, signal, spec.command));
      };
      child.once('exit', (code, signal) => onGone(code, signal));
      // 'error' without a pid: the spawn itself failed and no 'exit' follows.
      child.once('error', (err) => {
        if (child.pid === undefined) onGone(null, null, err);
      });
    });
    log.info({ port, command: spec.command, args: spec.args ?? [] }, 'backend process started');
    const probe = new AbortController();
    this.#probe = probe;
    this.#readyTimer = setTimeout(() => {
      this.#failReason = `not ready within ${READY_TIMEOUT_MS} ms`;
      if (this.pid !== null) signalGroup(this.pid, 'SIGKILL');
    }, READY_TIMEOUT_MS);
    this.#readyTimer.unref();
    const ready = await waitReady('127.0.0.1', port, this.#host.healthCheck, probe.signal);
    if (!ready || this.#child !== child) return;
    clearTimeout(this.#readyTimer);
    this.#readyTimer = null;
    this.state = 'ready';
    this.#readyAt = Date.now();
    log.info({ target: this.url }, 'backend process ready: in the pool');
    this.#host.readyChanged();
  }

  #pipeLines(stream: NodeJS.ReadableStream, emit: (line: string) => void): void {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      partial += chunk;
      let i: number;
      while ((i = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, i).replace(/\r$/, '');
        partial = partial.slice(i + 1);
        if (line) this.#keep(line, emit);
      }
      if (partial.length > MAX_LINE) {
        emit(partial);
        partial = '';
      }
    });
    stream.on('end', () => {
      if (partial) this.#keep(partial, emit);
    });
  }

  #keep(line: string, emit: (line: string) => void): void {
    this.#tail.push(line.slice(0, 500));
    if (this.#tail.length > TAIL_LINES) this.#tail.shift();
    emit(line);
  }

  /** The line of the output tail that most likely says what went wrong. */
  #why(): string | null {
    for (let i = this.#tail.length - 1; i >= 0; i--) if (/error|not found|denied|cannot|can't|failed|fatal|panic/i.test(this.#tail[i]!)) return this.#tail[i]!;
    return this.#tail.at(-1) ?? null;
  }

  #onExit(child: ChildProcess, reason: string): void {
    // The app is gone; its group may still hold the watchdog and whatever the app started.
    if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    if (this.#child !== child) return; // an earlier run, stopped while a new one started
    this.#child = null;
    this.#probe?.abort();
    this.#probe = null;
    if (this.#readyTimer) clearTimeout(this.#readyTimer);
    this.#readyTimer = null;
    const wasReady = this.state === 'ready';
    if (!this.#wanted) {
      this.state = 'stopped';
      this.pid = null;
      if (wasReady) this.#host.readyChanged();
      return;
    }
    const why = this.#failReason ?? reason;
    const line = this.#why();
    this.#failed(line ? `${why}: ${line}` : why, wasReady);
  }

  /** An exit or start failure nobody asked for: back off, then start again. */
  #failed(reason: string, wasReady = false): void {
    if (this.#readyAt && Date.now() - this.#readyAt >= BACKOFF.stableMs) this.consecutiveFailures = 0;
    this.#readyAt = 0;
    this.consecutiveFailures++;
    this.restarts++;
    this.lastExit = { reason, at: new Date().toISOString(), output: this.#tail };
    const delay = Math.min(BACKOFF.maxMs, BACKOFF.baseMs * 2 ** (this.consecutiveFailures - 1));
    this.state = 'backoff';
    this.restartAt = Date.now() + delay;
    this.#host.logger.warn({ instance: this.index, pid: this.pid, reason, restarts: this.restarts, restartInMs: delay }, 'backend process failed; restarting after backoff');
    this.pid = null;
    if (wasReady) this.#host.readyChanged();
    this.#restartTimer = setTimeout(() => void this.#spawn(), delay);
  }

  /**
   * Stops it: SIGTERM to its process group, SIGKILL after `graceMs`. Resolves
   * once it has exited. The caller takes it out of the pool and waits for its
   * in-flight requests first.
   */
  async stop(graceMs: number): Promise<void> {
    this.#wanted = false;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    const child = this.#child;
    if (!child || child.pid === undefined) {
      if (this.state !== 'starting') this.state = 'stopped';
      return;
    }
    const wasReady = this.state === 'ready';
    this.state = 'stopping';
    if (wasReady) this.#host.readyChanged();
    this.#probe?.abort();
    signalGroup(child.pid, 'SIGTERM');
    const kill = setTimeout(() => {
      this.#host.logger.warn({ instance: this.index, pid: child.pid, graceMs }, 'backend process ignored SIGTERM; SIGKILL');
      signalGroup(child.pid!, 'SIGKILL');
    }, graceMs);
    await this.#exited;
    clearTimeout(kill);
  }
}
