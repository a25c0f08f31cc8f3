import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Generation } from '../router/generation.js';
import { normalizePath, stripPrefix } from '../router/normalize-path.js';
import { Exchange } from './exchange.js';
import { buildRequestHeaders, type RequestFacts } from './headers.js';
import { sendError } from './respond.js';

/** Holds the live generation; swapping it is one assignment. */
export interface GenerationHolder {
  readonly generation: Generation;
}

/** The host part of a Host header value, without the port (IPv6 aware). */
export function hostWithoutPort(host: string): string {
  if (host.charCodeAt(0) === 91 /* [ */) {
    const end = host.indexOf(']');
    return end < 0 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

/**
 * The request phases up to the upstream exchange: read the generation once,
 * copy headers, normalise the path, route. Everything after is Exchange.
 */
export function handleRequest(holder: GenerationHolder, port: number, proto: string, req: IncomingMessage, res: ServerResponse): void {
  const start = performance.now();
  const gen = holder.generation;
  const facts: RequestFacts = { requestId: '', hasBody: false, host: '' };
  const headers = buildRequestHeaders(req.rawHeaders, req.socket.remoteAddress ?? '', proto, facts);

  const url = req.url!;
  const q = url.indexOf('?');
  const path = normalizePath(q < 0 ? url : url.slice(0, q));
  if (path === null) {
    sendError(res, 'bad_request', facts.requestId);
    return;
  }
  const route = gen.table.match(port, facts.host ? hostWithoutPort(facts.host) : undefined, req.method!, path);
  if (route === null) {
    sendError(res, 'no_route', facts.requestId);
    return;
  }
  const upstreamPath = (route.stripPrefix === null ? path : stripPrefix(path, route.stripPrefix)) + (q < 0 ? '' : url.slice(q));
  new Exchange(req, res, route, headers, upstreamPath, facts.hasBody, facts.requestId, start).start();
}
