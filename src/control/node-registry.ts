import { Etcd3, type Lease } from 'etcd3';
import { etcdClientOptions, type EtcdConnectOptions } from './etcd-client.js';

/** One node as every node sees it (CONTRACT §3 GET /nodes). */
export interface NodeRecord {
  id: string;
  group: string;
  /** Admin API URL. */
  address: string;
  dataPlane: string[];
  version: string;
  appliedRevision: number;
  startedAt: string;
  lastSeen: string;
  /** Per upstream and pool on this node: what the deployment gates read. */
  pools?: Record<string, Record<string, PoolStats>>;
  /**
   * In-flight requests on this node per registration marked draining
   * (`<upstream>/<pool>/<encoded origin>` -> count), present once this node
   * took it out of rotation: `switchyard register` waits for 0 on every node.
   */
  registryDrains?: Record<string, number>;
}

export interface PoolStats {
  healthy: number;
  total: number;
  inflight: number;
  /** Cumulative since the node started. */
  requests: number;
  errors: number;
}

/**
 * Where nodes announce themselves. `publish` is cheap and coalesced (it may be
 * called after every config swap); `list` returns the live nodes.
 */
export interface NodeRegistry {
  publish(record: Omit<NodeRecord, 'lastSeen'>): void;
  list(): Promise<NodeRecord[]>;
  close(): Promise<void>;
}

/** The embedded store has one node: this one. */
export class LocalNodeRegistry implements NodeRegistry {
  #record: Omit<NodeRecord, 'lastSeen'> | null = null;
  /** Fresh record on every list, when the gateway provides one. */
  constructor(readonly current: (() => Omit<NodeRecord, 'lastSeen'> | null) | null = null) {}
  publish(record: Omit<NodeRecord, 'lastSeen'>): void {
    this.#record = record;
  }
  async list(): Promise<NodeRecord[]> {
    const r = this.current?.() ?? this.#record;
    return r ? [{ ...r, lastSeen: new Date().toISOString() }] : [];
  }
  async close(): Promise<void> {}
}

export const NODE_TTL_SECONDS = 10;
/** Refresh lastSeen this often even when nothing changed. */
const HEARTBEAT_MS = 1000;
const COALESCE_MS = 100;

interface Log {
  warn(obj: object, msg: string): void;
}

/**
 * Node records under `<prefix>nodes/<id>`, attached to a lease (TTL 10 s) kept
 * alive by this process: a dead node's record vanishes within the TTL. A lost
 * lease (etcd down longer than the TTL) is replaced by a new one. close()
 * revokes the lease: client.close() alone would keep it alive (ETCD-NOTES #1).
 */
export class EtcdNodeRegistry implements NodeRegistry {
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #log: Log;
  readonly #timeoutMs: number;
  #lease: Lease | null = null;
  #record: Omit<NodeRecord, 'lastSeen'> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #writing = false;
  #dirty = false;
  #closed = false;

  constructor(connect: EtcdConnectOptions, prefix: string, log: Log) {
    this.#client = new Etcd3(etcdClientOptions(connect));
    this.#prefix = `${prefix}nodes/`;
    this.#log = log;
    this.#timeoutMs = connect.requestTimeoutMs;
  }

  publish(record: Omit<NodeRecord, 'lastSeen'>): void {
    this.#record = record;
    this.#schedule(COALESCE_MS);
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#dirty = true;
    if (this.#timer) {
      if (ms >= HEARTBEAT_MS) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => void this.#write(), ms);
    this.#timer.unref();
  }

  #newLease(): Lease {
    const lease = this.#client.lease(NODE_TTL_SECONDS, { autoKeepAlive: true });
    lease.on('lost', (err) => {
      this.#log.warn({ err: err.message }, 'node registry: lease lost; granting a new one');
      if (this.#lease === lease) this.#lease = null;
      this.#schedule(COALESCE_MS);
    });
    return lease;
  }

  async #write(): Promise<void> {
    this.#timer = null;
    if (this.#closed || !this.#record || this.#writing) return;
    this.#writing = true;
    this.#dirty = false;
    const value = JSON.stringify({ ...this.#record, lastSeen: new Date().toISOString() });
    try {
      this.#lease ??= this.#newLease();
      await this.#lease.put(this.#prefix + this.#record.id).value(value).options({ deadline: Date.now() + this.#timeoutMs }).exec();
    } catch (err) {
      this.#dirty = true;
      this.#log.warn({ err: (err as Error).message }, 'node registry: could not publish this node; retrying');
    } finally {
      this.#writing = false;
    }
    this.#schedule(this.#dirty ? 500 : HEARTBEAT_MS);
  }

  async list(): Promise<NodeRecord[]> {
    const all = await this.#client.getAll().prefix(this.#prefix).options({ deadline: Date.now() + this.#timeoutMs }).strings();
    const out: NodeRecord[] = [];
    for (const raw of Object.values(all)) {
      try {
        out.push(JSON.parse(raw) as NodeRecord);
      } catch {
        /* a foreign or torn value: not a node */
      }
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    try {
      await this.#lease?.revoke({ deadline: Date.now() + 1000 });
    } catch {
      this.#lease?.release();
    }
    this.#client.close();
  }
}
