import { randomBytes } from 'node:crypto';
import { newRequestId } from './request-id.js';

/**
 * Whether a lower-case header name is hop-by-hop: the RFC 9110 §7.6.1 fields
 * (connection, keep-alive, proxy-connection, proxy-authenticate,
 * proxy-authorization, te, trailer, transfer-encoding, upgrade) and `expect`,
 * which the gateway answers itself (and undici refuses). Decided by length
 * first: the common end-to-end names (host, date, server, content-type,
 * content-length, ...) never reach a string hash or compare.
 */
function isHopByHop(lname: string): boolean {
  switch (lname.length) {
    case 2:
      return lname === 'te';
    case 6:
      return lname === 'expect';
    case 7:
      return lname === 'trailer' || lname === 'upgrade';
    case 10:
      return lname === 'connection' || lname === 'keep-alive';
    case 16:
      return lname === 'proxy-connection';
    case 17:
      return lname === 'transfer-encoding';
    case 18:
      return lname === 'proxy-authenticate';
    case 19:
      return lname === 'proxy-authorization';
    default:
      return false;
  }
}

/** Headers the gateway writes itself towards the upstream. */
const REPLACED = new Set(['x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'traceparent', 'x-forwarded-for', 'forwarded']);

/** Extra hop-by-hop names listed in a Connection header value. */
function connectionTokens(value: string): Set<string> | null {
  // The common values name no extra header: skip the split.
  if (value.length <= 10) {
    const v = value.toLowerCase();
    if (v === 'keep-alive' || v === 'close' || v === 'upgrade') return null;
  }
  let set: Set<string> | null = null;
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t && t !== 'close' && t !== 'keep-alive' && t !== 'upgrade') (set ??= new Set()).add(t);
  }
  return set;
}

/** What buildRequestHeaders learned about the request while copying it. */
export interface RequestFacts {
  requestId: string;
  /** The request carries a body (content-length > 0 or transfer-encoding). */
  hasBody: boolean;
  /** Host header value (with port), '' if absent. */
  host: string;
  /** Content-Length header value, '' if absent (llhttp checked it is digits). */
  contentLength?: string;
  /** The incoming W3C traceparent ('' if none) and the span id of the child passed upstream. */
  traceparent?: string;
  spanId?: string;
}

/**
 * This hop's `forwarded` element for one client connection, kept on the
 * socket: keep-alive clients send the same Host on every request, so the
 * string is built (and flattened by undici's check) once per connection.
 */
export interface ForwardedMemo {
  host: string;
  proto: string;
  value: string;
}

/** RFC 3986 reg-name characters (unreserved, sub-delims, '%') by char code. */
const REG_NAME = new Uint8Array(128);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=%") REG_NAME[ch.charCodeAt(0)] = 1;

/**
 * A Host header value: a host name (RFC 3986 reg-name, not empty) or an
 * IP literal in brackets, then optionally ':' and 1-5 digits. No spaces,
 * '@', '/', quotes or anything else that could smuggle a second meaning.
 */
