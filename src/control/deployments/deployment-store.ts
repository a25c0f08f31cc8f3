import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { Etcd3 } from 'etcd3';
import { etcdClientOptions, isUnreachable, type EtcdConnectOptions } from '../etcd-client.js';
import { errCode, writeFileAtomic } from '../file-store-io.js';
import { ConflictError, PreconditionFailedError, StoreUnavailableError } from '../store.js';
import { TERMINAL, type Deployment } from './deployment.js';

export interface StoredDeployment {
  deployment: Deployment;
  /** Opaque write version for conditional updates. */
  revision: number;
}

/**
 * Where deployments live (CONTRACT §4: `deployments/<id>` in the store). Every
 * transition is a conditional update, so two coordinators (an old one that
 * does not know it lost the election yet, and its successor) can never both
 * apply a step.
 */
export interface DeploymentStore {
  list(): Promise<StoredDeployment[]>;
  get(id: string): Promise<StoredDeployment | null>;
  /** ConflictError when another deployment of the same upstream is still running. */
  create(d: Deployment): Promise<number>;
  /** PreconditionFailedError when it changed since `ifRevision`. */
  update(d: Deployment, ifRevision: number): Promise<number>;
  close(): Promise<void>;
}

/** The embedded store's deployments: one JSON file each, replaced atomically. */
export class FileDeploymentStore implements DeploymentStore {
  readonly #dir: string;
  /** Serialises writes: the check-then-write of create/update must not interleave. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(dir: string) {
    this.#dir = dir;
  }

  #file(id: string): string {
    return path.join(this.#dir, `${id}.json`);
  }

  async #read(id: string): Promise<StoredDeployment | null> {
    try {
      return JSON.parse(await fsp.readFile(this.#file(id), 'utf8')) as StoredDeployment;
    } catch (err) {
      if (errCode(err) === 'ENOENT') return null;
      throw err;
    }
  }

  async list(): Promise<StoredDeployment[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.#dir);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return [];
      throw err;
    }
    const all = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => this.#read(n.slice(0, -5))));
    return all.filter((d): d is StoredDeployment => d !== null);
  }

  get(id: string): Promise<StoredDeployment | null> {
    return this.#read(id);
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  create(d: Deployment): Promise<number> {
    return this.#serial(async () => {
      const running = (await this.list()).find((s) => s.deployment.upstream === d.upstream && !TERMINAL.has(s.deployment.phase));
      if (running) throw new ConflictError(`deployment ${running.deployment.id} of upstream ${d.upstream} is still ${running.deployment.phase}`);
      await fsp.mkdir(this.#dir, { recursive: true });
      await writeFileAtomic(this.#file(d.id), JSON.stringify({ deployment: d, revision: 1 }));
      return 1;
    });
  }

  update(d: Deployment, ifRevision: number): Promise<number> {
    return this.#serial(async () => {
      const cur = await this.#read(d.id);
      if (!cur || cur.revision !== ifRevision) throw new PreconditionFailedError(`deployment ${d.id} changed`, cur?.revision ?? 0);
      await writeFileAtomic(this.#file(d.id), JSON.stringify({ deployment: d, revision: ifRevision + 1 }));
      return ifRevision + 1;
    });
  }

  async close(): Promise<void> {
    await this.#queue;
  }
}

/**
 * Deployments in etcd under `<prefix>deployments/<id>`, with a lock key
 * `<prefix>deployment-locks/<upstream>` naming the running one: creating takes
 * the lock in the same txn, so two nodes racing to deploy one upstream cannot
 * both win. Revisions are etcd mod revisions.
 */
export class EtcdDeploymentStore implements DeploymentStore {
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #locks: string;
  readonly #timeoutMs: number;

  constructor(connect: EtcdConnectOptions, prefix: string) {
    this.#client = new Etcd3(etcdClientOptions(connect));
    this.#prefix = `${prefix}deployments/`;
    this.#locks = `${prefix}deployment-locks/`;
    this.#timeoutMs = connect.requestTimeoutMs;
  }

  #opts() {
    return { deadline: Date.now() + this.#timeoutMs };
  }

  async #guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof PreconditionFailedError || err instanceof ConflictError) throw err;
      if (isUnreachable(err) || /deadline/i.test(String((err as Error).message))) throw new StoreUnavailableError(`etcd unreachable (${what}): ${(err as Error).message}`);
      throw err;
    }
  }

  list(): Promise<StoredDeployment[]> {
    return this.#guard('list deployments', async () => {
      const res = await this.#client.getAll().prefix(this.#prefix).options(this.#opts()).exec();
      return res.kvs.map((kv) => ({ deployment: JSON.parse(kv.value.toString()) as Deployment, revision: Number(kv.mod_revision) }));
    });
  }

  get(id: string): Promise<StoredDeployment | null> {
    return this.#guard('get deployment', async () => {
      const res = await this.#client.get(this.#prefix + id).options(this.#opts()).exec();
      const kv = res.kvs[0];
      return kv ? { deployment: JSON.parse(kv.value.toString()) as Deployment, revision: Number(kv.mod_revision) } : null;
    });
  }

  create(d: Deployment): Promise<number> {
    return this.#guard('create deployment', async () => {
      const lock = this.#locks + d.upstream;
      for (let attempt = 0; attempt < 5; attempt++) {
        const held = await this.#client.get(lock).options(this.#opts()).string();
        if (held) {
          const other = await this.get(held);
          if (other && !TERMINAL.has(other.deployment.phase)) throw new ConflictError(`deployment ${held} of upstream ${d.upstream} is still ${other.deployment.phase}`);
        }
        const cmp = held ? this.#client.if(lock, 'Value', '==', held) : this.#client.if(lock, 'Create', '==', 0);
        const res = await cmp
          .and(this.#prefix + d.id, 'Create', '==', 0)
          .then(this.#client.put(lock).value(d.id), this.#client.put(this.#prefix + d.id).value(JSON.stringify(d)))
          .options(this.#opts())
          .commit();
        if (res.succeeded) return Number(res.header.revision);
      }
      throw new ConflictError(`another deployment of upstream ${d.upstream} was created at the same time`);
    });
  }

  update(d: Deployment, ifRevision: number): Promise<number> {
    return this.#guard('update deployment', async () => {
      const key = this.#prefix + d.id;
      const res = await this.#client.if(key, 'Mod', '==', ifRevision).then(this.#client.put(key).value(JSON.stringify(d))).options(this.#opts()).commit();
      if (!res.succeeded) throw new PreconditionFailedError(`deployment ${d.id} changed`, 0);
      return Number(res.header.revision);
    });
  }

  async close(): Promise<void> {
    this.#client.close();
  }
}
