import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { normalizePath, stripPrefix } from '../router/normalize-path.js';
import type { CompiledPool } from '../upstreams/pool.js';
import type { Target } from '../upstreams/target.js';
import { ERROR_CATALOG, classifyUpstreamError, errorBody, type ErrorCode } from './error-catalog.js';
import { buildRequestHeaders, type RequestFacts } from './headers.js';
import { TRUSTED_PEER } from './limits.js';
import type { GenerationHolder } from './request-handler.js';

function rawReply(socket: Duplex, code: ErrorCode, requestId: string): void {
  const body = errorBody(code, requestId);
  const { status } = ERROR_CATALOG[code];
  socket.end(`HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

function headerBlock(statusCode: number, statusText: string, raw: Buffer[] | string[] | null): string {
  let s = `HTTP/1.1 ${statusCode} ${statusText}\r\n`;
  if (raw) for (let i = 0; i < raw.length; i += 2) s += `${raw[i]!.toString()}: ${raw[i + 1]!.toString()}\r\n`;
  return s + '\r\n';
}

/**
 * Proxies an HTTP upgrade (WebSocket): route like any request, ask the target
 * for the same upgrade, relay its answer, then splice the two sockets.
 */
export function handleUpgrade(holder: GenerationHolder, port: number, proto: string, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const gen = holder.generation;
  const facts: RequestFacts = { requestId: '', hasBody: false, host: '' };
  const trusted = (req.socket as { [TRUSTED_PEER]?: boolean })[TRUSTED_PEER] === true;
  const headers = buildRequestHeaders(req.rawHeaders, req.socket.remoteAddress ?? '', proto, facts, trusted);
  if (headers === null || (facts.host === '' && req.httpVersionMinor !== 0)) return rawReply(socket, 'bad_request', facts.requestId);
  const url = req.url!;
  const q = url.indexOf('?');
  const path = normalizePath(q < 0 ? url : url.slice(0, q));
  if (path === null) return rawReply(socket, 'bad_request', facts.requestId);
  const route = gen.table.match(port, facts.host || undefined, req.method!, path);
  if (!route) return rawReply(socket, 'no_route', facts.requestId);
  const slot: { pool: CompiledPool | null } = { pool: null };
  const target: Target | null = route.upstream ? route.upstream.pick(slot) : null;
  if (!target) return rawReply(socket, 'no_healthy_target', facts.requestId);
  const upstreamPath = (route.stripPrefix === null ? path : stripPrefix(path, route.stripPrefix)) + (q < 0 ? '' : url.slice(q));
  let upstreamSocket: Duplex | null = null;
  let abort: ((e?: Error) => void) | null = null;
  let finished = false;
  const done = () => {
    if (finished) return;
    finished = true;
    target.inflight--;
    if (slot.pool) slot.pool.runtime.inflight--;
    route.series.record(slot.pool?.name ?? '', 101, 0);
  };
  socket.once('close', () => {
    upstreamSocket?.destroy();
    abort?.();
  });
  target.inflight++;
  slot.pool!.runtime.inflight++;
  const upgradeName = (req.headers.upgrade ?? 'websocket').toString();
  const handler: Dispatcher.DispatchHandler = {
    onConnect(a) {
      abort = a;
    },
    onUpgrade(statusCode, rawHeaders, up) {
      upstreamSocket = up;
      socket.write(headerBlock(statusCode, 'Switching Protocols', rawHeaders));
      if (head.length) up.write(head);
      up.on('error', () => socket.destroy());
      up.on('close', () => {
        socket.destroy();
        done();
      });
      up.pipe(socket);
      socket.pipe(up);
    },
    onHeaders(statusCode, rawHeaders, _resume, statusText) {
      // The upstream refused the upgrade: relay its plain answer.
      socket.write(headerBlock(statusCode, statusText, rawHeaders));
      return true;
    },
    onData(chunk) {
      return socket.write(chunk);
    },
    onComplete() {
      socket.end();
      done();
    },
    onError(err) {
      if (!upstreamSocket && socket.writable) rawReply(socket, classifyUpstreamError(err), facts.requestId);
      else socket.destroy();
      done();
    },
  };
  target.dispatcher.dispatch({ path: upstreamPath, method: req.method as Dispatcher.HttpMethod, headers, upgrade: upgradeName, body: null }, handler);
}
