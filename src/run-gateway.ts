import cluster from 'node:cluster';
import pino from 'pino';
import type { GatewayOptions } from './config.js';
import { startAdminApi } from './control/admin-api.js';
import { registerDeploymentEndpoints } from './control/admin-deployments.js';
import { registerNodeEndpoints } from './control/admin-nodes.js';
import { registerUpstreamActions } from './control/admin-upstream-actions.js';
import { registerDashboard } from './control/dashboard/dashboard.js';
import { Coordinator } from './control/deployments/coordinator.js';
import { openStore, type OpenedStore } from './control/open-store.js';
import { Gateway } from './gateway.js';
import { openDataPlane } from './proxy/open-listeners.js';
import { runWorker } from './workers/worker-main.js';
import { registerTapEndpoint } from './control/admin-tap.js';
import { observers } from './observe/request-observers.js';
import { setupRequestSinks } from './observe/setup.js';
import { WorkerPool } from './workers/worker-pool.js';

/**
 * `switchyard start`: runs one node until SIGTERM/SIGINT. With `--workers 1`
 * one process does everything; with N > 1 this process becomes the primary
 * (store, admin API, coordinator, health view) and forks N data-plane
 * workers that share the listeners.
 */
export async function runGateway(options: GatewayOptions): Promise<void> {
  if (cluster.isWorker && process.env.SWITCHYARD_WORKER === '1') return runWorker(options);
  const multi = options.workers > 1;
  const logger = pino({ level: options.logLevel, base: { node: options.nodeId } });
  const fatal = (msg: string, err: unknown) => {
    process.stderr.write(`switchyard start: ${msg}: ${(err as Error).message ?? err}\n`);
    process.exit(1);
  };
  let opened: OpenedStore;
  try {
    opened = await openStore(options, logger);
  } catch (err) {
    return fatal('cannot open the store', err);
  }
  const store = opened.store;
  const listenPorts = new Set(options.listen.map((l) => l.port).filter((p) => p !== 0));
  const gw = new Gateway(options, opened, logger, listenPorts, { role: multi ? 'primary' : 'single' });
  const pool = multi ? new WorkerPool(options.workers, logger) : null;
  const sinks = pool ? null : setupRequestSinks(options);
  if (pool) {
    gw.onApplied = (s) => pool.broadcast(s);
    gw.externalReady = () => pool.allServing();
    observers.onTapsChanged = (routes) => pool.setTaps(routes);
    gw.externalCounters = () => pool.counters;
    gw.externalMetrics = () => pool.metrics(gw.metrics);
  }
  try {
    await gw.loadAndWatch();
  } catch (err) {
    return fatal('cannot load the routing table', err);
  }
  const lines: string[] = [];
  try {
    if (pool) {
      const urls = await pool.start();
      for (const u of urls) {
        lines.push(`data-plane listening on ${u} (${options.workers} workers)`);
        gw.dataPlaneUrls.push(u);
        listenPorts.add(Number(new URL(u).port));
      }
    } else {
      const { urls } = await openDataPlane(gw.listeners, options, logger, listenPorts);
      for (const u of urls) {
        lines.push(`data-plane listening on ${u}`);
        gw.dataPlaneUrls.push(u);
      }
    }
  } catch (err) {
    return fatal('cannot open a data-plane listener', err);
  }
  let adminApi;
  try {
    adminApi = await startAdminApi({
      store, view: gw, host: options.admin.host, port: options.admin.port, token: options.adminToken, logger, tls: options.tls.admin,
      extend: (app, ctx) => {
        registerUpstreamActions(app, ctx);
        registerNodeEndpoints(app, gw);
        registerDeploymentEndpoints(app, { store, deployments: opened.deployments, listNodes: () => gw.listNodes() });
        registerTapEndpoint(app, gw);
        registerDashboard(app, { ...ctx, token: options.adminToken });
      },
    });
  } catch (err) {
    return fatal('cannot open the admin listener', err);
  }
  gw.adminUrl = adminApi.url;
  gw.startHeartbeat();
  const coordinator = new Coordinator({ nodeId: options.nodeId, store, deployments: opened.deployments, election: opened.election, listNodes: () => gw.listNodes(), logger });
  coordinator.start();
  for (const l of lines) console.log(l);
  console.log(`admin listening on ${adminApi.url}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: options.graceMs }, 'shutting down: no new connections, in-flight requests finish');
    const hard = setTimeout(() => process.exit(1), options.graceMs + 5000);
    hard.unref();
    coordinator.stop();
    await opened.election.close();
    await pool?.stop(options.graceMs);
    await gw.close(options.graceMs);
    await adminApi.close();
    await opened.deployments.close();
    await sinks?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
