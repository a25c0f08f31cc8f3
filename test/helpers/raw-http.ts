// Raw HTTP/1.x over a plain TCP socket: the request goes out byte for byte
// (no client library to sanitise it) and the answer is parsed just enough to
// assert on it. Used by the protocol-hygiene and limit tests.
import net from 'node:net';

export interface RawResponse {
  /** Everything the server sent, latin1. */
  readonly text: string;
  /** Status of the first final response (0 when none came). */
  readonly status: number;
  /** Headers of that response, names lower-cased, repeats joined with ', '. */
  readonly headers: Record<string, string>;
  readonly body: string;
  /** The server closed the connection (before our timeout). */
  readonly closedByServer: boolean;
  /** Milliseconds from connect to the server's close (or our timeout). */
  readonly ms: number;
}

export interface RawOptions {
  /** Give up (and close) after this long; default 3000 ms. */
  timeoutMs?: number;
  /** Pieces written one after the other with this pause (slow clients). */
  pauseMs?: number;
  /** Resolve as soon as one full response (by content-length) has arrived, without waiting for the close. */
  firstResponse?: boolean;
}

/** Parses the first final (non-1xx) response in `text`. */
export function parseResponse(text: string): { status: number; headers: Record<string, string>; body: string; complete: boolean } {
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return { status: 0, headers: {}, body: '', complete: false };
    const lines = rest.slice(0, end).split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
    if (status >= 100 && status < 200) {
      rest = rest.slice(end + 4);
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    const body = rest.slice(end + 4);
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) return { status, headers, ...dechunk(body) };
    const len = headers['content-length'] !== undefined ? Number(headers['content-length']) : -1;
    return { status, headers, body: len >= 0 ? body.slice(0, len) : body, complete: len >= 0 && Buffer.byteLength(body, 'latin1') >= len };
  }
}

/** A chunked body as far as it arrived; complete once the last chunk came. */
function dechunk(raw: string): { body: string; complete: boolean } {
  let body = '';
  let i = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', i);
    if (eol < 0) return { body, complete: false };
    const size = parseInt(raw.slice(i, eol), 16);
    if (!Number.isFinite(size)) return { body, complete: false };
    if (size === 0) return { body, complete: true };
    body += raw.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

/** Sends `pieces` (strings are written as latin1, so "\xe9" is one byte) and collects the answer. */
export function rawRequest(url: string, pieces: string | Buffer | (string | Buffer)[], opts: RawOptions = {}): Promise<RawResponse> {
  const u = new URL(url);
  const list = Array.isArray(pieces) ? pieces : [pieces];
  const timeoutMs = opts.timeoutMs ?? 3000;
  return new Promise((resolve) => {
    const t0 = Date.now();
    let text = '';
    let closedByServer = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let pause: NodeJS.Timeout | undefined;
    const s = net.connect(Number(u.port), u.hostname);
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(pause);
      s.destroy();
      const r = parseResponse(text);
      resolve({ text, status: r.status, headers: r.headers, body: r.body, closedByServer, ms: Date.now() - t0 });
    };
    s.on('connect', () => {
      let i = 0;
      const next = () => {
        if (s.destroyed || i >= list.length) return;
        const p = list[i++]!;
        s.write(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
        if (i < list.length) pause = setTimeout(next, opts.pauseMs ?? 0);
      };
      next();
    });
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (opts.firstResponse && parseResponse(text).complete) finish();
    });
    s.on('end', () => {
      closedByServer = true;
      finish();
    });
    s.on('close', () => {
      if (!settled) closedByServer = true;
      finish();
    });
    s.on('error', () => {
      /* a reset is a close; 'close' follows */
    });
    timer = setTimeout(finish, timeoutMs);
  });
}

/** Opens `n` TCP connections that send nothing (in batches, so the listen backlog keeps up). */
export async function openIdle(url: string, n: number, batch = 100): Promise<net.Socket[]> {
  const u = new URL(url);
  const all: net.Socket[] = [];
  for (let i = 0; i < n; i += batch) {
    const group = await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, () =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(Number(u.port), u.hostname);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        }),
      ),
    );
    for (const s of group) s.on('error', () => {});
    all.push(...group);
  }
  return all;
}
