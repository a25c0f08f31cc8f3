import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Generation } from '../router/generation.js';
import { normalizePath, stripPrefix } from '../router/normalize-path.js';
import { Exchange } from './exchange.js';
import { buildRequestHeaders, type ForwardedMemo, type RequestFacts } from './headers.js';
import { inflight, TRUSTED_PEER, type ListenerContext } from './limits.js';
import { sendError } from './respond.js';
import { newRequestId } from './request-id.js';

/** Holds the live generation; swapping it is one assignment. */
export interface GenerationHolder {
  readonly generation: Generation;
}

/** 308 to the same URL on https (the host checked by buildRequestHeaders, so no header injection). */
function redirectToHttps(res: ServerResponse, host: string, port: number, url: string, requestId: string): void {
  const h = hostWithoutPort(host);
  const location = `https://${h}${port === 0 || port === 443 ? '' : `:${port}`}${url}`;
  res.writeHead(308, ['location', location, 'content-length', '0', 'x-request-id', requestId]);
  res.end();
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

const FORWARDED_MEMO = Symbol('switchyard.forwarded');

/** Sockets marked by Listeners when --trust-proxy names their peer, and their `forwarded` memo. */
interface MarkedSocket {
  [TRUSTED_PEER]?: boolean;
  [FORWARDED_MEMO]?: ForwardedMemo;
}

/**
 * The request phases up to the upstream exchange: read the generation once,
 * check the header count, copy headers (400 for a bad Host or
 * Transfer-Encoding), normalise the path, route, check the body size by
 * Content-Length and the in-flight limit. Everything after is Exchange.
 */
export function handleRequest(holder: GenerationHolder, ctx: ListenerContext, req: IncomingMessage, res: ServerResponse): void {
  const start = performance.now();
  const gen = holder.generation;
  const raw = req.rawHeaders;
  if (raw.length > ctx.maxRawHeaders) {
    sendError(res, 'headers_too_large', newRequestId());
    return;
  }
  const facts: RequestFacts = { requestId: '', hasBody: false, host: '', contentLength: '' };
  const socket = req.socket as typeof req.socket & MarkedSocket;
  const trusted = ctx.trustProxy && socket[TRUSTED_PEER] === true;
  const memo = (socket[FORWARDED_MEMO] ??= { host: '', proto: '', value: '' });
  const headers = buildRequestHeaders(raw, socket.remoteAddress ?? '', ctx.proto, facts, trusted, memo);
  // HTTP/1.1 needs a Host (RFC 9112 §3.2); Node's own check is off so the
  // answer is the JSON error like every other.
  if (headers === null || (facts.host === '' && req.httpVersionMinor !== 0) || req.httpVersionMajor !== 1) {
    sendError(res, 'bad_request', facts.requestId);
    return;
  }

  const url = req.url!;
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const path = normalizePath(rawPath);
  if (path === null) {
    sendError(res, 'bad_request', facts.requestId);
    return;
  }
  // The table strips the port and lower-cases the host itself (without allocating in the common case).
  const route = gen.table.match(ctx.port, facts.host || undefined, req.method!, path);
  if (route === null) {
    sendError(res, 'no_route', facts.requestId);
    return;
  }
  if (route.redirectHttps && ctx.proto === 'http') {
    redirectToHttps(res, facts.host, ctx.https.port, url, facts.requestId);
    return;
  }
  // A declared length over the limit never reaches the upstream; a chunked
  // body is counted as it streams (Exchange.limitBody).
  const maxBody = route.maxBodyBytes;
  if (maxBody > 0 && facts.hasBody && facts.contentLength !== '' && Number(facts.contentLength) > maxBody) {
    sendError(res, 'payload_too_large', facts.requestId);
    return;
  }
  if (inflight.count >= ctx.maxInflight) {
    sendError(res, 'overloaded', facts.requestId);
    return;
  }
  // A clean path (normalizePath returned it as is) with no prefix to strip is forwarded as the client sent it: no new string.
  const upstreamPath =
    route.stripPrefix === null && path === rawPath ? url : (route.stripPrefix === null ? path : stripPrefix(path, route.stripPrefix)) + (q < 0 ? '' : url.slice(q));
  const ex = new Exchange(req, res, route, headers, upstreamPath, facts.hasBody, facts.requestId, start);
  if (facts.traceparent) {
    ex.traceparent = facts.traceparent;
    ex.spanId = facts.spanId!;
  }
  if (maxBody > 0 && facts.hasBody && facts.contentLength === '') ex.limitBody(maxBody);
  // Expect: 100-continue (the 'checkContinue' listener): the body is wanted now.
  if (ctx.expectContinue) res.writeContinue();
  ex.start();
}