export function isValidHost(h: string): boolean {
  const n = h.length;
  let i = 0;
  if (n === 0) return false;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']');
    if (end < 3) return false;
    for (let j = 1; j < end; j++) {
      const c = h.charCodeAt(j);
      // hex digits, ':' and '.' (IPv4-mapped tails)
      if (!((c >= 48 && c <= 58) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 46)) return false;
    }
    i = end + 1;
  } else {
    for (; i < n; i++) {
      const c = h.charCodeAt(i);
      if (c === 58 /* : */) break;
      if (c >= 128 || REG_NAME[c] !== 1) return false;
    }
    if (i === 0) return false;
  }
  if (i === n) return true;
  if (h.charCodeAt(i) !== 58 || n - i - 1 < 1 || n - i - 1 > 5) return false;
  for (let j = i + 1; j < n; j++) {
    const c = h.charCodeAt(j);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * A client's x-request-id is echoed in error bodies and response headers:
 * kept only when it is 1-200 printable ASCII characters without spaces.
 */
export function isValidRequestId(id: string): boolean {
  const n = id.length;
  if (n === 0 || n > 200) return false;
  for (let i = 0; i < n; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** A child span of an incoming W3C traceparent (same trace, new parent id). */
function childTraceparent(tp: string): string {
  // version-traceid-parentid-flags: 2-32-16-2 hex chars.
  if (tp.length !== 55 || tp[2] !== '-' || tp[35] !== '-' || tp[52] !== '-') return tp;
  return tp.slice(0, 36) + randomBytes(8).toString('hex') + tp.slice(52);
}

/**
 * Copies the client's headers for the upstream in one pass over rawHeaders:
 * drops hop-by-hop fields (and those named in Connection), keeps (if valid)
 * or generates x-request-id, sets x-forwarded-for/proto/host and forwarded,
 * and passes traceparent on as a child span. The client's x-forwarded-* and
 * forwarded headers are kept (appended to) only when `trusted` (its peer
 * address is in --trust-proxy); otherwise they are dropped and start fresh.
 * Returns a flat [name, value, ...] list as undici accepts it, or null for a
 * request to refuse with 400 (a repeated, empty or malformed Host, or a
 * Transfer-Encoding other than `chunked`); facts.requestId is set either way.
 */
export function buildRequestHeaders(raw: string[], clientIp: string, proto: string, facts: RequestFacts, trusted = false, memo?: ForwardedMemo): string[] | null {
  const out: string[] = [];
  let xff = '';
  let fwd = '';
  let xfProto = '';
  let xfHost = '';
  let requestId = '';
  let hosts = 0;
  let contentLength = '';
  let bad = false;
  let traceparent = '';
  let host = '';
  let hasBody = false;
  let extraHop: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (isHopByHop(name)) {
      if (name === 'connection') extraHop = connectionTokens(value);
      else if (name === 'transfer-encoding') {
        hasBody = true;
        // llhttp made sure the last coding is chunked; any other coding could
        // not be passed on (the upstream would get coded bytes unannounced).
        if (value !== 'chunked' && value.toLowerCase() !== 'chunked') bad = true;
      }
      else if (name === 'te' && value.trim().toLowerCase() === 'trailers') out.push('te', 'trailers');
      continue;
    }
    if (REPLACED.has(name)) {
      if (name === 'x-request-id') requestId = value;
      else if (name === 'traceparent') traceparent = value;
      else if (trusted) {
        if (name === 'x-forwarded-for') xff = xff ? `${xff}, ${value}` : value;
        else if (name === 'forwarded') fwd = fwd ? `${fwd}, ${value}` : value;
        else if (name === 'x-forwarded-proto') xfProto = value;
        else xfHost = value; // x-forwarded-host
      }
      continue;
    }
    if (name === 'host') {
      host = value;
      hosts++;
    } else if (name === 'content-length') {
      contentLength = value;
      if (value !== '0') hasBody = true;
    }
    out.push(name, value);
  }
  if (hosts > 1 || (hosts === 1 && !isValidHost(host))) bad = true;
  if (requestId === '' || !isValidRequestId(requestId)) requestId = newRequestId();
  facts.requestId = requestId;
  if (bad) return null;
  if (extraHop) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (extraHop.has(out[i]!)) out.splice(i, 2);
  }
  out.push('x-request-id', requestId);
  out.push('x-forwarded-for', xff ? `${xff}, ${clientIp}` : clientIp);
  out.push('x-forwarded-proto', xfProto || proto);
  if (xfHost || host) out.push('x-forwarded-host', xfHost || host);
  let mine: string;
  if (memo !== undefined && memo.host === host && memo.proto === proto) mine = memo.value;
  else {
    mine = forwardedElement(clientIp, host, proto);
    if (memo !== undefined) (memo.host = host), (memo.proto = proto), (memo.value = mine);
  }
  out.push('forwarded', fwd ? `${fwd}, ${mine}` : mine);
  if (traceparent) {
    const child = childTraceparent(traceparent);
    out.push('traceparent', child);
    facts.traceparent = traceparent;
    facts.spanId = child.slice(36, 52);
  }
  facts.hasBody = hasBody;
  facts.host = host;
  facts.contentLength = contentLength;
  return out;
}

/** RFC 7239 element of this hop: `for=<client>;host="<Host>";proto=<proto>`. */
function forwardedElement(clientIp: string, host: string, proto: string): string {
  const forNode = clientIp.includes(':') ? `"[${clientIp}]"` : clientIp;
  // isValidHost admits no '"' or '\\': the host needs no escaping in a quoted string.
  const hostPart = host ? `;host="${host}"` : '';
  return `for=${forNode}${hostPart};proto=${proto}`;
}

/**
 * What the last buildResponseHeaders call saw besides the list: the
 * Content-Length value as a number, -1 if absent or not one plain number.
 * (A module slot instead of a result object: one call per response, read
 * right after it.)
 */
export const responseFacts = { contentLength: -1 };

/**
 * Converts undici's raw response headers for the client response, dropping
 * hop-by-hop fields. Returns a flat [name, value, ...] list for writeHead
 * and sets responseFacts. Names go out in lower case, as Envoy writes them
 * (HTTP/1.1 names are case-insensitive; HTTP/2 requires lower case), which
 * also spares Node's writeHead a lower-casing of its own per header.
 */
export function buildResponseHeaders(raw: Buffer[]): string[] {
  const out: string[] = [];
  let extraHop: Set<string> | null = null;
  let length = -1;
  let lengths = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const lname = raw[i]!.toString('latin1').toLowerCase();
    if (isHopByHop(lname)) {
      if (lname === 'connection') extraHop = connectionTokens(raw[i + 1]!.toString('latin1'));
      continue;
    }
    const value = raw[i + 1]!.toString('latin1');
    if (lname === 'content-length') {
      lengths++;
      length = /^\d{1,15}$/.test(value) ? Number(value) : -1;
    }
    out.push(lname, value);
  }
  responseFacts.contentLength = lengths === 1 ? length : -1;
  if (extraHop) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (extraHop.has(out[i]!)) out.splice(i, 2);
  }
  return out;
}
