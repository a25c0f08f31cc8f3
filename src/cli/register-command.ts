// `switchyard register` (CONTRACT §4): self-registration of one target in a
// `registry` pool, for backends the gateway does not start itself (pods).
//
//   - Puts `<prefix>registry/<upstream>/<pool>/<encoded origin>` on a lease
//     (TTL --ttl, default 10 s) and keeps the lease alive. If the lease is
//     lost (etcd away for longer than 2 x TTL, ETCD-NOTES #16), a new one is
//     granted and the key written again.
//   - SIGTERM/SIGINT (the Kubernetes preStop pattern): rewrite the value with
//     `"draining": true`, so every node takes the target out of rotation;
//     wait until every live node reports 0 requests in flight to it, or
//     --drain-timeout-ms; then delete the key, revoke the lease and exit 0.
//     A second signal skips the wait.
//   - SIGKILL: nothing runs; the lease expires and the target vanishes from
//     every node within the TTL.
//
// Why the node records: each node already keeps a leased record under
// `<prefix>nodes/` (refreshed every second) that this command can read from
// etcd with the client it has anyway. A node adds `registryDrains` to it for
// every draining registration it has applied, with its in-flight count. So
// the registrar needs no route to the nodes' admin APIs (which listen on
// loopback by default and may need a token), and a node that dies drops out
// of the wait when its record expires. A node reports an id only after its
// swap took the target out of rotation, so a 0 cannot race a new request.
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Etcd3, type Lease } from 'etcd3';
import { etcdClientOptions } from '../control/etcd-client.js';
import type { NodeRecord } from '../control/node-registry.js';
import { etcdConnectOptions } from '../control/open-store.js';
import { ID_RE } from '../resources.js';
import { REGISTRY_DIR, registryId, targetOrigin } from '../upstreams/discovery/registry-keys.js';

interface RegisterOptions {
  store: string;
  prefix: string;
  upstream: string;
  pool: string;
  target: string;
  ttl: number;
  drainTimeoutMs: number;
  doneFile?: string;
}

const POLL_MS = 100;

function intIn(min: number, max: number, what: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`${what} from ${min} to ${max}`);
    return Number(v);
  };
}

function idArg(what: string) {
  return (v: string): string => {
    if (!ID_RE.test(v)) throw new InvalidArgumentError(`not a valid ${what} name (a-z, 0-9, ".", "_", "-")`);
    return v;
  };
}

