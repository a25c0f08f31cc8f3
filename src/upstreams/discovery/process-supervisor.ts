// `process` pools (CONTRACT §2): every node of the pool's `groups` runs
// `instances` copies of the command, each on its own free port, each a target
// of this node only. The supervisor keeps the instance count, publishes the
// ready ones as the pool's targets, and stops instances the safe way: out of
// the pool first, then their in-flight requests finish, then SIGTERM, then
// SIGKILL after a grace.
import type { HealthCheckSpec, ProcessSource } from '../../resources.js';
import type { PoolState } from '../pool-runtime.js';
import { CRASH_LOOP_AFTER, ProcessInstance, type InstanceHost } from './process-instance.js';
import type { SourceContext, SourceSettings, SourceStatus, TargetSource } from './target-source.js';

/** SIGTERM -> SIGKILL grace for a backend being stopped. */
export const STOP_GRACE_MS = 5000;
export class ProcessSupervisor implements TargetSource {
  targets: readonly string[] = [];
  readonly draining: readonly string[] = [];
  readonly #ctx: SourceContext;
  readonly #group: string;
  #spec: ProcessSource;
  #healthCheck: HealthCheckSpec | undefined = undefined;
  #drainTimeoutMs = 30_000;
  #instances: ProcessInstance[] = [];
  /** Instances on their way out (scale-down, drain, close). */
  readonly #retiring = new Set<Promise<void>>();
  /** The pool was flipped away and drained on this node: its processes stop until it takes traffic again. */
  #stoppedByDrain = false;
  #closed = false;
  readonly #host: InstanceHost;

  constructor(ctx: SourceContext, spec: ProcessSource, group: string) {
    this.#ctx = ctx;
    this.#spec = spec;
    this.#group = group;
    const self = this;
    const logger = ctx.logger.child({ upstream: ctx.upstream, pool: ctx.pool });
    this.#host = {
      get spec() {
        return self.#spec;
      },
      get healthCheck() {
        return self.#healthCheck;
      },
      logger,
      readyChanged: () => this.#publish(),
    };
    if (!this.#inGroup) logger.info({ group, groups: spec.groups }, 'process pool: this node is not in its groups; no processes here');
  }

  get #inGroup(): boolean {
    return this.#spec.groups === undefined || this.#spec.groups.includes(this.#group);
  }

  get #desired(): number {
    if (this.#closed || this.#stoppedByDrain || !this.#inGroup) return 0;
    return this.#spec.instances ?? 1;
  }

  get settled(): boolean {
    return this.targets.length >= this.#desired;
  }

  update(settings: SourceSettings): void {
    if (this.#closed || !settings.spec.process) return;
    this.#spec = settings.spec.process;
    this.#healthCheck = settings.healthCheck;
    this.#drainTimeoutMs = settings.drainTimeoutMs;
    this.#reconcile();
  }

  onPoolState(state: PoolState): void {
    if (state === 'drained' && !this.#stoppedByDrain) {
      this.#stoppedByDrain = true;
      this.#ctx.logger.info({ upstream: this.#ctx.upstream, pool: this.#ctx.pool }, 'process pool drained: stopping its processes');
      this.#reconcile();
    } else if ((state === 'active' || state === 'flooding') && this.#stoppedByDrain) {
      this.#stoppedByDrain = false;
      this.#ctx.logger.info({ upstream: this.#ctx.upstream, pool: this.#ctx.pool }, 'process pool takes traffic again: starting its processes');
      this.#reconcile();
    }
  }

  /** Starts or retires instances until the count matches the desired one (highest index leaves first). */
  #reconcile(): void {
    const want = this.#desired;
    while (this.#instances.length < want) {
      const inst = new ProcessInstance(this.#instances.length, this.#host);
      this.#instances.push(inst);
      inst.start();
    }
    let removed = false;
    while (this.#instances.length > want) {
      this.#retire(this.#instances.pop()!);
      removed = true;
    }
    if (removed) this.#publish();
  }

  #retire(inst: ProcessInstance): void {
    // Asked now, before the swap that drops this instance's target from the node.
    const idle = inst.url ? this.#ctx.waitIdle(inst.url, this.#drainTimeoutMs) : Promise.resolve();
    const p = (async () => {
      await idle;
      await inst.stop(STOP_GRACE_MS);
    })().finally(() => this.#retiring.delete(p));
    this.#retiring.add(p);
  }

  /** Recomputes the ready set; tells the gateway when it changed. */
  #publish(): void {
    const next = this.#instances.map((i) => i.url).filter((u): u is string => u !== null);
    if (next.length === this.targets.length && next.every((u, i) => u === this.targets[i])) return;
    this.targets = next;
    if (!this.#closed) this.#ctx.changed();
  }

  status(): SourceStatus {
    const ready = this.targets.length;
    const desired = this.#desired;
    const failing = this.#instances.filter((i) => i.state !== 'ready' && i.consecutiveFailures > 0 && i.lastExit);
    let state: string;
    if (this.#closed) state = 'stopping';
    else if (!this.#inGroup) state = 'not-in-group';
    else if (this.#stoppedByDrain) state = this.#retiring.size ? 'stopping' : 'stopped';
    else if (failing.some((i) => i.consecutiveFailures >= CRASH_LOOP_AFTER)) state = 'crash-loop';
    else if (ready >= desired) state = 'running';
    else state = 'starting';
    const newest = failing.sort((a, b) => (a.lastExit!.at < b.lastExit!.at ? 1 : -1))[0];
    const now = Date.now();
    return {
      kind: 'process',
      state,
      error: newest ? `instance ${newest.index}: ${newest.lastExit!.reason}` : null,
      desired,
      ready,
      restarts: this.#instances.reduce((n, i) => n + i.restarts, 0),
      stopping: this.#retiring.size,
      group: this.#group,
      instances: this.#instances.map((i) => ({
        instance: i.index,
        state: i.state,
        pid: i.pid,
        port: i.port,
        target: i.url,
        restarts: i.restarts,
        lastExit: i.lastExit,
        ...(i.state === 'backoff' ? { restartInMs: Math.max(0, i.restartAt - now) } : {}),
      })),
    };
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#reconcile();
    }
    await Promise.all([...this.#retiring]);
  }
}
