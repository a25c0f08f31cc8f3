// Paced (open-loop) load for latency figures: every millisecond the requests
// due by then (`rate` per second in all) are sent, round-robin over
// `connections` keep-alive connections, whether or not earlier ones were
// answered. Latency runs from that tick to the last response byte, so a stall
// shows in full (no coordinated omission, as in wrk2). A warm-up at the same
// rate (connections opened, JIT warm) is not recorded. autocannon's own
// overallRate sends each connection's whole per-second budget at the start of
// every second: bursts, not a rate.
import { Client, type Dispatcher } from 'undici';
import { rateAndLatency, type LoadOptions, type LoadResult } from './load.js';

const TICK_MS = 1;

const WARMUP_S = 0.5;

export async function runPaced(opts: LoadOptions & { overallRate: number }): Promise<LoadResult> {
  const clients = Array.from({ length: opts.connections }, () => new Client(opts.url, { pipelining: 1, keepAliveTimeout: 30_000 }));
  try {
    await pace(clients, { ...opts, durationS: WARMUP_S });
    return await pace(clients, opts);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

async function pace(clients: Client[], opts: LoadOptions & { overallRate: number }): Promise<LoadResult> {
  const total = Math.max(1, Math.round(opts.overallRate * opts.durationS));
  const lat = new Float64Array(total);
  let done = 0;
  let ok = 0;
  let errors = 0;
  let timeouts = 0;
  let bytes = 0;
  let sent = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const perMs = opts.overallRate / 1000;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const complete = (dueAt: number, status: number): void => {
    lat[done++] = performance.now() - dueAt;
    if (status >= 200 && status < 300) ok++;
    if (done === total) finish();
  };
  const send = (i: number, dueAt: number): void => {
    let status = 0;
    const handler: Dispatcher.DispatchHandler = {
      onConnect() {},
      onHeaders(statusCode) {
        status = statusCode;
        return true;
      },
      onData(chunk) {
        bytes += chunk.length;
        return true;
      },
      onComplete() {
        complete(dueAt, status);
      },
      onError(err) {
        if ((err as { code?: string }).code?.includes('TIMEOUT')) timeouts++;
        errors++;
        complete(dueAt, 0);
      },
    };
    clients[i % clients.length]!.dispatch(
      { path: opts.request.path, method: opts.request.method, headers: opts.request.headers, body: opts.request.body ?? null, headersTimeout: (opts.timeoutS ?? 10) * 1000 },
      handler,
    );
  };
  const tick = (): void => {
    const now = performance.now();
    const due = Math.min(total, Math.floor((now - t0) * perMs) + 1);
    while (sent < due) send(sent++, now);
    if (sent < total) setTimeout(tick, TICK_MS);
  };
  tick();
  await finished;
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    ...rateAndLatency(lat, done, ok, elapsedS),
    errors,
    timeouts,
    non2xx: done - ok - errors,
    resets: 0,
    bytes,
    loadgenCpuMicros: cpu.user + cpu.system,
  };
}
