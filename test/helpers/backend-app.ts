// A backend for `process` pools: run by the gateway itself as
// `node -e BACKEND_SCRIPT NAME [MODE]`, listening on $PORT. It answers
// `NAME PID` (header x-pid too), GET /healthz with 200, GET /info with its
// pid, that of its own child and how many requests it served, and /slow?ms=N
// after N ms. MODE:
//   ignore-term  ignores SIGTERM (only SIGKILL stops it)
//   grandchild   also starts `sleep 60` as a child of its own
// Otherwise SIGTERM closes the server and exits 0.
import { readdirSync, readFileSync } from 'node:fs';
import { admin } from './gateway.js';

export const BACKEND_SCRIPT = `
const http = require('node:http');
const { spawn } = require('node:child_process');
const name = process.argv[1] || 'backend';
const mode = process.argv[2] || '';
let grandchild = null;
let served = 0;
if (mode === 'grandchild') grandchild = spawn('sleep', ['60'], { stdio: 'ignore' }).pid;
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  if (req.url === '/info') return res.end(JSON.stringify({ name, pid: process.pid, grandchild, served }));
  if (req.url.startsWith('/slow')) {
    const ms = Number(new URL(req.url, 'http://x').searchParams.get('ms') || 1000);
    return setTimeout(() => res.end(name), ms);
  }
  served++;
  req.resume();
  res.setHeader('x-pid', String(process.pid));
  res.end(name + ' ' + process.pid);
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(name + ' listening on ' + process.env.PORT));
process.on('SIGTERM', () => {
  if (mode === 'ignore-term') return console.log(name + ' ignores SIGTERM');
  server.close(() => process.exit(0));
});
`;

/** A `process` pool source running BACKEND_SCRIPT. */
export function backendProcess(name: string, extra: Record<string, unknown> = {}, mode?: string): Record<string, unknown> {
  return { command: process.execPath, args: ['-e', BACKEND_SCRIPT, name, ...(mode ? [mode] : [])], ...extra };
}

/** This node's status of one pool (GET /upstreams/:name/status). */
export async function poolStatus(gw: { adminUrl: string }, upstream: string, pool: string): Promise<any> {
  const r = await admin(gw, 'GET', `/upstreams/${upstream}/status`);
  if (r.status !== 200) throw new Error(`GET /upstreams/${upstream}/status -> ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.nodes[0].pools[pool];
}

/** State letter and process group of a pid from /proc (Linux); null once it is gone. */
function procStat(pid: number): { state: string; pgrp: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, pgrp: Number(rest[2]) };
  } catch {
    return null;
  }
}

/**
 * Whether a process still runs. A zombie does not: it has exited and only
 * waits for its parent (init, for an orphan; here init reaps every ~1.5 s)
 * to collect its exit status; signal 0 would still find it.
 */
export function running(pid: number): boolean {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

/** Whether any process of the group `pgid` still runs (zombies excluded). */
export function groupAlive(pgid: number): boolean {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X') return true;
  }
  return false;
}
