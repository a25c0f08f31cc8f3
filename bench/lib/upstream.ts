// Starts the upstream of a scenario: nginx when it is on PATH and the scenario
// allows it (and --upstream is not `node`), else bench/upstream.ts.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { httpRequest } from './http.js';
import { benchScript } from './paths.js';
import { startProcess } from './spawn.js';
import type { RunningUpstream, UpstreamSpec } from './types.js';

export type UpstreamChoice = 'auto' | 'node' | 'nginx';

export function nginxOnPath(): boolean {
  return spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
}

export async function startUpstream(
  spec: UpstreamSpec,
  opts: { choice: UpstreamChoice; cpu: number | null; scratch: string; log: (msg: string) => void },
): Promise<RunningUpstream> {
  const wantNginx = spec.nginxOk && (opts.choice === 'nginx' || (opts.choice === 'auto' && nginxOnPath()));
  if (wantNginx) {
    try {
      return await startNginx(spec, opts.cpu, opts.scratch);
    } catch (err) {
      if (opts.choice === 'nginx') throw err;
      opts.log(`nginx upstream failed, using the node upstream: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return startNodeUpstream({ script: spec.script, bodyBytes: spec.bodyBytes, cpu: opts.cpu });
}

/** bench/upstream.ts (or another script with its flags and ready line) in its own process. */
export async function startNodeUpstream(o: {
  script?: string;
  bodyBytes?: number;
  delayMs?: number;
  /** Sent back as `x-upstream: NAME` (bench/upstream.ts). */
  name?: string;
  cpu?: number | null;
}): Promise<RunningUpstream> {
  const args = [benchScript(o.script ?? 'upstream'), '--body-bytes', String(o.bodyBytes ?? 13)];
  if (o.delayMs) args.push('--delay-ms', String(o.delayMs));
  if (o.name) args.push('--name', o.name);
  const p = await startProcess({
    name: o.name ? `upstream ${o.name}` : 'upstream',
    command: process.execPath,
    args,
    ready: [/upstream listening on (http:\/\/\S+)/],
    cpu: o.cpu ?? null,
  });
  return { kind: 'node', url: p.matches[0]![1]!, pid: p.pid, stop: () => p.stop() };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** nginx, one process (master_process off), `return 200` for small bodies, a static file otherwise. */
async function startNginx(spec: UpstreamSpec, cpu: number | null, scratch: string): Promise<RunningUpstream> {
  const dir = path.join(scratch, `nginx-${Date.now()}`);
  mkdirSync(path.join(dir, 'www'), { recursive: true });
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const small = spec.bodyBytes <= 1024;
  if (!small) writeFileSync(path.join(dir, 'www', 'body.bin'), Buffer.alloc(spec.bodyBytes, 'x'));
  const location = small
    ? `return 200 '${spec.bodyBytes === 13 ? 'hello, world\n' : 'x'.repeat(spec.bodyBytes)}';`
    : 'try_files /body.bin =404;';
  const t = path.join(dir, 'tmp');
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  client_body_temp_path ${t}/body; proxy_temp_path ${t}/proxy; fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi; scgi_temp_path ${t}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 65s;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
    location / { ${location} }
  }
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const url = `http://127.0.0.1:${port}`;
  const p = await startProcess({
    name: 'nginx upstream',
    command: 'nginx',
    args: ['-p', dir, '-c', path.join(dir, 'nginx.conf')],
    cpu,
    probe: async () => (await httpRequest(url + '/')).status === 200,
  });
  return { kind: 'nginx', url, pid: p.pid, stop: () => p.stop() };
}
