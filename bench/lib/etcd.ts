// etcd for the scale and write->served scenarios: a throwaway single-member
// etcd from test/helpers/etcd.ts (stopped by pid through the cleanup
// registry), an etcd3 client, and bulk loading of routes straight into etcd
// with txns of at most 128 puts (etcd's default --max-txn-ops) under
// `<prefix>routes/<id>`, the value being the route JSON as the admin API
// would store it.
import { Etcd3, type IRequestOp } from 'etcd3';
import { performance } from 'node:perf_hooks';
import { startEtcd, type EtcdCluster } from '../../test/helpers/etcd.js';
import type { RouteSpec, UpstreamSpec } from '../../src/resources.js';
import { onCleanup } from './cleanup.js';

export interface BenchEtcd {
  cluster: EtcdCluster;
  /** e.g. http://127.0.0.1:23456 */
  endpoint: string;
  /** `--store` value for the gateway. */
  storeUri: string;
  client: Etcd3;
  pid: number | null;
  close(): Promise<void>;
}

/** Starts one etcd member (data dir in tmp) and a client; both closed by close() or the cleanup registry. */
export async function startBenchEtcd(): Promise<BenchEtcd> {
  const cluster = await startEtcd({ members: 1, args: ['--quota-backend-bytes', String(4 * 2 ** 30)] });
  const endpoint = cluster.endpoints[0]!;
  const client = new Etcd3({ hosts: endpoint, grpcOptions: { 'grpc.max_receive_message_length': -1 } });
  const close = onCleanup(`etcd ${endpoint}`, async () => {
    client.close();
    await cluster.close();
  });
  return { cluster, endpoint, storeUri: `etcd://${endpoint.replace(/^https?:\/\//, '')}`, client, pid: cluster.members[0]!.pid, close };
}

export interface BulkResult {
  count: number;
  txns: number;
  /** performance.now() when the first txn was sent. */
  firstSentAt: number;
  /** performance.now() when the txn with the highest revision was acknowledged. */
  lastAckAt: number;
  /** Revision of the last write. */
  revision: number;
  /** lastAckAt - firstSentAt, ms. */
  writeMs: number;
}

/** Puts `entries` (key, value) in txns of `batch` puts, `concurrency` txns in flight. */
export async function bulkPut(client: Etcd3, entries: [string, string][], opts: { batch?: number; concurrency?: number } = {}): Promise<BulkResult> {
  const batch = Math.min(128, opts.batch ?? 128);
  const concurrency = opts.concurrency ?? 4;
  const chunks: [string, string][][] = [];
  for (let i = 0; i < entries.length; i += batch) chunks.push(entries.slice(i, i + batch));
  let next = 0;
  let revision = 0;
  let lastAckAt = 0;
  const firstSentAt = performance.now();
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++]!;
      const success: IRequestOp[] = chunk.map(([k, v]) => ({ request_put: { key: Buffer.from(k), value: Buffer.from(v) } }));
      const res = await client.kv.txn({ compare: [], success, failure: [] });
      const rev = Number(res.header.revision);
      if (rev > revision) {
        revision = rev;
        lastAckAt = performance.now();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, worker));
  return { count: entries.length, txns: chunks.length, firstSentAt, lastAckAt, revision, writeMs: lastAckAt - firstSentAt };
}

export function routeEntries(prefix: string, routes: RouteSpec[]): [string, string][] {
  return routes.map((r) => [`${prefix}routes/${r.id}`, JSON.stringify(r)]);
}

/** One put; resolves with its revision and the time of its acknowledgement. */
export async function putOne(client: Etcd3, key: string, value: unknown): Promise<{ revision: number; sentAt: number; ackAt: number }> {
  const sentAt = performance.now();
  const res = await client.kv.txn({ compare: [], success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(JSON.stringify(value)) } }], failure: [] });
  return { revision: Number(res.header.revision), sentAt, ackAt: performance.now() };
}

export function putUpstream(client: Etcd3, prefix: string, spec: UpstreamSpec) {
  return putOne(client, `${prefix}upstreams/${spec.name}`, spec);
}

export function putRoute(client: Etcd3, prefix: string, route: RouteSpec) {
  return putOne(client, `${prefix}routes/${route.id}`, route);
}
