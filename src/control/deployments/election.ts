import { Etcd3, type Campaign } from 'etcd3';
import { etcdClientOptions, type EtcdConnectOptions } from '../etcd-client.js';

/** Which node drives deployments. */
export interface Election {
  /** True while this node is the elected coordinator. */
  readonly isLeader: boolean;
  close(): Promise<void>;
}

/** The embedded store has one node, which elects itself. */
export class LocalElection implements Election {
  readonly isLeader = true;
  async close(): Promise<void> {}
}

/** Election lease TTL: a crashed coordinator is replaced within this (ETCD-NOTES #2: default would be 60 s). */
export const ELECTION_TTL_SECONDS = 5;

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * etcd's election API (a leased key per candidate; the oldest wins). A
 * campaign whose lease is lost (etcd unreachable longer than the TTL) ends
 * with 'error': this node stops leading and campaigns again. close() resigns,
 * so a clean shutdown hands over in milliseconds (client.close() alone would
 * keep the lease alive: ETCD-NOTES #1).
 */
export class EtcdElection implements Election {
  readonly #client: Etcd3;
  readonly #name: string;
  readonly #nodeId: string;
  readonly #log: Log;
  #campaign: Campaign | null = null;
  #leader = false;
  #closed = false;

  constructor(connect: EtcdConnectOptions, prefix: string, nodeId: string, log: Log) {
    this.#client = new Etcd3(etcdClientOptions(connect));
    this.#name = `${prefix}coordinator`;
    this.#nodeId = nodeId;
    this.#log = log;
    this.#run();
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  #run(): void {
    if (this.#closed) return;
    const c = this.#client.election(this.#name, ELECTION_TTL_SECONDS).campaign(this.#nodeId);
    this.#campaign = c;
    c.on('elected', () => {
      if (this.#campaign !== c) return;
      this.#leader = true;
      this.#log.info({ node: this.#nodeId }, 'elected coordinator');
    });
    c.on('error', (err: Error) => {
      if (this.#campaign !== c) return;
      if (this.#leader) this.#log.warn({ err: err.message }, 'coordinator campaign lost; campaigning again');
      this.#leader = false;
      this.#campaign = null;
      setTimeout(() => this.#run(), 500).unref();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#leader = false;
    const c = this.#campaign;
    this.#campaign = null;
    try {
      await Promise.race([c?.resign(), new Promise((r) => setTimeout(r, 1000))]);
    } catch {
      /* the lease expires within the TTL anyway */
    }
    this.#client.close();
  }
}
