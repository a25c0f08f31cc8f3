import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { handleRequest, type GenerationHolder } from './request-handler.js';
import { handleUpgrade } from './websocket-proxy.js';

export interface ListenAddress {
  host: string | undefined;
  port: number;
}

interface Listener {
  server: http.Server;
  port: number;
  dynamic: boolean;
}

/** Formats a URL for a bound address (IPv6 in brackets, wildcard shown as is). */
export function urlOf(address: AddressInfo, scheme = 'http'): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}

/**
 * The data-plane listeners: the static --listen ones, and the port-route ones
 * opened and closed at run time to follow the route table.
 */
export class Listeners {
  readonly #holder: GenerationHolder;
  readonly #logger: Logger;
  readonly #byPort = new Map<number, Listener>();
  #dynamicHost: string | undefined;
  #closing = false;

  constructor(holder: GenerationHolder, logger: Logger) {
    this.#holder = holder;
    this.#logger = logger;
  }

  async listen(addr: ListenAddress, dynamic = false): Promise<AddressInfo> {
    const server = http.createServer({ keepAliveTimeout: 5000, headersTimeout: 30000, requestTimeout: 0 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const port = address.port;
    const holder = this.#holder;
    server.on('request', (req, res) => handleRequest(holder, port, 'http', req, res));
    server.on('upgrade', (req, socket, head) => handleUpgrade(holder, port, 'http', req, socket, head));
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'bad_request';
      const body = JSON.stringify({ error: code, message: 'malformed request', requestId: '' });
      socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    });
    this.#byPort.set(port, { server, port, dynamic });
    if (!dynamic && this.#dynamicHost === undefined) this.#dynamicHost = addr.host;
    return address;
  }

  /** Opens listeners for route ports inside the range, closes those no route needs. */
  async syncDynamic(wanted: ReadonlySet<number>, range: { from: number; to: number } | null): Promise<void> {
    if (this.#closing) return;
    for (const port of wanted) {
      if (this.#byPort.has(port) || !range || port < range.from || port > range.to) continue;
      try {
        const a = await this.listen({ host: this.#dynamicHost, port }, true);
        this.#logger.info({ port: a.port }, 'port route listener opened');
      } catch (err) {
        this.#logger.error({ port, err: (err as Error).message }, 'could not open port route listener');
      }
    }
    for (const [port, l] of this.#byPort) {
      if (l.dynamic && !wanted.has(port)) {
        this.#byPort.delete(port);
        void this.#closeServer(l.server, 30000);
        this.#logger.info({ port }, 'port route listener closed');
      }
    }
  }

  get ports(): number[] {
    return [...this.#byPort.keys()];
  }

  /** Stops accepting on every listener; in-flight requests get up to graceMs. */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    const all = [...this.#byPort.values()];
    this.#byPort.clear();
    await Promise.all(all.map((l) => this.#closeServer(l.server, graceMs)));
  }

  async #closeServer(server: http.Server, graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // Keep-alive connections go idle as their last response ends: reap them.
    const reaper = setInterval(() => server.closeIdleConnections(), 50);
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    await closed;
    clearInterval(reaper);
    clearTimeout(timer);
  }
}
