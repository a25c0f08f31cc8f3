import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { GatewayOptions } from '../config.js';
import type { EtcdConnectOptions } from './etcd-client.js';
import { EtcdStore, parseEtcdUri } from './etcd-store.js';
import { FileStore } from './file-store.js';
import { LastKnownGood } from './last-known-good.js';
import { EtcdNodeRegistry, LocalNodeRegistry, type NodeRegistry } from './node-registry.js';
import type { Store } from './store.js';
import { EtcdDeploymentStore, FileDeploymentStore, type DeploymentStore } from './deployments/deployment-store.js';
import { EtcdElection, LocalElection, type Election } from './deployments/election.js';

export interface OpenedStore {
  store: Store;
  nodes: NodeRegistry;
  deployments: DeploymentStore;
  election: Election;
  /** Local copy of the last applied table; only for remote stores. */
  lastKnownGood: LastKnownGood | null;
  /** How to reach etcd, for the node's other etcd clients (the registry watch); null for the file store. */
  etcd: EtcdConnectOptions | null;
}

function readFileEnv(name: string): Buffer | undefined {
  const file = process.env[name];
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${name}=${file}: ${(err as Error).message}`);
  }
}

/**
 * Connection settings for an etcd:// or etcds:// store URI: endpoints from
 * the URI; credentials, TLS files and the request timeout from
 * SWITCHYARD_ETCD_*. Shared by the gateway and `switchyard register`.
 */
export function etcdConnectOptions(uri: string): EtcdConnectOptions {
  const { endpoints, tls } = parseEtcdUri(uri);
  const user = process.env.SWITCHYARD_ETCD_USER;
  const password = process.env.SWITCHYARD_ETCD_PASSWORD;
  if ((user === undefined) !== (password === undefined)) throw new Error('set both SWITCHYARD_ETCD_USER and SWITCHYARD_ETCD_PASSWORD, or neither');
  const auth = user !== undefined ? { username: user, password: password! } : undefined;
  const tlsFiles = tls ? { ca: readFileEnv('SWITCHYARD_ETCD_CA'), cert: readFileEnv('SWITCHYARD_ETCD_CERT'), key: readFileEnv('SWITCHYARD_ETCD_KEY') } : undefined;
  const timeout = Number(process.env.SWITCHYARD_ETCD_TIMEOUT_MS ?? 3000);
  if (!Number.isInteger(timeout) || timeout < 100 || timeout > 60000) throw new Error('SWITCHYARD_ETCD_TIMEOUT_MS must be milliseconds from 100 to 60000');
  return { endpoints, tls: tlsFiles, auth, requestTimeoutMs: timeout };
}

/** The Store named by --store, with its node registry and last-known-good file. */
export async function openStore(options: GatewayOptions, logger: Logger): Promise<OpenedStore> {
  if (options.store.startsWith('file:')) {
    const store = await FileStore.open(options.store.slice('file:'.length), { logger });
    const deployments = new FileDeploymentStore(path.join(store.dir, 'deployments'));
    return { store, nodes: new LocalNodeRegistry(), deployments, election: new LocalElection(), lastKnownGood: null, etcd: null };
  }
  const connect = etcdConnectOptions(options.store);
  const { endpoints, tls: tlsFiles, auth, requestTimeoutMs: timeout } = connect;
  const store = await EtcdStore.open({ endpoints, prefix: options.prefix, tls: tlsFiles, auth, requestTimeoutMs: timeout, logger });
  const nodes = new EtcdNodeRegistry(connect, options.prefix, logger);
  const deployments = new EtcdDeploymentStore(connect, options.prefix);
  const election = new EtcdElection(connect, options.prefix, options.nodeId, logger);
  // One file per cluster and prefix, so one state dir can serve several.
  const tag = createHash('sha256').update(`${endpoints.join(',')}|${options.prefix}`).digest('hex').slice(0, 12);
  const lastKnownGood = new LastKnownGood(path.join(options.stateDir, `last-known-good-${tag}.json`), logger);
  return { store, nodes, deployments, election, lastKnownGood, etcd: connect };
}
