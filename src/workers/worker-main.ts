import pino from 'pino';
import cluster from 'node:cluster';
import type { GatewayOptions } from '../config.js';
import { LocalNodeRegistry } from '../control/node-registry.js';
import { Gateway } from '../gateway.js';
import { openDataPlane } from '../proxy/open-listeners.js';
import { snapshotFromWire, type FromWorker, type ToWorker } from './ipc.js';
import { collectCounters } from './pool-counters.js';
import { PrimaryStore } from './primary-store.js';
import { observers } from '../observe/request-observers.js';
import { setupRequestSinks } from '../observe/setup.js';

/**
 * A data-plane worker (`--workers N`): compiles the snapshots its primary
 * forwards and serves them on the shared listeners. No admin API, no store
 * connection; health checks run here too, so readiness is asked locally.
 */
export async function runWorker(options: GatewayOptions): Promise<void> {
  const logger = pino({ level: options.logLevel, base: { node: options.nodeId, worker: cluster.worker?.id } });
  const store = new PrimaryStore();
  const listenPorts = new Set(options.listen.map((l) => l.port).filter((p) => p !== 0));
  const gw = new Gateway(options, { store, nodes: new LocalNodeRegistry(), lastKnownGood: null, etcd: null }, logger, listenPorts, { role: 'worker' });
  const send = (m: FromWorker) => process.send?.(m);
  const sinks = setupRequestSinks(options);
  // Taps live in the primary's admin API: forward the tapped routes' events.
  const forwarding = new Map<string, { remove(): void }>();
  const setTaps = (routes: string[]) => {
    for (const [r, tap] of forwarding) if (!routes.includes(r)) (tap.remove(), forwarding.delete(r));
    for (const r of routes) if (!forwarding.has(r)) forwarding.set(r, observers.addTap(r, { sample: 1, maxPerSecond: 1000 }, (event) => send({ t: 'tap', event })));
  };
  process.on('message', (m: ToWorker) => {
    if (m.t === 'snapshot') store.deliver(snapshotFromWire(m.snapshot));
    else if (m.t === 'counters?') send({ t: 'counters', id: m.id, counters: collectCounters(gw.generation) });
    else if (m.t === 'taps') setTaps(m.routes);
    else if (m.t === 'metrics?') void gw.metrics.getMetricsAsJSON().then((metrics) => send({ t: 'metrics', id: m.id, metrics }));
  });
  // The primary answers /readyz 200 only once every worker serves its revision.
  gw.onApplied = (s) => send({ t: 'applied', revision: s.revision });
  send({ t: 'hello' });
  // Not awaited: a primary that has no table yet (a fresh node while etcd is
  // down) must still come up — it waits for a worker before it opens the admin
  // API, and answers /readyz 503 until the table arrives. A primary that has a
  // table sends it in reply to 'hello', ahead of the listen handle on the same
  // IPC channel, so such a worker applies it before it accepts a connection.
  gw.loadAndWatch().catch((err: unknown) => {
    logger.fatal({ err }, 'data-plane worker: cannot load the routing table');
    process.exit(1);
  });
  const { urls } = await openDataPlane(gw.listeners, options, logger, listenPorts);
  send({ t: 'ready', urls });
  // The primary's death closes the IPC channel: never outlive it.
  process.on('disconnect', () => process.exit(0));
  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    void gw.close(options.graceMs).then(() => sinks.close()).then(() => process.exit(0));
  });
  process.on('SIGINT', () => {}); // the primary decides; a terminal ^C reaches the whole group
}
