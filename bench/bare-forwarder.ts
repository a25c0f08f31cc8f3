// The bare baseline: a node:http server forwarding every request to one
// upstream with undici Pool.dispatch() and a minimal correct handler —
// hop-by-hop headers dropped both ways, x-forwarded-for added, request bodies
// streamed, backpressure through onData/'drain', and client aborts propagated
// to the upstream exchange (a client gone at onHeaders, or whose socket closes
// while onData waits for 'drain', aborts it; otherwise the paused upstream
// connection never resumes and the pool runs dry).
//   node dist/bench/bare-forwarder.js --target http://127.0.0.1:PORT [--port 0] [--connections 256]
// Prints `bare-undici listening on http://HOST:PORT`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    connections: { type: 'string', default: '256' },
  },
});
if (!values.target) {
  process.stderr.write('bare-forwarder: --target URL is required\n');
  process.exit(2);
}

const pool = new Pool(values.target, { connections: Number(values.connections), pipelining: 1 });

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const CLIENT_GONE = Object.assign(new Error('client closed the connection'), { code: 'BARE_CLIENT_GONE' });

/** Names listed in a Connection header are hop-by-hop too. */
function connectionTokens(value: string): Set<string> {
  return new Set(value.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
}

function requestHeaders(req: http.IncomingMessage): string[] {
  const raw = req.rawHeaders;
  const conn = req.headers.connection;
  const extra = conn && conn !== 'keep-alive' && conn !== 'close' ? connectionTokens(conn) : null;
  const out: string[] = [];
  let xff: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (extra !== null && extra.has(lower))) continue;
    if (lower === 'x-forwarded-for') {
      xff = xff === null ? raw[i + 1]! : `${xff}, ${raw[i + 1]!}`;
      continue;
    }
    out.push(name, raw[i + 1]!);
  }
  const addr = req.socket.remoteAddress ?? '';
  out.push('x-forwarded-for', xff === null ? addr : `${xff}, ${addr}`);
  return out;
}

function responseHeaders(raw: Buffer[]): string[] {
  const out: string[] = [];
  let extra: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    if (lower === 'connection') {
      const v = raw[i + 1]!.toString('latin1');
      if (v !== 'keep-alive' && v !== 'close') extra = connectionTokens(v);
      continue;
    }
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (extra === null) return out;
  const filtered: string[] = [];
  for (let i = 0; i < out.length; i += 2) if (!extra.has(out[i]!.toLowerCase())) filtered.push(out[i]!, out[i + 1]!);
  return filtered;
}

class Forward implements Dispatcher.DispatchHandler {
  readonly #res: http.ServerResponse;
  #abort: ((err?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  #done = false;
  #clientGone = false;

  constructor(res: http.ServerResponse) {
    this.#res = res;
    res.once('close', this.#onClientClose);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#clientGone) abort(CLIENT_GONE);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.#clientGone) {
      this.#abort?.(CLIENT_GONE);
      return false;
    }
    this.#resume = resume;
    this.#res.writeHead(statusCode, responseHeaders(rawHeaders));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#res.write(chunk)) return true;
    this.#res.once('drain', this.#onDrain);
    return false;
  }

  onComplete(): void {
    this.#done = true;
    this.#res.end();
  }

  onError(err: Error): void {
    this.#done = true;
    if (this.#clientGone) return;
    if (this.#res.headersSent) {
      this.#res.destroy(err); // a broken response, never a short one
      return;
    }
    this.#res.writeHead(502, { 'content-type': 'text/plain' });
    this.#res.end('bad gateway\n');
  }

  #onDrain = (): void => {
    this.#resume?.();
  };

  #onClientClose = (): void => {
    if (this.#done || this.#res.writableFinished) return;
    this.#clientGone = true;
    this.#abort?.(CLIENT_GONE);
  };
}

const server = http.createServer((req, res) => {
  res.sendDate = false; // the upstream's Date is passed on
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  pool.dispatch(
    {
      path: req.url!,
      method: req.method as Dispatcher.HttpMethod,
      headers: requestHeaders(req),
      body: hasBody ? req : null,
    },
    new Forward(res),
  );
});
server.listen(Number(values.port), values.host, () => {
  const { address, port } = server.address() as AddressInfo;
  process.stdout.write(`bare-undici listening on http://${address}:${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