const say = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function registerRegisterCommand(program: Command): void {
  program
    .command('register')
    .description('register a target in a registry pool (leased key); on SIGTERM drain it on every node, then deregister')
    .addOption(new Option('--store <uri>', 'etcd://H:P[,H:P...] (or etcds://)').env('SWITCHYARD_STORE').makeOptionMandatory())
    .addOption(new Option('--prefix <p>', 'etcd key prefix').env('SWITCHYARD_PREFIX').default('/switchyard/'))
    .requiredOption('--upstream <name>', 'upstream of the registry pool', idArg('upstream'))
    .requiredOption('--pool <name>', 'the registry pool', idArg('pool'))
    .requiredOption('--target <url>', 'this backend, e.g. http://$POD_IP:3000', (v) => {
      try {
        return targetOrigin(v);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
    })
    .addOption(new Option('--ttl <seconds>', 'lease TTL: how long the target outlives a killed registrar').default(10).argParser(intIn(2, 3600, 'seconds')))
    .addOption(new Option('--drain-timeout-ms <ms>', 'on SIGTERM, longest wait for in-flight requests to reach 0 on every node').default(30000).argParser(intIn(0, 3_600_000, 'milliseconds')))
    .option('--done-file <file>', 'written once the target is deregistered (a preStop hook of the backend can wait for it)')
    .action(async (opts: RegisterOptions) => {
      if (!/^etcds?:\/\//i.test(opts.store)) {
        process.stderr.write(`switchyard register: --store must be an etcd:// URI (registry pools need etcd): ${opts.store}\n`);
        process.exit(2);
      }
      if (!opts.prefix.startsWith('/') || !opts.prefix.endsWith('/')) {
        process.stderr.write(`switchyard register: --prefix "${opts.prefix}" must start and end with "/"\n`);
        process.exit(2);
      }
      try {
        process.exit(await new Registrar(opts).run());
      } catch (err) {
        process.stderr.write(`switchyard register: ${(err as Error).message}\n`);
        process.exit(1);
      }
    });
}

class Registrar {
  readonly #o: RegisterOptions;
  readonly #client: Etcd3;
  readonly #id: string;
  readonly #key: string;
  readonly #deadlineMs: number;
  #lease: Lease | null = null;
  #draining = false;
  #signals = 0;
  #wake: (() => void) | null = null;

  constructor(o: RegisterOptions) {
    this.#o = o;
    const connect = etcdConnectOptions(o.store);
    this.#deadlineMs = connect.requestTimeoutMs;
    this.#client = new Etcd3(etcdClientOptions(connect));
    this.#id = registryId(o.upstream, o.pool, o.target);
    this.#key = `${o.prefix}${REGISTRY_DIR}${this.#id}`;
  }

  #value(): string {
    return JSON.stringify({ target: this.#o.target, upstream: this.#o.upstream, pool: this.#o.pool, draining: this.#draining, pid: process.pid, at: new Date().toISOString() });
  }

  #newLease(): Lease {
    const lease = this.#client.lease(this.#o.ttl, { autoKeepAlive: true });
    lease.on('lost', (err) => {
      if (this.#lease !== lease) return;
      process.stderr.write(`switchyard register: lease lost (${err.message}); granting a new one\n`);
      this.#lease = null;
      void this.#write().catch(() => {});
    });
    return lease;
  }

  /** Writes the key on the (current or a new) lease; retried until it lands or a signal arrives. */
  async #write(): Promise<void> {
    let backoff = 100;
    for (;;) {
      try {
        this.#lease ??= this.#newLease();
        await this.#lease.put(this.#key).value(this.#value()).options({ deadline: Date.now() + this.#deadlineMs }).exec();
        return;
      } catch (err) {
        if (this.#signals > 0 && !this.#draining) throw new Error('stopped before the registration landed');
        process.stderr.write(`switchyard register: cannot write ${this.#key}: ${(err as Error).message}; retrying\n`);
        if (this.#lease) {
          this.#lease.release(); // a lease that failed its grant is dead; start over
          this.#lease = null;
        }
        await sleep(backoff);
        backoff = Math.min(2000, backoff * 2);
      }
    }
  }

  async run(): Promise<number> {
    let stopped!: () => void;
    const stop = new Promise<void>((r) => (stopped = r));
    const onSignal = (sig: string) => {
      this.#signals++;
      if (this.#signals === 1) say(`${sig}: draining ${this.#o.target}`);
      else say(`${sig} again: deregistering now`);
      stopped();
      this.#wake?.();
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));

    await this.#write();
    say(`registered ${this.#o.target} in ${this.#o.upstream}/${this.#o.pool} (key ${this.#key}, lease ttl ${this.#o.ttl} s)`);
    await stop;

    this.#draining = true;
    await this.#write();
    const t0 = Date.now();
    const drained = await this.#waitDrained(t0 + this.#o.drainTimeoutMs);
    if (drained) say(`no request in flight on any node after ${Date.now() - t0} ms`);
    else say(`drain wait ended after ${Date.now() - t0} ms (${this.#signals > 1 ? 'second signal' : `--drain-timeout-ms ${this.#o.drainTimeoutMs}`}); deregistering anyway`);
    await this.#deregister();
    if (this.#o.doneFile) writeFileSync(this.#o.doneFile, `${new Date().toISOString()} deregistered ${this.#o.target}\n`);
    say(`deregistered ${this.#o.target}`);
    return 0;
  }

  /** Polls the node records until every live node reports 0 in flight for this registration. */
  async #waitDrained(deadline: number): Promise<boolean> {
    let last = '';
    while (Date.now() < deadline && this.#signals < 2) {
      let nodes: NodeRecord[] = [];
      try {
        const all = await this.#client.getAll().prefix(`${this.#o.prefix}nodes/`).options({ deadline: Date.now() + this.#deadlineMs }).strings();
        for (const raw of Object.values(all)) {
          try {
            nodes.push(JSON.parse(raw) as NodeRecord);
          } catch {
            /* not a node record */
          }
        }
      } catch (err) {
        nodes = [];
        process.stderr.write(`switchyard register: cannot read the node records: ${(err as Error).message}\n`);
        await this.#pause(POLL_MS);
        continue;
      }
      const waiting = nodes.filter((n) => n.registryDrains?.[this.#id] !== 0);
      if (!waiting.length) return true;
      const line = waiting.map((n) => `${n.id}: ${n.registryDrains?.[this.#id] ?? 'not yet out of rotation'}`).join(', ');
      if (line !== last) say(`waiting for in-flight requests to finish: ${line}`);
      last = line;
      await this.#pause(POLL_MS);
    }
    return false;
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #deregister(): Promise<void> {
    const lease = this.#lease;
    this.#lease = null; // a 'lost' from here on must not re-register
    try {
      await this.#client.delete().key(this.#key).options({ deadline: Date.now() + this.#deadlineMs }).exec();
    } catch (err) {
      process.stderr.write(`switchyard register: delete failed (${(err as Error).message}); the lease will expire it within ${this.#o.ttl} s\n`);
    }
    try {
      await lease?.revoke({ deadline: Date.now() + 1000 });
    } catch {
      lease?.release(); // client.close() alone would keep the lease alive (ETCD-NOTES #1)
    }
    this.#client.close();
  }
}
