// A closed-loop keep-alive load generator that runs in the test process and
// keeps a record of every request: when it was handed to the kernel, and how
// its response ended. autocannon only reports totals; a graceful-shutdown
// test needs to know, per request, whether it was sent before the signal.
import http from 'node:http';

export interface LoadRecord {
  /** Sequence number, also in the path (`<path>/<id>`), so the upstream can tell requests apart. */
  id: number;
  conn: number;
  /** performance.now() when the request was written to the socket ('finish'); NaN when it never was. */
  sentAt: number;
  /** performance.now() when the response ended or the request failed. */
  doneAt: number;
  /** Response status, 0 when none came. */
  status: number;
  /** The response body arrived whole (as framed). */
  complete: boolean;
  /** Error code or message; null when the response completed. */
  error: string | null;
  /** Sent on a connection an earlier request already used. */
  reused: boolean;
  /** The response said `Connection: close`. */
  closes: boolean;
}

export interface KeepAliveLoad {
  readonly records: LoadRecord[];
  /** Responses that completed with 200 so far. */
  readonly ok: number;
  /** Stops sending new requests and waits for the ones in flight; closes every connection. */
  stop(): Promise<void>;
}

export interface KeepAliveLoadOptions {
  connections: number;
  /** Path prefix; `/<id>` is appended. */
  path: string;
  /** A connection loop ends after this many failed requests in a row (a refused reconnect, usually). Default 1. */
  maxConsecutiveErrors?: number;
}

/**
 * `connections` loops, each with its own agent of one keep-alive socket:
 * send, wait for the whole response, send the next. A loop ends once it
 * failed `maxConsecutiveErrors` times in a row, or on stop().
 */
export function startKeepAliveLoad(baseUrl: string, opts: KeepAliveLoadOptions): KeepAliveLoad {
  const records: LoadRecord[] = [];
  let running = true;
  let seq = 0;
  let ok = 0;
  const agents: http.Agent[] = [];
  const maxErrors = opts.maxConsecutiveErrors ?? 1;

  const one = (agent: http.Agent, conn: number): Promise<LoadRecord> =>
    new Promise((resolve) => {
      const rec: LoadRecord = { id: seq++, conn, sentAt: NaN, doneAt: NaN, status: 0, complete: false, error: null, reused: false, closes: false };
      records.push(rec);
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        rec.doneAt = performance.now();
        if (rec.status === 200 && rec.complete) ok++;
        resolve(rec);
      };
      const req = http.request(`${baseUrl}${opts.path}/${rec.id}`, { agent }, (res) => {
        rec.status = res.statusCode ?? 0;
        rec.closes = /\bclose\b/i.test(res.headers.connection ?? '');
        res.on('data', () => {});
        res.on('error', (err: NodeJS.ErrnoException) => (rec.error ??= err.code ?? err.message));
        res.on('close', () => {
          rec.complete = res.complete;
          if (!res.complete) rec.error ??= 'response cut';
          settle();
        });
      });
      req.on('socket', () => (rec.reused = req.reusedSocket));
      req.on('finish', () => (rec.sentAt = performance.now()));
      req.on('error', (err: NodeJS.ErrnoException) => {
        rec.error ??= err.code ?? err.message;
        if (rec.status === 0) settle();
      });
      req.end();
    });

  const loops = Array.from({ length: opts.connections }, async (_, conn) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    let errors = 0;
    while (running) {
      const r = await one(agent, conn);
      errors = r.status === 200 && r.complete ? 0 : errors + 1;
      if (errors >= maxErrors) break;
    }
  });

  return {
    records,
    get ok() {
      return ok;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const a of agents) a.destroy();
    },
  };
}
