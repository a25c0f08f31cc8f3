import { randomBytes, randomUUID } from 'node:crypto';

/** RFC 9110 §7.6.1 hop-by-hop fields, plus the de-facto ones. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

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
}

/** A child span of an incoming W3C traceparent (same trace, new parent id). */
function childTraceparent(tp: string): string {
  // version-traceid-parentid-flags: 2-32-16-2 hex chars.
  if (tp.length !== 55 || tp[2] !== '-' || tp[35] !== '-' || tp[52] !== '-') return tp;
  return tp.slice(0, 36) + randomBytes(8).toString('hex') + tp.slice(52);
}

/**
 * Copies the client's headers for the upstream in one pass over rawHeaders:
 * drops hop-by-hop fields (and those named in Connection), keeps or generates
 * x-request-id, appends to x-forwarded-for and forwarded, sets
 * x-forwarded-proto/host, and passes traceparent on as a child span.
 * Returns a flat [name, value, ...] list as undici accepts it.
 */
export function buildRequestHeaders(raw: string[], clientIp: string, proto: string, facts: RequestFacts): string[] {
  const out: string[] = [];
  let xff = '';
  let fwd = '';
  let requestId = '';
  let traceparent = '';
  let host = '';
  let hasBody = false;
  let extraHop: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') extraHop = connectionTokens(value);
      else if (name === 'transfer-encoding') hasBody = true;
      else if (name === 'te' && value.trim().toLowerCase() === 'trailers') out.push('te', 'trailers');
      continue;
    }
    if (REPLACED.has(name)) {
      if (name === 'x-forwarded-for') xff = xff ? `${xff}, ${value}` : value;
      else if (name === 'forwarded') fwd = fwd ? `${fwd}, ${value}` : value;
      else if (name === 'x-request-id') requestId = value;
      else if (name === 'traceparent') traceparent = value;
      continue;
    }
    if (name === 'host') host = value;
    else if (name === 'content-length' && value !== '0') hasBody = true;
    out.push(name, value);
  }
  if (extraHop) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (extraHop.has(out[i]!)) out.splice(i, 2);
  }
  if (!requestId) requestId = randomUUID();
  out.push('x-request-id', requestId);
  out.push('x-forwarded-for', xff ? `${xff}, ${clientIp}` : clientIp);
  out.push('x-forwarded-proto', proto);
  if (host) out.push('x-forwarded-host', host);
  const forNode = clientIp.includes(':') ? `"[${clientIp}]"` : clientIp;
  const hostPart = host ? `;host="${host.replace(/["\\]/g, '')}"` : '';
  const mine = `for=${forNode}${hostPart};proto=${proto}`;
  out.push('forwarded', fwd ? `${fwd}, ${mine}` : mine);
  if (traceparent) out.push('traceparent', childTraceparent(traceparent));
  facts.requestId = requestId;
  facts.hasBody = hasBody;
  facts.host = host;
  return out;
}

/**
 * Converts undici's raw response headers for the client response, dropping
 * hop-by-hop fields. Returns a flat [name, value, ...] list for writeHead.
 */
export function buildResponseHeaders(raw: Buffer[]): string[] {
  const out: string[] = [];
  let extraHop: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lname = name.toLowerCase();
    if (HOP_BY_HOP.has(lname)) {
      if (lname === 'connection') extraHop = connectionTokens(raw[i + 1]!.toString('latin1'));
      continue;
    }
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (extraHop) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (extraHop.has(out[i]!.toLowerCase())) out.splice(i, 2);
  }
  return out;
}
