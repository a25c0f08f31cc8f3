import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { StoreSnapshot } from '../control/store.js';
import { snapshotToWire, type FromWorker, type ToWorker, type WireSnapshot } from './ipc.js';
import { mergeCounters, type UpstreamCounters } from './pool-counters.js';
import { observers } from '../observe/request-observers.js';

const ASK_TIMEOUT_MS = 1000;
const RESTART_DELAY_MS = 500;

/**
 * The primary's side of `--workers N`: forks N data-plane processes (the
 * cluster module shares the listening sockets; the kernel spreads
 * connections), forwards every applied snapshot to them, restarts any that
 * dies, and gathers their pool counters and metrics for the admin API.
 */
export class WorkerPool {
  readonly #n: number;
  readonly #logger: Logger;
  readonly #workers = new Set<Worker>();
  #latest: WireSnapshot | null = null;
  #asks = new Map<number, (msg: FromWorker) => void>();
  #nextAsk = 1;
  #stopping = false;
  #firstUrls: string[] | null = null;
  #readyCount = 0;
  #readyWaiters: ((urls: string[]) => void)[] = [];
  #poll: NodeJS.Timeout | null = null;
  /** The latest merged counters of every worker. */
  counters: UpstreamCounters = {};

  constructor(n: number, logger: Logger) {
    this.#n = n;
    this.#logger = logger;
    // Let the kernel balance accepted connections: the primary's round-robin
    // would put every connection through this process.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
  }

  /** Forks the workers; resolves with the data-plane URLs once all of them listen. */
  start(): Promise<string[]> {
    for (let i = 0; i < this.#n; i++) this.#fork();
    this.#poll = setInterval(() => void this.#refreshCounters(), 250);
    this.#poll.unref();
    return new Promise((resolve) => (this.#firstUrls ? resolve(this.#firstUrls) : this.#readyWaiters.push(resolve)));
  }

  #fork(): void {
    const w = cluster.fork({ SWITCHYARD_WORKER: '1' });
    this.#workers.add(w);
    w.on('message', (msg: FromWorker) => {
      if (msg.t === 'hello') {
        if (this.#latest) this.#send(w, { t: 'snapshot', snapshot: this.#latest });
        if (this.#tapped.length) this.#send(w, { t: 'taps', routes: this.#tapped });
      } else if (msg.t === 'applied') {
        this.#applied.set(w, msg.revision);
      } else if (msg.t === 'tap') {
        observers.emit(msg.event);
      } else if (msg.t === 'ready') {
        // Start-up completes when every first-generation worker listens (each
        // has applied the table by then: it came first on the same channel).
        this.#readyCount++;
        if (!this.#firstUrls && this.#readyCount >= this.#n) {
          this.#firstUrls = msg.urls;
          for (const r of this.#readyWaiters.splice(0)) r(msg.urls);
        }
      } else {
        this.#asks.get(msg.id)?.(msg);
      }
    });
    w.on('exit', (code, signal) => {
      this.#workers.delete(w);
      this.#applied.delete(w);
      if (this.#stopping) return;
      this.#logger.error({ worker: w.id, code, signal }, 'data-plane worker died; starting another');
      setTimeout(() => this.#fork(), RESTART_DELAY_MS).unref();
    });
  }

  #send(w: Worker, msg: ToWorker): void {
    if (w.isConnected()) w.send(msg);
  }

  #tapped: string[] = [];
  readonly #applied = new Map<Worker, number>();

  /**
   * Readiness of the node: every live worker serves a table. Not "the newest
   * one": a config change must not flap /readyz while the snapshot travels.
   */
  allServing(): boolean {
    if (this.#workers.size === 0) return false;
    for (const w of this.#workers) if (!this.#applied.has(w)) return false;
    return true;
  }

  /** Tells every worker which routes the admin API taps. */
  setTaps(routes: string[]): void {
    this.#tapped = routes;
    for (const w of this.#workers) this.#send(w, { t: 'taps', routes });
  }

  /** Forwards an applied snapshot to every worker. */
  broadcast(s: StoreSnapshot): void {
    this.#latest = snapshotToWire(s);
    for (const w of this.#workers) this.#send(w, { t: 'snapshot', snapshot: this.#latest });
  }

  /** Asks every live worker; answers that do not come within a second are left out. */
  async #askAll(kind: 'counters?' | 'metrics?'): Promise<FromWorker[]> {
    const live = [...this.#workers].filter((w) => w.isConnected());
    return (
      await Promise.all(
        live.map(
          (w) =>
            new Promise<FromWorker | null>((resolve) => {
              const id = this.#nextAsk++;
              const timer = setTimeout(() => {
                this.#asks.delete(id);
                resolve(null);
              }, ASK_TIMEOUT_MS);
              this.#asks.set(id, (msg) => {
                clearTimeout(timer);
                this.#asks.delete(id);
                resolve(msg);
              });
              this.#send(w, { t: kind, id });
            }),
        ),
      )
    ).filter((m): m is FromWorker => m !== null);
  }

  async #refreshCounters(): Promise<void> {
    const answers = await this.#askAll('counters?');
    this.counters = mergeCounters(answers.flatMap((a) => (a.t === 'counters' ? [a.counters] : [])));
  }

  /** Prometheus text of the primary's registry and every worker's, aggregated. */
  async metrics(primary: Registry): Promise<string> {
    const answers = await this.#askAll('metrics?');
    const all = [await primary.getMetricsAsJSON(), ...answers.flatMap((a) => (a.t === 'metrics' ? [a.metrics] : []))];
    return AggregatorRegistry.aggregate(all as Parameters<typeof AggregatorRegistry.aggregate>[0]).metrics();
  }

  /** SIGTERM to every worker (each lets its in-flight requests finish); resolves when all exited. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#poll) clearInterval(this.#poll);
    const exits = [...this.#workers].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
    for (const w of this.#workers) w.process.kill('SIGTERM');
    const cut = setTimeout(() => {
      for (const w of this.#workers) w.process.kill('SIGKILL');
    }, graceMs + 2000);
    await Promise.all(exits);
    clearTimeout(cut);
  }
}
