import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ERROR_CATALOG, errorBody, type ErrorCode } from './error-catalog.js';
import { DEFAULT_LIMITS, TRUSTED_PEER, type DataPlaneLimits, type ListenerContext } from './limits.js';
import { handleRequest, type GenerationHolder } from './request-handler.js';
import { newRequestId } from './request-id.js';
import { handleUpgrade } from './websocket-proxy.js';
import { TLS_CIPHERS, type CertificateStore } from './tls-certificates.js';

export interface ListenAddress {
  host: string | undefined;
  port: number;
}

interface Listener {
  server: http.Server;
  port: number;
  dynamic: boolean;
  /** Closing: every response from now on says `Connection: close`, so busy keep-alive connections end after it. */
  draining: boolean;
}

/** A whole error answer for a socket the HTTP parser gave up on (clientError). */
function rawError(code: ErrorCode): string {
  const id = newRequestId();
  const body = errorBody(code, id);
  const { status } = ERROR_CATALOG[code];
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${id}\r\nconnection: close\r\n\r\n${body}`;
}

/** How often Node checks headersTimeout/requestTimeout (its default, 30 s, would let a 1 s limit run 31 s). */
function checkingInterval(l: DataPlaneLimits): number {
  const shortest = l.requestTimeoutMs > 0 ? Math.min(l.headersTimeoutMs, l.requestTimeoutMs) : l.headersTimeoutMs;
  return Math.max(100, Math.min(1000, Math.floor(shortest / 4)));
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
  readonly #limits: DataPlaneLimits;
  readonly #byPort = new Map<number, Listener>();
  #dynamicHost: string | undefined;
  #closing = false;
  #lastDropLog = 0;
  /** The first TLS listener's port, for redirectHttps routes. */
  readonly #https = { port: 0 };

  constructor(holder: GenerationHolder, logger: Logger, limits: DataPlaneLimits = DEFAULT_LIMITS) {
    this.#holder = holder;
    this.#logger = logger;
    this.#limits = limits;
  }

  /** Opens a data-plane listener: plain HTTP, or TLS-terminating with `certificates` (chosen by SNI). */
  async listen(addr: ListenAddress, dynamic = false, certificates: CertificateStore | null = null): Promise<AddressInfo> {
    const l = this.#limits;
    const options = {
      keepAliveTimeout: l.keepAliveTimeoutMs,
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      connectionsCheckingInterval: checkingInterval(l),
      maxHeaderSize: l.maxHeaderSize,
      // Checked in handleRequest, so the 400 is the JSON error like every other.
      requireHostHeader: false,
    };
    const server: http.Server = certificates
      ? https.createServer({ ...options, SNICallback: certificates.sniCallback, minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true })
      : http.createServer(options);
    // rawHeaders keeps every field; the parsed headers object stops here.
    server.maxHeadersCount = l.maxHeaderCount;
    if (l.maxConnections > 0) server.maxConnections = l.maxConnections;
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
    const proto = certificates ? 'https' : 'http';
    if (certificates && this.#https.port === 0) this.#https.port = port;
    const ctx: ListenerContext = {
      port,
      proto,
      https: this.#https,
      maxRawHeaders: 2 * l.maxHeaderCount,
      maxInflight: l.maxInflight > 0 ? l.maxInflight : Number.MAX_SAFE_INTEGER,
      trustProxy: l.trustProxy !== null,
      expectContinue: false,
    };
    const continueCtx: ListenerContext = { ...ctx, expectContinue: true };
    const rec: Listener = { server, port, dynamic, draining: false };
    server.on('request', (req, res) => {
      if (rec.draining) res.shouldKeepAlive = false;
      handleRequest(holder, ctx, req, res);
    });
    // Expect: 100-continue: 100 goes out only once the request is routed and
    // within limits, so a 413/404 spares the client sending the body.
    server.on('checkContinue', (req, res) => {
      if (rec.draining) res.shouldKeepAlive = false;
      handleRequest(holder, continueCtx, req, res);
    });
    server.on('upgrade', (req, socket, head) => handleUpgrade(holder, port, proto, req, socket, head));
    // TLS handshake failures (old protocol versions, unknown SNI) only close that socket.
    server.on('tlsClientError', (_err: Error, socket: Duplex) => socket.destroy());
    const trust = l.trustProxy;
    if (trust !== null) {
      // Trust is a property of the peer: decided once per connection.
      server.on('connection', (socket: Socket & { [TRUSTED_PEER]?: boolean }) => {
        socket[TRUSTED_PEER] = trust.has(socket.remoteAddress);
      });
    }
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      // No answer on a dead socket, nor a second status line into a response
      // already under way (a request timeout while the upstream answers).
      const res = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
      if (!socket.writable || err.code === 'ECONNRESET' || res?.headersSent) return socket.destroy();
      const code: ErrorCode =
        err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : 'bad_request';
      socket.write(rawError(code));
      // Closed once written: a slowloris must not keep it half-open.
      (socket as Socket).destroySoon();
    });
    server.on('drop', () => {
      const now = Date.now();
      if (now - this.#lastDropLog < 10_000) return;
      this.#lastDropLog = now;
      this.#logger.warn({ port, maxConnections: l.maxConnections }, 'connection limit reached: new connections are closed');
    });
    this.#byPort.set(port, rec);
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
        void this.#closeServer(l, 30000);
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
    await Promise.all(all.map((l) => this.#closeServer(l, graceMs)));
  }

  /**
   * Stops accepting; idle keep-alive connections close now, busy ones after
   * the response in flight (answers to requests that arrive meanwhile say
   * `Connection: close`, so a client that keeps its connection busy cannot
   * hold the shutdown until graceMs); whatever runs after graceMs is cut.
   */
  async #closeServer(l: Listener, graceMs: number): Promise<void> {
    const server = l.server;
    l.draining = true;
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
