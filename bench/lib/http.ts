// One-off HTTP requests for readiness probes and response checks: node:http
// without an agent (connection closed afterwards), body read to the end.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SimpleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string; timeoutMs?: number; agent?: http.Agent } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Keep-alive agent for admin API calls (thousands of PUTs when seeding routes). */
const adminAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** Closes the admin agent's idle sockets. */
export function closeAdminSockets(): void {
  adminAgent.destroy();
}

/** JSON request (admin APIs) over a keep-alive agent; throws unless the status is 2xx. */
export async function jsonRequest(url: string, method: string, body?: unknown): Promise<unknown> {
  const res = await httpRequest(url, {
    agent: adminAgent,
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs: 30_000,
  });
  const text = res.body.toString('utf8');
  if (res.status < 200 || res.status >= 300) throw new Error(`${method} ${url} -> ${res.status}: ${text.slice(0, 500)}`);
  return text ? (JSON.parse(text) as unknown) : null;
}

/** Polls GET `url` every 5 ms until a 200 carries `x-upstream: name` (bench/upstream.ts --name); false after `timeoutMs`. */
export async function servedBy(url: string, name: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await httpRequest(url).catch(() => null);
    if (r?.status === 200 && r.headers['x-upstream'] === name) return true;
    await sleep(5);
  }
  return false;
}
