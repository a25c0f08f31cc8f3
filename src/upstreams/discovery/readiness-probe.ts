// When a started backend may become a target: the upstream's health check
// path answering 2xx/3xx when one is configured (the same rule as the active
// checks that follow), else its port accepting a TCP connection.
import http from 'node:http';
import net from 'node:net';
import type { HealthCheckSpec } from '../../resources.js';

const PROBE_INTERVAL_MS = 100;
const DEFAULT_PROBE_TIMEOUT_MS = 500;

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function httpProbe(host: string, port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, agent: false, timeout: timeoutMs, headers: { 'user-agent': 'switchyard-readiness' } }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400);
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve(false));
  });
}

/**
 * Probes every 100 ms until the backend is ready (true) or `signal` aborts
 * (false). Never throws.
 */
export async function waitReady(host: string, port: number, healthCheck: HealthCheckSpec | undefined, signal: AbortSignal): Promise<boolean> {
  const timeoutMs = healthCheck?.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  while (!signal.aborted) {
    const ok = healthCheck ? await httpProbe(host, port, healthCheck.path, timeoutMs) : await tcpProbe(host, port, timeoutMs);
    if (signal.aborted) return false;
    if (ok) return true;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, PROBE_INTERVAL_MS);
      function done() {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }
  return false;
}

/** A loopback port free right now (the backend binds it a moment later; a lost race shows as a crash and a restart). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
