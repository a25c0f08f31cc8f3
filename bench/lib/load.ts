// Load generator: autocannon, in this process, through its API. Latency is
// recorded from autocannon's per-response timings (float ms from hrtime)
// rather than its histogram, which holds whole milliseconds only.
import autocannon from 'autocannon';
import { percentile } from './stats.js';

export interface LoadRequest {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

export interface LoadOptions {
  /** Base URL, e.g. http://127.0.0.1:1234 */
  url: string;
  request: LoadRequest;
  connections: number;
  durationS: number;
  /** Per-request timeout, seconds (autocannon default 10). */
  timeoutS?: number;
}

export interface LoadResult {
  /** Responses received (any status). */
  responses: number;
  /** Wall time from start to the last response, seconds. */
  elapsedS: number;
  /** responses / elapsedS */
  rps: number;
  /** 2xx responses / elapsedS */
  rps2xx: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Connection errors (autocannon counts timeouts among them). */
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  /** Response bytes (headers + body) received. */
  bytes: number;
  /** CPU used by this (load-generating) process during the run, µs. */
  loadgenCpuMicros: number;
}

/** Rates and latency percentiles of `n` responses (`ok` of them 2xx) with latencies `lat` (ms, unsorted), over `elapsedS`. */
export function rateAndLatency(lat: Float64Array, n: number, ok: number, elapsedS: number): Pick<LoadResult, 'responses' | 'elapsedS' | 'rps' | 'rps2xx' | 'p50Ms' | 'p90Ms' | 'p99Ms' | 'maxMs'> {
  const sorted = lat.subarray(0, n).sort();
  return {
    responses: n,
    elapsedS,
    rps: n / elapsedS,
    rps2xx: ok / elapsedS,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: n > 0 ? sorted[n - 1]! : NaN,
  };
}

/** The autocannon run LoadOptions describe. */
function autocannonOptions(opts: LoadOptions): autocannon.Options {
  return {
    url: opts.url + opts.request.path,
    method: opts.request.method,
    headers: opts.request.headers,
    body: opts.request.body,
    connections: opts.connections,
    duration: opts.durationS,
    timeout: opts.timeoutS ?? 10,
  };
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  let lat = new Float64Array(1 << 16);
  let n = 0;
  let ok = 0;
  let bytes = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let tLast = t0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const inst = autocannon(
      autocannonOptions(opts),
      (err: unknown, res: autocannon.Result) => (err ? reject(err) : resolve(res)),
    );
    inst.on('response', (_client: unknown, statusCode: number, resBytes: number, responseTime: number) => {
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
      }
      lat[n++] = responseTime;
      if (statusCode >= 200 && statusCode < 300) ok++;
      bytes += resBytes;
      tLast = process.hrtime.bigint();
    });
  });
  const cpu = process.cpuUsage(cpu0);
  const elapsedS = Number((n > 0 ? tLast : process.hrtime.bigint()) - t0) / 1e9;
  return {
    ...rateAndLatency(lat, n, ok, elapsedS),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    resets: (result as { resets?: number }).resets ?? 0,
    bytes,
    loadgenCpuMicros: cpu.user + cpu.system,
  };
}

export interface TimelineResult {
  /** Responses (any status) completed in each window, from the start of the load. */
  counts: number[];
  /** Non-2xx responses in each window. */
  non2xxCounts: number[];
  windowMs: number;
  responses: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  /** hrtime (ns) at the start of the load: window i covers [t0 + i·windowMs, t0 + (i+1)·windowMs). */
  t0: bigint;
  loadgenCpuMicros: number;
}

/**
 * autocannon with every response counted into `windowMs` windows, timestamped
 * in this process as it arrives ('response' event), for throughput-over-time
 * figures. `during(t0)` runs alongside (e.g. flips at fixed offsets).
 */
export async function runTimeline(
  opts: LoadOptions & { windowMs: number; during?: (t0: bigint) => Promise<void> },
): Promise<TimelineResult> {
  const counts: number[] = [];
  const bad: number[] = [];
  let responses = 0;
  let non2xx = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const winNs = BigInt(Math.round(opts.windowMs * 1e6));
  let side: Promise<void> = Promise.resolve();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const inst = autocannon(
      autocannonOptions(opts),
      (err: unknown, res: autocannon.Result) => (err ? reject(err) : resolve(res)),
    );
    inst.on('response', (_client: unknown, statusCode: number) => {
      const i = Number((process.hrtime.bigint() - t0) / winNs);
      while (counts.length <= i) {
        counts.push(0);
        bad.push(0);
      }
      counts[i]!++;
      responses++;
      if (statusCode < 200 || statusCode >= 300) {
        bad[i]!++;
        non2xx++;
      }
    });
    if (opts.during) {
      side = opts.during(t0);
      side.catch(() => undefined); // awaited (and thrown) after the load
    }
  });
  await side;
  const cpu = process.cpuUsage(cpu0);
  return {
    counts,
    non2xxCounts: bad,
    windowMs: opts.windowMs,
    responses,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx,
    t0,
    loadgenCpuMicros: cpu.user + cpu.system,
  };
}
