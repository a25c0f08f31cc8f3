// A backend in its own process, so a test can SIGKILL it and start it again on
// the same port. It answers 200 to everything, keeps the arrival time
// (Date.now(), the machine clock the test shares) of every health check and
// of every other request, and hands them out at GET /__log (never counted).
import { spawn, type ChildProcess } from 'node:child_process';

const SCRIPT = `
const http = require('node:http');
const name = process.argv[1];
const log = { hz: [], hits: [] };
const server = http.createServer((req, res) => {
  if (req.url === '/__log') return res.end(JSON.stringify(log));
  if (req.url === '/healthz') { log.hz.push(Date.now()); return res.end('ok'); }
  log.hits.push(Date.now());
  req.resume();
  req.on('end', () => res.end(name));
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening ' + server.address().port));
`;

export interface TargetLog {
  /** Arrival times of GET /healthz. */
  hz: number[];
  /** Arrival times of every other request. */
  hits: number[];
}

export interface TargetProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** This process's log (fails once it is dead). */
  log(): Promise<TargetLog>;
  /** SIGKILL; resolves once it has exited. */
  kill9(): Promise<void>;
}

/** Every process started here and not yet known dead, killed by stopAllTargets(). */
const live = new Set<ChildProcess>();

/** Starts a target process on `port` (0 = ephemeral) and resolves once it listens. */
export async function startTargetProcess(name: string, port = 0, timeoutMs = 10_000): Promise<TargetProcess> {
  const child = spawn(process.execPath, ['-e', SCRIPT, name, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => (live.delete(child), resolve())));
  let out = '';
  const actual = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`target ${name} did not listen within ${timeoutMs} ms: ${out}`));
    }, timeoutMs);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`target ${name} exited with ${code} before listening: ${out}`));
    });
  });
  const url = `http://127.0.0.1:${actual}`;
  return {
    name,
    port: actual,
    url,
    pid: child.pid!,
    async log() {
      const res = await fetch(`${url}/__log`);
      return (await res.json()) as TargetLog;
    },
    async kill9() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** SIGKILLs every target process still running (for after hooks). */
export async function stopAllTargets(): Promise<void> {
  const all = [...live];
  await Promise.all(
    all.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
}
