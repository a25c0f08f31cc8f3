// WebSocket load generator (a child process of the bench, so the bench's own
// event loop plays no part): --connections WebSockets to --url, each with one
// --size-byte binary message in flight; every echo is timed and answered with
// the next message. Connections are opened before the clock starts; after
// --duration seconds it prints one line `RESULT {json}` and exits.
//   node dist/bench/ws-load.js --url ws://127.0.0.1:PORT/ [--connections 50] [--duration 5] [--size 64]
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '5' },
    size: { type: 'string', default: '64' },
  },
});
if (!values.url) {
  process.stderr.write('ws-load: --url is required\n');
  process.exit(2);
}
const url = values.url;
const conns = Number(values.connections);
const durationMs = Number(values.duration) * 1000;
const payload = Buffer.alloc(Number(values.size), 'm');

let lat = new Float64Array(1 << 16);
let n = 0;
let bytes = 0;
let errors = 0;
let running = false;
let tLast = 0n;

function openOnce(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => {
      ws.removeAllListeners('error');
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

/** Up to 3 attempts: on a busy machine an accept queue may overflow. */
async function open(): Promise<WebSocket> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openOnce();
    } catch (err) {
      if (attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

process.on('uncaughtException', (err) => {
  process.stdout.write(`ERROR ${err.stack ?? err.message}\n`);
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  process.stdout.write(`ERROR ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

// Ten at a time, so the upstream (or proxy) is not hit by N handshakes at once.
const sockets: WebSocket[] = [];
for (let i = 0; i < conns; i += 10) sockets.push(...(await Promise.all(Array.from({ length: Math.min(10, conns - i) }, open))));
const sentAt = new Array<bigint>(conns).fill(0n);
sockets.forEach((ws, i) => {
  ws.on('error', () => errors++);
  ws.on('close', () => {
    if (running) errors++;
  });
  ws.on('message', (data: Buffer) => {
    const now = process.hrtime.bigint();
    if (n === lat.length) {
      const bigger = new Float64Array(lat.length * 2);
      bigger.set(lat);
      lat = bigger;
    }
    lat[n++] = Number(now - sentAt[i]!) / 1e6;
    bytes += data.length;
    tLast = now;
    if (!running) return;
    sentAt[i] = process.hrtime.bigint();
    ws.send(payload);
  });
});

const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
running = true;
sockets.forEach((ws, i) => {
  sentAt[i] = process.hrtime.bigint();
  ws.send(payload);
});
await new Promise((r) => setTimeout(r, durationMs));
running = false;
const cpu = process.cpuUsage(cpu0);
const elapsedS = Number((n > 0 ? tLast : process.hrtime.bigint()) - t0) / 1e9;
const sorted = lat.subarray(0, n).sort();
const pct = (p: number) => (n ? sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]! : NaN);
const result = {
  responses: n,
  elapsedS,
  rps: n / elapsedS,
  rps2xx: n / elapsedS,
  p50Ms: pct(50),
  p90Ms: pct(90),
  p99Ms: pct(99),
  maxMs: n ? sorted[n - 1]! : NaN,
  errors,
  timeouts: 0,
  non2xx: 0,
  resets: 0,
  bytes,
  loadgenCpuMicros: cpu.user + cpu.system,
};
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
for (const ws of sockets) ws.terminate();
process.exit(0);
