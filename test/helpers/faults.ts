// Building blocks for the fault-injection suite (test/faults/): a raw TCP
// "upstream" that answers whatever bytes a test wants, and a client request
// that records exactly how its response ended (complete, cut, refused).
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RawUpstream {
  readonly url: string;
  readonly port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Connections open right now. */
  readonly open: Set<net.Socket>;
  close(): Promise<void>;
}

/**
 * A TCP server on 127.0.0.1:0 that hands every accepted socket to
 * `onConnection`; nothing is parsed or answered unless the test does it.
 */
export async function startRawUpstream(onConnection: (socket: net.Socket, up: RawUpstream) => void): Promise<RawUpstream> {
  const server = net.createServer();
  const up: RawUpstream = {
    url: '',
    port: 0,
    connections: 0,
    open: new Set(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of up.open) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('connection', (socket) => {
    up.connections++;
    up.open.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => up.open.delete(socket));
    onConnection(socket, up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  (up as { url: string }).url = `http://127.0.0.1:${port}`;
  (up as { port: number }).port = port;
  return up;
}

/** Calls `onHead` with the request line and headers once a whole request head has arrived on `socket` (once per head). */
export function onRequestHead(socket: net.Socket, onHead: (head: string) => void): void {
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
      const head = buf.slice(0, end);
      buf = buf.slice(end + 4); // the tests send no request bodies
      onHead(head);
    }
  });
}

/** The path of a request head ("GET /a/b HTTP/1.1\r\n..." -> "/a/b"). */
export function pathOf(head: string): string {
  return head.slice(head.indexOf(' ') + 1, head.indexOf(' ', head.indexOf(' ') + 1));
}

export interface Outcome {
  /** Status of the response head; 0 when none came. */
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Body bytes received. */
  bytes: number;
  body: string;
  /** The body ended as framed (content-length reached, or the last chunk of a chunked body). */
  complete: boolean;
  /** The error the request or the response ended with (code, else message); null when none. */
  error: string | null;
  /** From sending the request to the response head, and to the end (or the cut). */
  headersMs: number;
  ms: number;
}

export interface OutcomeOptions {
  agent?: http.Agent;
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  /** Called with the total body bytes after every chunk. */
  onBytes?(bytes: number): void;
  /** Gives up (destroys the request) after this long; the outcome says `error: 'client timeout'`. Default 10 s. */
  timeoutMs?: number;
}

/** One request; resolves (never rejects) with how its response ended. */
export function requestOutcome(url: string, opts: OutcomeOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const out: Outcome = { status: 0, headers: {}, bytes: 0, body: '', complete: false, error: null, headersMs: -1, ms: -1 };
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      out.ms = performance.now() - t0;
      resolve(out);
    };
    const req = http.request(url, { agent: opts.agent ?? false, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      out.status = res.statusCode ?? 0;
      out.headers = res.headers;
      out.headersMs = performance.now() - t0;
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => {
        out.bytes += d.length;
        if (out.bytes <= 1 << 20) chunks.push(d);
        opts.onBytes?.(out.bytes);
      });
      res.on('error', (err: NodeJS.ErrnoException) => (out.error ??= err.code ?? err.message));
      res.on('close', () => {
        out.complete = res.complete;
        out.body = Buffer.concat(chunks).toString('latin1');
        if (!res.complete) out.error ??= 'response cut';
        settle();
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      out.error ??= err.code ?? err.message;
      if (out.status === 0) settle();
    });
    const timer = setTimeout(() => {
      out.error ??= 'client timeout';
      req.destroy();
      settle();
    }, opts.timeoutMs ?? 10_000);
    req.end();
  });
}

/** Whether a TCP connect to `url` is refused (or fails otherwise) rather than accepted. */
export function connectRefused(url: string, timeoutMs = 1000): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(false);
    });
    s.once('error', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
